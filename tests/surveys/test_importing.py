"""Importing responses from another tool's CSV: all or nothing, every problem reported."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.service import ServiceError
from surveys import importing
from surveys.models import Answer, Response
from tests.conftest import count

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
    questions = {q.column: q for q in importing.value_questions(db_session, record, wave.survey.places)}
    assert questions[cs_2].texts == ["Agree", "Sort of", "strongly agree"]
    assert questions[cs_2].suggested == {"Agree": 4, "Sort of": None, "strongly agree": 5}
    assert questions["Respondent sector"].suggested["faith"] is not None

    preview = importing.preview(db_session, record, wave.survey.places)
    assert [line for line, _ in preview.errors] == [4]
    assert "Sector ‘Mystery’ is not known" in preview.errors[0][1]
    assert "‘Sort of’ is not one of the choices" in preview.errors[0][1]
    before = count(db_session, Response)
    with pytest.raises(ServiceError, match="nothing was imported"):
        importing.commit_import(db_session, record, wave.survey.places, actor=None)
    assert count(db_session, Response) == before

    sector_map = dict(questions["Respondent sector"].suggested) | {"Mystery": 11}
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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(CELLS, CELLS, CELLS), min_size=1, max_size=6))
def test_any_file_imports_fully_or_writes_nothing(db_session, wave, importer, rows):
    import csv
    import io

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
