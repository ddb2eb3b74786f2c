"""Importing responses from another tool's CSV: all or nothing, every problem reported."""

import csv
import hashlib
import io
import zipfile

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.service import ServiceError
from surveys import importing
from core.models import Sector
from surveys.models import Answer, Response, ResponseImport, TrustRating
from surveys.question_types import AGREEMENT_5, DONT_KNOW
from tests.conftest import COSTLY_EXAMPLES, count

HEADER = "Respondent sector,Organisation,cs_1,I know who to contact in other organisations to get something moving quickly.,pp\n"


@pytest.fixture
def wave(make_survey):
    return make_survey(open_first_wave=True).waves[0]


def start(db_session, wave, user, text: str):
    return importing.start_import(db_session, wave, user, "other-tool.csv", text.encode())


def test_columns_named_like_questions_are_matched(db_session, wave, make_user):
    record = start(db_session, wave, make_user(), HEADER + "Funder,,4,Agree,x\n")
    assert record.columns == {"Organisation": "organisation", "cs_1": "cs_1", "I know who to contact in other organisations to get something moving quickly.": "cs_2"}


def test_full_import_with_text_labels(db_session, wave, make_user):
    record = start(db_session, wave, make_user(), HEADER + "Funder,,4,Agree,x\nfaith,,5,strongly agree,y\nMystery,,2,Sort of,z\n")
    cs_2 = "I know who to contact in other organisations to get something moving quickly."
    importing.save_columns(db_session, record, {"Respondent sector": "sector", "cs_1": "cs_1", cs_2: "cs_2"})
    sets = {s.columns[0][0]: s for s in importing.answer_sets(db_session, record, wave.survey.places)}
    assert sets[cs_2].texts == ["Agree", "Sort of", "strongly agree"]
    assert sets[cs_2].suggested == {"Agree": 4, "Sort of": None, "strongly agree": 5}
    assert sets["Respondent sector"].suggested["faith"] is not None

    # Suggestions are not used until confirmed: every row with words is blocked so far.
    preview = importing.preview(db_session, record, wave.survey.places)
    assert [line for line, _ in preview.errors] == [2, 3, 4]
    assert "Sector ‘Mystery’ is not known" in preview.errors[2][1]
    assert "‘Sort of’ is not one of the choices" in preview.errors[2][1]
    before = count(db_session, Response)
    with pytest.raises(ServiceError, match="nothing was imported"):
        importing.commit_import(db_session, record, wave.survey.places, actor=None)
    assert count(db_session, Response) == before

    sector_map = dict(sets["Respondent sector"].suggested) | {"Mystery": 11}
    importing.save_values(db_session, record, {"Respondent sector": sector_map, cs_2: {"Agree": 4, "Sort of": 3, "strongly agree": 5}})
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == 3
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == 3  # a replayed import writes nothing more
    assert count(db_session, Response) == before + 3
    imported = db_session.query(Response).filter(Response.channel == "import").all()
    assert len(imported) == 3
    values = sorted(a.numeric_value for r in imported for a in r.answers if a.item_code == "cs_2")
    assert values == [3.0, 4.0, 5.0]


def test_values_outside_the_scale_are_refused(db_session, wave, make_user):
    record = start(db_session, wave, make_user(), "sector,cs_1,pp_meetings\nFunder,6,1\nFunder,2.5,\nFunder,,\n")
    importing.save_columns(db_session, record, {"sector": "sector", "cs_1": "cs_1"})
    errors = importing.preview(db_session, record, wave.survey.places).errors
    assert errors == [(2, "Cs_1: ‘6’: select one of the options shown"), (3, "Cs_1: ‘2.5’ is not one of the choices")]


def test_column_matching_rules(db_session, wave, make_user):
    record = start(db_session, wave, make_user(), "a,b\n1,2\n")
    with pytest.raises(ServiceError, match="Sector"):
        importing.save_columns(db_session, record, {"a": "cs_1"})
    with pytest.raises(ServiceError, match="Only one column"):
        importing.save_columns(db_session, record, {"a": "cs_1", "b": "cs_1"})
    with pytest.raises(ServiceError, match="questions listed"):
        importing.save_columns(db_session, record, {"a": "sector", "b": "trust_matrix"})
    with pytest.raises(ServiceError, match="at least one column to a question"):
        importing.save_columns(db_session, record, {"a": "sector"})


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty"),
        (b"only,a,header\n", "The file needs a header row and at least one response"),
        (b"a,a\n1,2\n", "no two the same"),
        (b"a,b\n1,2,3\n", "Row 2 has more cells"),
        (b"\xff\xfe\x00a", "UTF-8"),
        (b"a,b\n" + b"x" * 6000 + b",1\n", "longer than 5000"),
    ],
)
def test_unreadable_files_get_a_clear_message(db_session, wave, make_user, data, message):
    with pytest.raises(ServiceError, match=message):
        importing.start_import(db_session, wave, make_user(), "f.csv", data)


def test_draft_waves_take_no_imports(db_session, make_survey, make_user):
    with pytest.raises(ServiceError, match="Open the wave"):
        importing.start_import(db_session, make_survey().waves[0], make_user(), "f.csv", b"sector\nFunder\n")


CELLS = st.one_of(
    st.sampled_from(["1", "2", "3", "4", "5", "0", "6", "", "3.0", "2.5", "Agree", "Funder", "Faith", "x", "=1+1"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8),
)


@pytest.fixture
def importer(make_user):
    return make_user()


@COSTLY_EXAMPLES
@given(rows=st.lists(st.tuples(CELLS, CELLS, CELLS), min_size=1, max_size=6))
def test_any_file_imports_fully_or_writes_nothing(db_session, wave, importer, rows):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["sector", "cs_1", "tr_4"], *rows])
    responses, answers = count(db_session, Response), count(db_session, Answer)
    try:
        record = importing.start_import(db_session, wave, importer, "f.csv", buffer.getvalue().encode())
        importing.save_columns(db_session, record, {"sector": "sector", "cs_1": "cs_1", "tr_4": "tr_4"})
    except ServiceError as error:
        assert error.message  # refused with a reason, before anything was stored
        assert count(db_session, Response) == responses
        return
    preview = importing.preview(db_session, record, wave.survey.places)
    if preview.ok and preview.rows:
        assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == len(preview.rows)
        assert count(db_session, Response) == responses + len(preview.rows)
    elif preview.ok:  # every row came in with an earlier example: nothing is imported twice
        assert preview.already
        with pytest.raises(ServiceError, match="already in"):
            importing.commit_import(db_session, record, wave.survey.places, actor=None)
        assert count(db_session, Response) == responses
    else:
        assert all(message for _, message in preview.errors)
        with pytest.raises(ServiceError):
            importing.commit_import(db_session, record, wave.survey.places, actor=None)
        assert (count(db_session, Response), count(db_session, Answer)) == (responses, answers)


# --- matching answers: once per set of choices, suggested, confirmed, remembered -----------


def confirm_suggestions(db_session, record, places) -> None:
    """What pressing Continue on the answers page does with every suggestion left as shown."""
    values = {}
    for answer_set in importing.answer_sets(db_session, record, places):
        chosen = {text: value for text, value in answer_set.suggested.items() if value is not None}
        values |= {column: dict(chosen) for column, _ in answer_set.columns}
    importing.save_values(db_session, record, values)


def stored(db_session, wave) -> list[tuple]:
    rows = db_session.query(Answer.item_code, Answer.numeric_value, Answer.text_value).join(Response).filter(
        Response.wave_id == wave.id).all()
    return sorted(rows, key=repr)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("strongly_agree", 5), ("Strongly Agree", 5), ("STRONGLY-AGREE!", 5), (" neither agree nor disagree ", 3),
        ("5 - Strongly agree", 5), ("Agree (4)", 4), ("4 - Strongly agree", None), ("N/A", importing.NO_ANSWER),
        ("Prefer not to say", importing.NO_ANSWER), ("-", importing.NO_ANSWER), ("Don't know", DONT_KNOW),
        ("dont_know", DONT_KNOW), ("Sort of", None),
    ],
)
def test_answers_are_suggested_from_their_labels_and_codes(text, expected):
    choices = [(v, label) for v, label in enumerate(AGREEMENT_5, start=1)]
    choices += [(DONT_KNOW, "Don't know"), (importing.NO_ANSWER, "No answer")]
    assert importing.suggest_value(text, choices) == expected


def test_dont_know_is_no_answer_where_the_question_does_not_offer_it():
    choices = [(1, "Yes"), (2, "No"), (importing.NO_ANSWER, "No answer")]
    assert importing.suggest_value("Don't know", choices) == importing.NO_ANSWER
    assert importing.suggest_value("yes", choices) == 1


def test_agreement_questions_are_matched_once_and_na_means_no_answer(db_session, wave, make_user):
    record = start(db_session, wave, make_user(), "sector,cs_1,cs_2,tr_4,sf_1\n"
                   "Funder,N/A,strongly_agree,Don't know,Agree\n"
                   "Funder,Prefer not to say,Agree,,N/A\n"
                   "Faith,2,disagree,Strongly agree,5\n")
    sets = importing.answer_sets(db_session, record, wave.survey.places)
    answers = [s for s in sets if s.respondent_field is None]
    assert len(answers) == 1  # one matching for the four agreement columns, not one each
    [agreement] = answers
    assert [column for column, _ in agreement.columns] == ["cs_1", "cs_2", "tr_4", "sf_1"]
    assert agreement.texts == ["Agree", "disagree", "Don't know", "N/A", "Prefer not to say", "Strongly agree",
                               "strongly_agree"]
    assert agreement.suggested == {"Agree": 4, "disagree": 2, "Don't know": DONT_KNOW, "N/A": importing.NO_ANSWER,
                                   "Prefer not to say": importing.NO_ANSWER, "Strongly agree": 5, "strongly_agree": 5}
    # Not used before it is confirmed.
    assert [line for line, _ in importing.preview(db_session, record, wave.survey.places).errors] == [2, 3, 4]
    confirm_suggestions(db_session, record, wave.survey.places)
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == 3
    assert stored(db_session, wave) == sorted([
        ("cs_2", 5.0, None), ("tr_4", None, DONT_KNOW), ("sf_1", 4.0, None),
        ("cs_2", 4.0, None),
        ("cs_1", 2.0, None), ("cs_2", 2.0, None), ("tr_4", 5.0, None), ("sf_1", 5.0, None),
    ], key=repr)


def test_dont_know_maps_to_no_answer_where_the_wave_does_not_offer_it(db_session, wave, make_user):
    wave.offer_dont_know = False
    db_session.commit()
    record = start(db_session, wave, make_user(), "sector,cs_1\nFunder,Don't know\nFunder,3\n")
    [agreement] = [s for s in importing.answer_sets(db_session, record, wave.survey.places) if not s.respondent_field]
    assert DONT_KNOW not in agreement.allowed().values()
    assert agreement.suggested == {"Don't know": importing.NO_ANSWER}
    confirm_suggestions(db_session, record, wave.survey.places)
    importing.commit_import(db_session, record, wave.survey.places, actor=None)
    assert stored(db_session, wave) == [("cs_1", 3.0, None)]


def test_no_answer_in_number_and_multiple_choice_columns(db_session, make_survey, make_user):
    wave = make_survey(template="participation", open_first_wave=True).waves[0]
    record = start(db_session, wave, make_user(), "sector,pp_meetings,pp_forums,pp_role\n"
                   "Funder,N/A,N/A,We lead decisions\nFunder,\"1,200\",Consultations or surveys; n/a,N/A\n")
    sets = {s.columns[0][0]: s for s in importing.answer_sets(db_session, record, wave.survey.places)}
    assert sets["pp_meetings"].texts == ["N/A"]  # 1,200 is a number
    assert sets["pp_meetings"].suggested == {"N/A": importing.NO_ANSWER}
    assert sets["pp_forums"].suggested == {"Consultations or surveys": 4, "N/A": importing.NO_ANSWER,
                                           "n/a": importing.NO_ANSWER}
    confirm_suggestions(db_session, record, wave.survey.places)
    result = importing.preview(db_session, record, wave.survey.places)
    assert result.errors == [(3, "Pp_meetings: ‘1,200’: enter a number between 0 and 500")]
    assert [answers for _, _, answers in result.rows] == [
        {"pp_meetings": None, "pp_forums": None, "pp_role": 5}]


def test_the_matching_is_remembered_for_the_next_file(db_session, wave, make_user):
    user = make_user()
    record = start(db_session, wave, user, "Who,Q one,Response ID\nFunder,Sort of,a\n")
    assert record.columns == {"Response ID": importing.SOURCE_ID}
    importing.save_columns(db_session, record, {"Who": "sector", "Q one": "cs_1", "Response ID": ""})
    [agreement] = [s for s in importing.answer_sets(db_session, record, wave.survey.places) if not s.respondent_field]
    assert agreement.suggested == {"Sort of": None}
    importing.save_values(db_session, record, {"Q one": {"Sort of": 3}})
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == 1
    assert wave.survey.import_mapping == {
        "columns": {"Who": "sector", "Q one": "cs_1", "Response ID": ""}, "values": {"cs_1": {"Sort of": 3}}}

    # A corrected file: the same columns are suggested (the response id left out, as
    # last time), and the same meaning is preselected, still to be confirmed.
    again = start(db_session, wave, user, "Response ID,Who,Q one\nb,Faith,Sort of\n")
    assert again.columns == {"Who": "sector", "Q one": "cs_1"}
    [agreement] = [s for s in importing.answer_sets(db_session, again, wave.survey.places) if not s.respondent_field]
    assert agreement.suggested == {"Sort of": 3}
    assert importing.preview(db_session, again, wave.survey.places).errors != []


def test_kobo_group_headings_and_trust_columns_are_matched(db_session, wave, make_user, make_sector):
    other = make_sector("Health")
    record = start(db_session, wave, make_user(),
                   f"_uuid,meta/sector,intro/coordination/cs_1,trust_{other.id}_reliable,trust_{other.id}_intensity\n"
                   "u1,Funder,4,3,Completely\nu2,Faith,,Mostly,\n")
    assert record.columns == {"_uuid": importing.SOURCE_ID, "meta/sector": "sector",
                              "intro/coordination/cs_1": "cs_1", f"trust_{other.id}_reliable": f"trust_{other.id}_reliable",
                              f"trust_{other.id}_intensity": f"trust_{other.id}_intensity"}
    sets = [s for s in importing.answer_sets(db_session, record, wave.survey.places) if not s.respondent_field]
    # Reliability and closeness have different levels: two matchings.
    assert sorted(tuple(s.texts) for s in sets) == [("Completely",), ("Mostly",)]
    suggested = {text: value for s in sets for text, value in s.suggested.items()}
    assert suggested == {"Mostly": 3, "Completely": None}  # closeness has no "Completely"
    values = {f"trust_{other.id}_reliable": {"Mostly": 3}, f"trust_{other.id}_intensity": {"Completely": 4}}
    importing.save_values(db_session, record, values)
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == 2
    ratings = db_session.query(TrustRating.target_sector_id, TrustRating.dimension, TrustRating.value).order_by(
        TrustRating.id).all()
    assert ratings == [(other.id, "reliable", 3), (other.id, "intensity", 4), (other.id, "reliable", 3)]


def test_trust_values_outside_1_to_4_and_own_sector_are_refused(db_session, wave, make_user):
    record = start(db_session, wave, make_user(), "sector,cs_1,trust_1_open\nFunder,4,5\n")
    funder = db_session.query(Sector).filter(Sector.name == "Funder").one()
    importing.save_columns(db_session, record, {"sector": "sector", "cs_1": "cs_1", "trust_1_open": "trust_1_open"})
    errors = importing.preview(db_session, record, wave.survey.places).errors
    assert errors == [(2, "Trust_1_open: ‘5’ is not one of the choices (1 to 4)")]
    record = start(db_session, wave, make_user(), f"sector,cs_1,trust_{funder.id}_open\nFunder,4,2\n")
    errors = importing.preview(db_session, record, wave.survey.places).errors
    assert errors == [(2, f"Trust_{funder.id}_open: a respondent does not rate their own sector")]


WORDS = ["Agree", "strongly_agree", "N/A", "Don't know", "Sort of", "Prefer not to say", "mostly", "3", "5", ""]


@COSTLY_EXAMPLES
@given(rows=st.lists(st.tuples(st.sampled_from(["Funder", "Faith"]), st.sampled_from(WORDS), st.sampled_from(WORDS)),
                     min_size=1, max_size=6),
       data=st.data())
def test_a_remembered_matching_reused_stores_the_same_values(db_session, make_survey, importer, rows, data):
    wave = make_survey(open_first_wave=True).waves[0]
    places = wave.survey.places
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["sector", "Q1", "Q2"], *rows])
    record = importing.start_import(db_session, wave, importer, "first.csv", buffer.getvalue().encode())
    importing.save_columns(db_session, record, {"sector": "sector", "Q1": "cs_1", "Q2": "cs_2"})
    values = {}
    for answer_set in importing.answer_sets(db_session, record, places):
        if answer_set.respondent_field:
            continue
        allowed = list(answer_set.allowed().values())
        chosen = {text: data.draw(st.sampled_from(allowed), label=text) for text in answer_set.texts}
        values |= {column: dict(chosen) for column, _ in answer_set.columns}
    importing.save_values(db_session, record, values)
    assert importing.commit_import(db_session, record, places, actor=None) == len(rows)
    first = stored(db_session, wave)
    importing.undo_import(db_session, importing.imported_file(db_session, record.id), actor=None)

    # The corrected file: other bytes (the columns the other way round), the same rows.
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["Q2", "Q1", "sector"], *[row[::-1] for row in rows]])
    again = importing.start_import(db_session, wave, importer, "second.csv", buffer.getvalue().encode())
    assert again.columns == {"sector": "sector", "Q1": "cs_1", "Q2": "cs_2"}
    confirm_suggestions(db_session, again, places)  # every remembered meaning left as shown
    assert importing.commit_import(db_session, again, places, actor=None) == len(rows)
    assert stored(db_session, wave) == first


# --- Excel workbooks --------------------------------------------------------------------------


def workbook_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_excel_workbook_imports_like_a_csv(db_session, wave, make_user):
    data = workbook_bytes([["sector", "group/cs_1", "cs_2", None], ["Funder", 4, "Agree", None],
                           ["Faith", 5.0, None, None], [None, None, None, None]])
    record = importing.start_import(db_session, wave, make_user(), "kobo.xlsx", data)
    assert record.columns == {"sector": "sector", "group/cs_1": "cs_1", "cs_2": "cs_2"}
    parsed = importing.parse_stored(record.content)
    assert parsed.rows == [["Funder", "4", "Agree"], ["Faith", "5", ""]]
    confirm_suggestions(db_session, record, wave.survey.places)
    assert importing.commit_import(db_session, record, wave.survey.places, actor=None) == 2
    assert stored(db_session, wave) == sorted([("cs_1", 4.0, None), ("cs_2", 4.0, None), ("cs_1", 5.0, None)], key=repr)
    # The same workbook again is refused by the hash of its bytes.
    with pytest.raises(ServiceError, match="already imported"):
        importing.start_import(db_session, wave, make_user(), "again.xlsx", data)
    done = importing.imported_file(db_session, record.id)
    assert done.content_sha256 == hashlib.sha256(data).hexdigest()


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (zipped({"xl/workbook.xml": b"<workbook/>", "xl/vbaProject.bin": b"macro"}), "contains macros"),
        (zipped({"word/document.xml": b"<document/>"}), "not an Excel Workbook"),
        (zipped({"xl/workbook.xml": b"not xml"}), "could not be read as an Excel Workbook"),
        (b"PK\x03\x04 not really a zip", "could not be read as an Excel Workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "older Excel file"),
    ],
)
def test_odd_workbooks_are_refused_with_a_clear_message(db_session, wave, make_user, data, message):
    before = count(db_session, ResponseImport)
    with pytest.raises(ServiceError, match=message):
        importing.start_import(db_session, wave, make_user(), "f.xlsx", data)
    assert count(db_session, ResponseImport) == before


def test_a_workbook_with_too_many_columns_or_long_cells_is_refused(db_session, wave, make_user):
    with pytest.raises(ServiceError, match="at most 300 columns"):
        importing.parse_file(workbook_bytes([[f"c{n}" for n in range(301)], ["x"] * 301]))
    with pytest.raises(ServiceError, match="longer than 5000"):
        importing.parse_file(workbook_bytes([["sector", "cs_1"], ["Funder", "x" * 5001]]))
