"""Record-level exports: every column documented, SPSS measures, questionnaire order."""

import csv
import io

import openpyxl
import pandas as pd
import pyreadstat
import pytest

from core.models import Role
from surveys import exports, questions, respondent as journey, service
from surveys.models import AnonymityMode
from surveys.question_types import AGREEMENT_5, TRUST_DIMENSIONS, TRUST_LEVELS, labelled_choices
from tests.surveys.test_service import complete_answers

IDENTIFIERS = ["response_id", "wave", "sector", "place", "organisation"]
AGREEMENT_LABELS = "; ".join(f"{i} = {label}" for i, label in enumerate(AGREEMENT_5, start=1))
EXTRA = ["extra_role", "extra_forums_1", "extra_forums_2", "extra_count", "extra_note"]


@pytest.fixture
def wave(db_session, make_survey, make_organisation):
    """A coordination-and-trust wave with questions of every other type after the trust
    matrix, answered twice: the trust matrix rates sectors 1, 3 and 10 (in that order),
    then sector 2."""
    survey = make_survey(anonymity=AnonymityMode.PSEUDONYMOUS)
    wave = survey.waves[0]
    for code, text, kind, options in [
        ("extra_role", "How do you take part?", "single", labelled_choices(["We are told", "We decide"])),
        ("extra_forums", "Which forums?", "multi", labelled_choices(["Board", "Workshops"])),
        ("extra_count", "How many meetings?", "number", {"min": 0, "max": 50}),
        ("extra_note", "=1+1 anything else?", "text", {"max_length": 200}),
    ]:
        questions.save_item(db_session, wave, None, code, "Extra", text, "", kind, options, None, False, False)
    service.open_wave(db_session, wave, actor=None)
    place = survey.places[0]
    organisation = make_organisation("-Minus Trust", place=place)
    first = complete_answers(wave) | {
        "trust_matrix": {"10": {"reliable": 4, "intensity": 2}, "1": {"open": 1}, "3": {"shared_mission": 3}},
        "extra_forums": [2], "extra_note": "@note",
    }
    journey.submit_response(db_session, wave, service.Respondent(2, place.id, organisation.id, "key-1"), first, "x-1")
    second = complete_answers(wave, value=2) | {"trust_matrix": {"2": {"reliable": 1}}}
    journey.submit_response(db_session, wave, service.Respondent(1, place.id), second, "x-2")
    return wave


def expected_columns(wave) -> list[str]:
    likert = [item.code for item in wave.instrument.items if item.type == "likert"]
    trust = [f"trust_{sector}_{dimension}" for sector in (1, 2, 3, 10) for dimension in TRUST_DIMENSIONS]
    return IDENTIFIERS + likert + ["one_thing", "quote_ok"] + trust + EXTRA


def download(client, wave, kind: str, tmp_path, panel_keys: bool = False):
    body = client.get(f"/waves/{wave.id}/export?format={kind}" + ("&panel_keys=yes" if panel_keys else "")).data
    path = tmp_path / f"responses.{kind}"
    path.write_bytes(body)
    return path


@pytest.fixture
def admin(make_user, login):
    login(make_user(Role.ADMIN))


def test_columns_follow_the_questionnaire_in_every_format(client, admin, wave, tmp_path):
    expected = expected_columns(wave)
    assert expected.index("trust_2_reliable") < expected.index("trust_10_reliable")
    header = next(csv.reader(io.StringIO(download(client, wave, "csv", tmp_path).read_text("utf-8-sig"))))
    assert header == expected
    book = openpyxl.load_workbook(download(client, wave, "xlsx", tmp_path))
    assert [c.value for c in book["responses"][1]] == expected
    frame, meta = pyreadstat.read_sav(download(client, wave, "sav", tmp_path))
    assert meta.column_names == expected
    assert list(frame.columns) == expected
    assert frame["trust_10_reliable"].tolist()[0] == 4 and pd.isna(frame["trust_10_open"].tolist()[0])
    assert pd.isna(frame["trust_2_reliable"].tolist()[0]) and frame["trust_2_reliable"].tolist()[1] == 1
    assert frame["extra_forums_1"].tolist()[0] == 0 and frame["extra_forums_2"].tolist()[0] == 1


def test_the_codebook_sheet_documents_every_column(client, admin, wave, tmp_path):
    book = openpyxl.load_workbook(download(client, wave, "xlsx", tmp_path, panel_keys=True))
    header = [c.value for c in book["responses"][1]]
    rows = list(book["codebook"].values)
    codebook = pd.DataFrame(rows[1:], columns=rows[0]).set_index("item")
    assert list(codebook.index) == header and "panel_key" in header
    assert codebook["label"].notna().all() and (codebook["label"].str.strip() != "").all()
    assert codebook.loc["panel_key", "label"] == "Pseudonymous panel key"

    tr_1 = codebook.loc["tr_1"]
    assert tr_1["label"].startswith("I trust other organisations")
    assert tr_1["value_labels"] == AGREEMENT_LABELS
    assert (tr_1["type"], tr_1["measure"], tr_1["construct"], tr_1["min"], tr_1["max"]) == ("likert", "ordinal", "trust", 1, 5)
    reversed_items = codebook[(codebook["type"] == "likert") & (codebook["reverse"] == 1)]
    assert len(reversed_items) >= 11 and reversed_items["construct"].notna().all()

    trust = codebook.loc["trust_10_open"]
    assert trust["label"] == "Trust in Housing: They are open to talking things through"
    assert trust["value_labels"] == "1 = Not at all; 2 = A little; 3 = Mostly; 4 = Completely"
    assert (trust["type"], trust["measure"], trust["min"], trust["max"]) == ("trust_matrix", "ordinal", 1, 4)
    assert codebook.loc["trust_2_intensity", "value_labels"].startswith("1 = We know of each other; ")

    assert codebook.loc["extra_role", "value_labels"] == "1 = We are told; 2 = We decide"
    assert codebook.loc["extra_role", "measure"] == "nominal"
    assert codebook.loc["extra_forums_2", "label"] == "Which forums? (Workshops)"
    assert codebook.loc["extra_forums_2", "value_labels"] == "0 = Not chosen; 1 = Chosen"
    count = codebook.loc["extra_count"]
    assert (count["measure"], count["min"], count["max"]) == ("scale", 0, 50) and pd.isna(count["value_labels"])
    assert codebook.loc["one_thing", "label"] == codebook.loc["one_thing", "text"] != ""
    assert codebook.loc["one_thing", "type"] == "text"
    # Question wording is defused in the codebook sheet as in the responses sheet.
    assert codebook.loc["extra_note", "label"] == "'=1+1 anything else?"
    responses = book["responses"]
    assert responses.cell(2, header.index("extra_note") + 1).value == "'@note"
    assert responses.cell(2, header.index("organisation") + 1).value == "'-Minus Trust"
    assert codebook.loc[IDENTIFIERS, "type"].eq("identifier").all()


def test_the_codebook_sheet_leaves_out_panel_keys_unless_asked(client, admin, wave, tmp_path):
    book = openpyxl.load_workbook(download(client, wave, "xlsx", tmp_path))
    items = [row[0] for row in book["codebook"].iter_rows(min_row=2, values_only=True)]
    assert "panel_key" not in items and items == [c.value for c in book["responses"][1]]
    assert not any(c.value == "key-1" for row in book["responses"].iter_rows() for c in row)


def test_sav_measures_and_value_labels(client, admin, wave, tmp_path):
    _, meta = pyreadstat.read_sav(download(client, wave, "sav", tmp_path))
    measures = meta.variable_measure
    assert "unknown" not in measures.values()
    assert {measures[c] for c in IDENTIFIERS} == {"nominal"}
    likert = [item.code for item in wave.instrument.items if item.type == "likert"]
    assert {measures[c] for c in likert} == {"ordinal"}
    assert {measures[c] for c in meta.column_names if c.startswith("trust_")} == {"ordinal"}
    assert measures["extra_role"] == measures["extra_forums_1"] == "nominal"
    assert measures["extra_count"] == "scale"
    assert measures["one_thing"] == measures["extra_note"] == "nominal"

    labels = meta.variable_value_labels
    assert labels["cs_1"] == {float(i): label for i, label in enumerate(AGREEMENT_5, start=1)}
    assert labels["trust_10_reliable"] == {float(i): label for i, label in enumerate(TRUST_LEVELS, start=1)}
    assert labels["trust_2_intensity"][4.0] == "We are integrated: we work as one team"
    assert labels["extra_role"] == {1.0: "We are told", 2.0: "We decide"}
    assert labels["extra_forums_1"] == {0.0: "Not chosen", 1.0: "Chosen"}
    assert "extra_count" not in labels
    documented = {c for c in meta.column_names if meta.column_names_to_labels[c]}
    assert documented == set(meta.column_names)
    assert meta.column_names_to_labels["extra_forums_1"] == "Which forums? (Board)"


def test_a_wave_without_responses_exports_its_questions(client, admin, make_survey, tmp_path):
    wave = make_survey(template="participation", open_first_wave=True).waves[0]
    codes = ["pp_role"] + [f"pp_forums_{i}" for i in range(1, 6)] + ["pp_meetings", "pp_1", "pp_2", "pp_3", "pp_example", "quote_ok"]
    frame, meta = pyreadstat.read_sav(download(client, wave, "sav", tmp_path))
    assert meta.column_names == IDENTIFIERS + codes and frame.empty
    assert meta.variable_measure["pp_meetings"] == "scale" and meta.variable_measure["pp_3"] == "ordinal"
    book = openpyxl.load_workbook(download(client, wave, "xlsx", tmp_path))
    assert [row[0] for row in book["codebook"].iter_rows(min_row=2, values_only=True)] == IDENTIFIERS + codes


def test_export_table_places_trust_after_the_questions_when_no_item_names_it(db_session, wave):
    """Called with fewer questions than were answered, nothing is lost or undocumented."""
    data = service.responses_frame(db_session, [wave])
    likert = [item for item in wave.instrument.items if item.type == "likert"]
    table = exports.export_table(data, likert, include_panel_keys=False)
    columns = list(table.frame.columns)
    assert columns[: len(IDENTIFIERS) + len(likert)] == IDENTIFIERS + [item.code for item in likert]
    assert set(columns) == set(expected_columns(wave))
    assert columns[-4:] == [f"trust_10_{dimension}" for dimension in TRUST_DIMENSIONS]
    assert list(table.codebook["item"]) == columns and table.codebook["label"].astype(bool).all()
    assert table.measures["extra_count"] == "scale" and table.measures["trust_1_open"] == "ordinal"
