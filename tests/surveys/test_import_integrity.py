"""Importing cannot duplicate or lose data: a file imported once, rows recognised in a
later file, and a whole import undone together."""

import csv
import io
import zipfile

import openpyxl
import pytest
from alembic import command
from bs4 import BeautifulSoup
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import AuditAction, AuditEntry
from core.cli import alembic_config, upgrade_database
from core.db import make_engine, utcnow
from core.models import Place, Role, Sector
from core.service import ServiceError
from surveys import importing, service
from surveys.import_ledger import ImportedFile, ImportedRow
from surveys.models import AnonymityMode, Answer, Response, ResponseImport, TrustRating, Wave
from tests.conftest import COSTLY_EXAMPLES, count


@pytest.fixture
def wave(make_survey):
    return make_survey(open_first_wave=True).waves[0]


@pytest.fixture
def importer(make_user):
    return make_user()


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def import_file(db_session, wave, user, data: bytes, filename: str = "tool.csv") -> int:
    """Upload, keep the suggested columns, import; the number of responses imported."""
    record = importing.start_import(db_session, wave, user, filename, data)
    return importing.commit_import(db_session, record, wave.survey.places, actor=user)


def counts(db_session, wave) -> tuple[int, int, int]:
    ids = select(Response.id).where(Response.wave_id == wave.id)
    return (
        count(db_session, Response),
        len(db_session.scalars(select(Answer.id).where(Answer.response_id.in_(ids))).all()),
        len(db_session.scalars(select(TrustRating.id).where(TrustRating.response_id.in_(ids))).all()),
    )


def test_the_same_file_is_refused_with_a_clear_message(db_session, wave, importer):
    data = b"sector,cs_1\nFunder,4\nFaith,5\n"
    assert import_file(db_session, wave, importer, data) == 2
    with pytest.raises(ServiceError, match=r"^This file was already imported into Wave 1 on .* \(as tool.csv\)\. "
                                           r"Nothing was imported again\. To import a corrected copy, undo"):
        importing.start_import(db_session, wave, importer, "copy.csv", data)
    with pytest.raises(ServiceError, match="already imported"):  # the same text with a byte-order mark
        importing.start_import(db_session, wave, importer, "copy.csv", b"\xef\xbb\xbf" + data)


@pytest.mark.both_backends
def test_a_file_in_progress_twice_is_imported_once(db_session, wave, importer):
    data = b"sector,cs_1\nFunder,4\n"
    first = importing.start_import(db_session, wave, importer, "a.csv", data)
    second = importing.start_import(db_session, wave, importer, "b.csv", data)  # another tab
    assert importing.commit_import(db_session, first, wave.survey.places, actor=None) == 1
    with pytest.raises(ServiceError, match="already imported"):
        importing.commit_import(db_session, second, wave.survey.places, actor=None)
    assert count(db_session, Response) == 1


def test_rows_already_in_the_wave_are_left_out_by_their_answers(db_session, wave, importer):
    import_file(db_session, wave, importer, b"sector,cs_1,tr_4\nFunder,4,2\nFaith,5,\n")
    # Columns in another order, one row the same, one new.
    record = importing.start_import(db_session, wave, importer, "later.csv", b"tr_4,cs_1,sector\n,5,Faith\n3,3,Funder\n")
    preview = importing.preview(db_session, record, wave.survey.places)
    assert preview.already == [(2, "The same answers from the same sector and place are already in Wave 1")]
    assert [line for line, _, _ in preview.rows] == [3]
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == 1
    assert count(db_session, Response) == 3
    assert importing.imported_file(db_session, record.id).skipped == 1
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.detail.endswith("from later.csv; 1 row already there left out")


def test_identical_rows_in_one_file_are_separate_responses(db_session, wave, importer):
    assert import_file(db_session, wave, importer, b"sector,cs_1\nFunder,4\nFunder,4\n") == 2
    # A later file with three copies: two are those already imported, the third is new.
    assert import_file(db_session, wave, importer, b"sector,cs_1,pp\nFunder,4,\nFunder,4,\nFunder,4,\n") == 1
    assert count(db_session, Response) == 3


def test_rows_are_recognised_by_the_other_tools_response_id(db_session, wave, importer):
    record = importing.start_import(db_session, wave, importer, "kobo.csv", b"_uuid,sector,cs_1\nu-1,Funder,4\nu-2,Faith,5\n")
    assert record.columns["_uuid"] == importing.SOURCE_ID  # suggested from the heading
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == 2
    # The same responses exported again, one answer since corrected, and one new response:
    # only the new one comes in (an id already there is there, whatever its answers).
    record = importing.start_import(
        db_session, wave, importer, "kobo-2.csv", b"_uuid,sector,cs_1\nu-1,Funder,3\nu-2,Faith,5\nu-3,Funder,4\n"
    )
    preview = importing.preview(db_session, record, wave.survey.places)
    assert preview.already == [(2, "_uuid ‘u-1’ is already in Wave 1"), (3, "_uuid ‘u-2’ is already in Wave 1")]
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == 1
    keys = db_session.scalars(select(ImportedRow.source_key).where(ImportedRow.wave_id == wave.id)).all()
    assert len(set(keys)) == 3 and all(key.startswith("id:") and "u-" not in key for key in keys)


def test_response_ids_must_be_given_once_each(db_session, wave, importer):
    record = importing.start_import(db_session, wave, importer, "t.csv", b"Response ID,sector,cs_1\nR_1,Funder,4\nR_1,Faith,5\n,Faith,3\n")
    assert record.columns["Response ID"] == importing.SOURCE_ID
    assert importing.preview(db_session, record, wave.survey.places).errors == [
        (3, "Response ID ‘R_1’ is also on row 2"),
        (4, "Response ID is empty: every row needs its response ID"),
    ]


def test_a_file_of_rows_all_there_imports_nothing(db_session, wave, importer):
    import_file(db_session, wave, importer, b"sector,cs_1\nFunder,4\n")
    record = importing.start_import(db_session, wave, importer, "again.csv", b"sector,cs_1\r\nFunder,4\r\n")
    with pytest.raises(ServiceError, match="^Every row of this file is already in Wave 1: nothing was imported$"):
        importing.commit_import(db_session, record, wave.survey.places, actor=None)
    assert count(db_session, Response) == 1


def test_undo_removes_the_whole_import_and_logs_it(db_session, wave, importer, make_user):
    import_file(db_session, wave, importer, b"sector,cs_1\nFunder,2\n", "first.csv")
    before = counts(db_session, wave)
    record = importing.start_import(db_session, wave, importer, "second.csv", b"sector,cs_1,tr_4\nFunder,4,1\nFaith,5,2\n")
    importing.commit_import(db_session, record, wave.survey.places, actor=importer)
    assert counts(db_session, wave) == (before[0] + 2, before[1] + 4, 0)
    admin = make_user()
    done = importing.imported_file(db_session, record.id)
    assert importing.undo_import(db_session, done, actor=admin) == 2
    assert counts(db_session, wave) == before
    assert db_session.scalars(select(ImportedRow).where(ImportedRow.import_id == record.id)).all() == []
    assert done.undone_by_id == admin.id and done.undone
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.action, entry.user_id, entry.wave_id) == (AuditAction.IMPORT_UNDONE, admin.id, wave.id)
    assert entry.detail == "Import of second.csv into Wave 1 undone: fewer than 5 responses removed"
    assert entry.data == {"count": 2, "filename": "second.csv", "import_id": record.id}
    with pytest.raises(ServiceError, match="already undone"):
        importing.undo_import(db_session, done, actor=admin)
    # Undone, the same file can come in again.
    assert import_file(db_session, wave, importer, b"sector,cs_1,tr_4\nFunder,4,1\nFaith,5,2\n") == 2


def test_an_import_undone_after_closing_is_a_late_change(db_session, wave, importer):
    record = importing.start_import(db_session, wave, importer, "t.csv", b"sector,cs_1\n" + b"Funder,4\n" * 8)
    importing.commit_import(db_session, record, wave.survey.places, actor=None)
    service.close_wave(db_session, wave, actor=None)
    assert service.late_changes(db_session, [wave]).dates == {}
    done = importing.imported_file(db_session, record.id)
    importing.undo_import(db_session, done, actor=None)
    changes = service.late_changes(db_session, [wave])
    assert changes.dates == {"Wave 1": [done.undone_at]}
    # Eight went from Funder in this place: not fewer than k, so nothing is withheld for it.
    assert changes.withheld(5) == {"Wave 1": {}}
    funder = db_session.scalar(select(Sector.id).where(Sector.name == "Funder"))
    assert done.removed == [[wave.survey.places[0].id, funder, 8]]


def test_a_small_import_undone_after_closing_withholds_its_groups(db_session, wave, importer):
    import_file(db_session, wave, importer, b"sector,cs_1\n" + b"Faith,4\n" * 6 + b"Funder,3\n" * 2, "big.csv")
    record = importing.start_import(db_session, wave, importer, "small.csv", b"sector,cs_1\nFunder,5\n")
    importing.commit_import(db_session, record, wave.survey.places, actor=None)
    service.close_wave(db_session, wave, actor=None)
    importing.undo_import(db_session, importing.imported_file(db_session, record.id), actor=None)
    withheld = service.late_changes(db_session, [wave]).withheld(5)["Wave 1"]
    place = wave.survey.places[0].name
    assert (place, "Funder") in withheld and "changed by fewer than 5" in withheld[(place, "Funder")]
    assert (place, "Faith") not in withheld


# --- properties --------------------------------------------------------------------------

ROWS = st.lists(
    st.tuples(st.sampled_from(["Funder", "Faith", "Housing"]), st.sampled_from(["", "1", "2", "3", "4", "5"]),
              st.sampled_from(["", "1", "5"])),
    min_size=1, max_size=8,
)


@pytest.mark.both_backends
@COSTLY_EXAMPLES
@given(rows=ROWS, with_ids=st.booleans(), order=st.randoms(use_true_random=False))
def test_any_file_imported_twice_stores_its_rows_once(db_session, make_survey, importer, rows, with_ids, order):
    wave = make_survey(open_first_wave=True).waves[0]
    header = ["sector", "cs_1", "tr_4"]
    table = [list(row) for row in rows]
    if with_ids:
        header, table = ["Response ID", *header], [[f"r-{n}", *row] for n, row in enumerate(table)]
    data = csv_bytes([header, *table])
    assert import_file(db_session, wave, importer, data) == len(rows)
    with pytest.raises(ServiceError, match="already imported"):
        importing.start_import(db_session, wave, importer, "again.csv", data)
    # The same rows in another order and with the columns the other way round: other
    # bytes, so only the rows themselves can be recognised.
    order.shuffle(table)
    reordered = csv_bytes([header[::-1], *[row[::-1] for row in table]])
    if reordered != data:
        record = importing.start_import(db_session, wave, importer, "shuffled.csv", reordered)
        assert importing.preview(db_session, record, wave.survey.places).rows == []
        with pytest.raises(ServiceError, match="Every row of this file is already in"):
            importing.commit_import(db_session, record, wave.survey.places, actor=None)
    stored = db_session.scalars(select(Response.id).where(Response.wave_id == wave.id)).all()
    assert len(stored) == len(rows)


@COSTLY_EXAMPLES
@given(earlier=st.lists(ROWS, max_size=2), rows=ROWS, close_first=st.booleans())
def test_undo_restores_the_exact_previous_counts(db_session, make_survey, importer, earlier, rows, close_first):
    wave = make_survey(open_first_wave=True).waves[0]
    for number, other in enumerate(earlier):
        record = importing.start_import(db_session, wave, importer, f"earlier-{number}.csv",
                                        csv_bytes([["sector", "cs_1", "tr_4", f"batch {number}"], *other]))
        if importing.preview(db_session, record, wave.survey.places).rows:
            importing.commit_import(db_session, record, wave.survey.places, actor=None)
    before = (counts(db_session, wave), count(db_session, ImportedRow))
    # With ids of its own, so none of its rows is taken for one imported before.
    record = importing.start_import(db_session, wave, importer, "this.csv", csv_bytes(
        [["cs_1", "sector", "tr_4", "id"], *[[c, s, t, f"this-{n}"] for n, (s, c, t) in enumerate(rows)]]))
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == len(rows)
    assert counts(db_session, wave)[0] == before[0][0] + len(rows)
    if close_first:
        service.close_wave(db_session, wave, actor=None)
    importing.undo_import(db_session, importing.imported_file(db_session, record.id), actor=None)
    assert (counts(db_session, wave), count(db_session, ImportedRow)) == before
    assert db_session.scalar(select(ImportedFile.undone_at).where(ImportedFile.import_id == record.id)) is not None


# --- the pages ---------------------------------------------------------------------------


def page_text(response) -> str:
    return " ".join(BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text().split())


def upload(client, wave, data: bytes, filename: str = "tool.csv"):
    return client.post(f"/waves/{wave.id}/import", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


@pytest.fixture
def coordinator(make_user, make_place, login):
    user = make_user(Role.COORDINATOR, places=[make_place()])
    login(user)
    return user


def test_uploading_the_same_file_again_says_so(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    data = b"sector,cs_1\nFunder,4\n"
    preview_path = upload(client, wave, data).location.replace("/columns", "/preview")
    assert client.post(preview_path).status_code == 302
    again = upload(client, wave, data, "renamed.csv")
    assert again.status_code == 200
    message = BeautifulSoup(again.get_data(as_text=True), "html.parser").select_one(".govuk-error-summary__list a")
    assert message.get_text(strip=True).startswith("This file was already imported into Wave 1 on ")
    assert count(db_session, Response) == 1


def test_the_preview_lists_rows_already_in_the_wave(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    client.post(upload(client, wave, b"sector,cs_1\nFunder,4\n").location.replace("/columns", "/preview"))
    preview_path = upload(client, wave, b"sector,cs_1\nFunder,4\nFaith,2\n").location.replace("/columns", "/preview")
    text = page_text(client.get(preview_path))
    assert "1 row ready to import." in text
    assert "1 row is already in Wave 1 from an earlier import, so it will not be imported again" in text
    assert "Row 2: The same answers from the same sector and place are already in Wave 1" in text
    client.post(preview_path)
    assert count(db_session, Response) == 2


def test_undo_asks_first_then_removes_the_import(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    preview_path = upload(client, wave, b"sector,cs_1\nFunder,4\nFaith,5\n", "paper.csv").location.replace(
        "/columns", "/preview")
    client.post(preview_path)
    record = db_session.scalar(select(ImportedFile).where(ImportedFile.wave_id == wave.id)).record
    wave_page = client.get(f"/waves/{wave.id}")
    row = BeautifulSoup(wave_page.get_data(as_text=True), "html.parser").select_one("#imported-files tbody tr")
    assert "paper.csv" in row.get_text() and "Fewer than 5 responses" in row.get_text()
    undo_path = row.select_one("a")["href"]
    assert undo_path == f"/imported/{record.id}/undo"
    confirmation = client.get(undo_path)
    assert confirmation.status_code == 200 and count(db_session, Response) == 2  # a GET changes nothing
    text = page_text(confirmation)
    assert "Undo the import of paper.csv?" in text
    assert "This removes the fewer than 5 responses imported from paper.csv into Wave 1 on" in text
    response = client.post(undo_path)
    assert response.status_code == 302 and response.location.endswith(f"/waves/{wave.id}#imports")
    assert count(db_session, Response) == 0
    assert "Import of paper.csv undone: fewer than 5 responses removed from Wave 1." in page_text(
        client.get(response.location))
    assert "Import of paper.csv undone" in page_text(client.get(undo_path))  # and says so, not again
    replayed = client.post(undo_path)  # a second click: the page says it is done
    assert replayed.status_code == 200 and "Import of paper.csv undone" in page_text(replayed)


def test_after_closing_only_an_admin_may_undo(client, db_session, make_survey, make_user, coordinator, login):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    client.post(upload(client, wave, b"sector,cs_1\nFunder,4\n").location.replace("/columns", "/preview"))
    record = db_session.scalar(select(ImportedFile).where(ImportedFile.wave_id == wave.id)).record
    service.close_wave(db_session, wave, actor=None)
    assert client.get(f"/imported/{record.id}/undo").status_code == 403
    assert client.post(f"/imported/{record.id}/undo").status_code == 403
    listed = BeautifulSoup(client.get(f"/waves/{wave.id}").get_data(as_text=True), "html.parser")
    assert listed.select_one("#imported-files tbody tr") is not None and listed.select("#imported-files a") == []
    client.post("/sign-out")
    login(make_user(Role.ADMIN))
    text = page_text(client.get(f"/imported/{record.id}/undo"))
    assert "Wave 1 is closed. Its results will change, and the results pages will say that it changed after closing." in text
    client.post(f"/imported/{record.id}/undo")
    assert count(db_session, Response) == 0



def test_migration_0006_records_the_files_of_earlier_imports(tmp_path):
    """Imports made before the ledger existed: the same file is refused from then on."""
    engine = make_engine(f"sqlite:///{tmp_path / 'before.db'}")
    upgrade_database(engine)
    with Session(engine) as session:
        place = Place(name="Oldtown")
        session.add(place)
        session.commit()
        survey = service.create_survey(session, "Old", "Board", "", "coordination-and-trust", [place.id],
                                       AnonymityMode.ANONYMOUS)
        wave = survey.waves[0]
        service.open_wave(session, wave, actor=None)
        content = "sector,cs_1\nFunder,4\n"
        session.add(ResponseImport(wave_id=wave.id, filename="old.csv", content=content, columns={}, values={},
                                   imported_at=utcnow(), imported_count=1))
        session.commit()
        wave_id = wave.id
    command.downgrade(alembic_config(engine), "0005")
    upgrade_database(engine)
    with Session(engine) as session:
        [done] = session.scalars(select(ImportedFile)).all()
        assert (done.wave_id, done.content_sha256, done.undone_at, done.removed) == (
            wave_id, importing.content_sha256(content), None, [])
        with pytest.raises(ServiceError, match="already imported"):
            importing.start_import(session, session.get(Wave, wave_id), None, "again.csv", content.encode())
    engine.dispose()


def test_the_preview_shows_each_rows_sector_and_place(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    preview_path = upload(client, wave, b"sector,cs_1\nFunder,4\nFaith,5\n").location.replace("/columns", "/preview")
    page = BeautifulSoup(client.get(preview_path).get_data(as_text=True), "html.parser")
    headings = [th.get_text(strip=True) for th in page.select("table thead th")]
    assert headings[:3] == ["Row", "Sector", "Place"]
    rows = [[td.get_text(strip=True) for td in tr.select("td")] for tr in page.select("table tbody tr")]
    place = coordinator.places[0].name
    assert [row[:3] for row in rows] == [["2", "Funder", place], ["3", "Faith", place]]


# --- replacing an import by a corrected file ---------------------------------------------------


def test_replace_swaps_an_import_for_a_corrected_file_in_one_step(db_session, wave, importer):
    import_file(db_session, wave, importer, b"sector,cs_1\nFaith,1\n", "other.csv")
    first = importing.start_import(db_session, wave, importer, "paper.csv", b"sector,cs_1,tr_4\nFunder,4,1\nFaith,5,2\n")
    importing.commit_import(db_session, first, wave.survey.places, actor=importer)
    done = importing.imported_file(db_session, first.id)
    # The corrected file: one row the same (not taken as already there: it goes and comes
    # back), one corrected, one more.
    corrected = importing.start_import(db_session, wave, importer, "paper-fixed.csv",
                                       b"sector,cs_1,tr_4\nFunder,4,1\nFaith,3,2\nFaith,2,\n")
    preview = importing.preview(db_session, corrected, wave.survey.places, done)
    assert (len(preview.rows), preview.already) == (3, [])
    assert importing.replace_import(db_session, done, corrected, wave.survey.places, actor=importer) == (2, 3)
    answers = db_session.query(Answer.item_code, Answer.numeric_value).join(Response).filter(
        Response.wave_id == wave.id).all()
    assert sorted(answers) == sorted([("cs_1", 1.0), ("cs_1", 4.0), ("tr_4", 1.0), ("cs_1", 3.0), ("tr_4", 2.0),
                                      ("cs_1", 2.0)])
    assert done.undone and importing.imported_file(db_session, corrected.id).record.imported_count == 3
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.action, entry.user_id) == (AuditAction.IMPORT_REPLACED, importer.id)
    assert entry.detail == ("Import of paper.csv into Wave 1 replaced by paper-fixed.csv: fewer than 5 responses "
                            "removed, fewer than 5 responses imported")
    assert entry.data["removed"] == 2 and entry.data["count"] == 3 and entry.data["replaced_import_id"] == first.id
    with pytest.raises(ServiceError, match="already undone"):
        later = importing.start_import(db_session, wave, importer, "again.csv", b"sector,cs_1\nFunder,5\n")
        importing.replace_import(db_session, done, later, wave.survey.places, actor=importer)


def test_a_replacement_with_a_problem_changes_nothing(db_session, wave, importer):
    first = importing.start_import(db_session, wave, importer, "paper.csv", b"sector,cs_1\nFunder,4\nFaith,5\n")
    importing.commit_import(db_session, first, wave.survey.places, actor=importer)
    done = importing.imported_file(db_session, first.id)
    before = (counts(db_session, wave), count(db_session, ImportedRow), count(db_session, AuditEntry))
    corrected = importing.start_import(db_session, wave, importer, "bad.csv", b"sector,cs_1\nFunder,4\nFaith,9\n")
    with pytest.raises(ServiceError, match="1 row has a problem: nothing was imported"):
        importing.replace_import(db_session, done, corrected, wave.survey.places, actor=importer)
    db_session.expire_all()
    assert (counts(db_session, wave), count(db_session, ImportedRow), count(db_session, AuditEntry)) == before
    assert not importing.imported_file(db_session, first.id).undone


@COSTLY_EXAMPLES
@given(old=ROWS, new=ROWS)
def test_a_replaced_import_leaves_exactly_the_corrected_files_rows(db_session, make_survey, importer, old, new):
    wave = make_survey(open_first_wave=True).waves[0]
    record = importing.start_import(db_session, wave, importer, "old.csv", csv_bytes([["sector", "cs_1", "tr_4"], *old]))
    importing.commit_import(db_session, record, wave.survey.places, actor=None)
    corrected = importing.start_import(db_session, wave, importer, "new.csv",
                                       csv_bytes([["sector", "cs_1", "tr_4", "corrected"], *[[*r, "y"] for r in new]]))
    done = importing.imported_file(db_session, record.id)
    assert importing.replace_import(db_session, done, corrected, wave.survey.places, actor=None) == (len(old), len(new))
    assert len(db_session.scalars(select(Response.id).where(Response.wave_id == wave.id)).all()) == len(new)
    assert len(db_session.scalars(select(ImportedRow.id).where(ImportedRow.wave_id == wave.id)).all()) == len(new)


def test_replace_asks_first_then_swaps_the_files(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    client.post(upload(client, wave, b"sector,cs_1\nFunder,4\nFaith,5\n", "paper.csv").location.replace(
        "/columns", "/preview"))
    record = db_session.scalar(select(ImportedFile).where(ImportedFile.wave_id == wave.id)).record
    row = BeautifulSoup(client.get(f"/waves/{wave.id}").get_data(as_text=True), "html.parser").select_one(
        "#imported-files tbody tr")
    replace_path = f"/imported/{record.id}/replace"
    assert replace_path in [a["href"] for a in row.select("a")]
    text = page_text(client.get(replace_path))
    assert "Replace the import of paper.csv" in text and "If the corrected file has any problem, nothing changes" in text
    assert "Error: " not in page_text(client.get(replace_path)).split("Replace")[0]
    refused = client.post(replace_path, data={"file": (io.BytesIO(b"a,a\n1,2\n"), "bad.csv")},
                          content_type="multipart/form-data")
    assert refused.status_code == 200
    assert BeautifulSoup(refused.get_data(as_text=True), "html.parser").title.get_text().startswith("Error: ")
    response = client.post(replace_path, data={"file": (io.BytesIO(b"sector,cs_1\nFunder,3\nFaith,5\nFaith,1\n"),
                                                        "fixed.csv")}, content_type="multipart/form-data")
    assert response.status_code == 302 and "/columns" in response.location
    preview_path = response.location.replace("/columns", "/preview")
    confirmation = client.get(preview_path)
    text = page_text(confirmation)
    assert "Replace the import of paper.csv?" in text
    assert ("Confirming removes the fewer than 5 responses imported from paper.csv into Wave 1 on" in text
            and "and imports the 3 responses below from fixed.csv in their place, together" in text)
    assert count(db_session, Response) == 2  # a GET changes nothing
    done = client.post(preview_path)
    assert done.status_code == 302
    assert sorted(db_session.scalars(select(Answer.numeric_value)).all()) == [1.0, 3.0, 5.0]
    assert "Import of paper.csv replaced by fixed.csv: fewer than 5 responses removed, 3 responses imported" in (
        page_text(client.get(done.location)))
    # The wave's list of imports says which file replaced the old one, not just "Undone".
    rows = BeautifulSoup(client.get(f"/waves/{wave.id}").get_data(as_text=True), "html.parser").select(
        "#imported-files tbody tr")
    old_row = next(r for r in rows if "paper.csv" in r.select_one("td").get_text())
    assert "Replaced by fixed.csv on" in old_row.get_text() and "Undone" not in old_row.get_text()


def test_after_closing_only_an_admin_may_replace(client, db_session, make_survey, make_user, coordinator, login):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    client.post(upload(client, wave, b"sector,cs_1\nFunder,4\n").location.replace("/columns", "/preview"))
    record = db_session.scalar(select(ImportedFile).where(ImportedFile.wave_id == wave.id)).record
    service.close_wave(db_session, wave, actor=None)
    assert client.get(f"/imported/{record.id}/replace").status_code == 403
    assert client.post(f"/imported/{record.id}/replace").status_code == 403
    client.post("/sign-out")
    login(make_user(Role.ADMIN))
    assert "is closed. Its results will change" in page_text(client.get(f"/imported/{record.id}/replace"))
    response = client.post(f"/imported/{record.id}/replace", data={"file": (io.BytesIO(b"sector,cs_1\nFunder,2\n"),
                                                                             "fixed.csv")},
                           content_type="multipart/form-data")
    client.post(response.location.replace("/columns", "/preview"))
    assert db_session.scalars(select(Answer.numeric_value)).all() == [2.0]


def test_the_answers_page_matches_each_set_once_for_all_its_columns(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    columns_path = upload(client, wave, b"sector,cs_1,cs_2\nFunder,Agree,N/A\nFaith,Sort of,Agree\n").location
    values_path = columns_path.replace("/columns", "/values")
    page = BeautifulSoup(client.get(values_path).get_data(as_text=True), "html.parser")
    assert page.title.get_text().startswith("Check what the answers mean")
    assert page.select_one("main form[method=post][novalidate]") is not None
    selects = {page.select_one(f"label[for={s['id']}]").get_text(strip=True): s for s in page.select("main select")}
    assert sorted(selects) == ["‘Agree’ means", "‘Faith’ means", "‘Funder’ means", "‘N/A’ means", "‘Sort of’ means"]
    chosen = {label: (s.select_one("option[selected]") or {}).get("value", "") for label, s in selects.items()}
    assert chosen["‘Agree’ means"] == "4" and chosen["‘N/A’ means"] == importing.NO_ANSWER
    assert chosen["‘Sort of’ means"] == ""  # no guess: left for the user
    form = {s["name"]: chosen[label] for label, s in selects.items()} | {selects["‘Sort of’ means"]["name"]: "3"}
    assert client.post(values_path, data=form).status_code == 302
    record = db_session.get(ResponseImport, int(values_path.split("/")[2]))
    db_session.refresh(record)
    assert record.values["cs_1"] == record.values["cs_2"] == {"Agree": 4, "N/A": importing.NO_ANSWER, "Sort of": 3}
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == 2


def test_an_excel_upload_goes_to_the_matching_and_a_macro_workbook_is_refused(client, db_session, make_survey,
                                                                               coordinator):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    workbook = openpyxl.Workbook()
    workbook.active.append(["sector", "cs_1"])
    workbook.active.append(["Funder", 4])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(client, wave, buffer.getvalue(), "export.xlsx")
    assert response.status_code == 302 and response.location.endswith("/columns")
    assert "export.xlsx" in page_text(client.get(response.location))
    before = count(db_session, ResponseImport)
    macro = io.BytesIO()
    with zipfile.ZipFile(macro, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/vbaProject.bin", "macro")
    refused = upload(client, wave, macro.getvalue(), "export.xlsm")
    page = BeautifulSoup(refused.get_data(as_text=True), "html.parser")
    assert page.title.get_text().startswith("Error: ")
    assert "contains macros" in page.select_one(".govuk-error-summary").get_text()
    assert count(db_session, ResponseImport) == before
