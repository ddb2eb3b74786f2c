"""Record-level exports: every column documented, SPSS measures, questionnaire order."""

import csv
import io
import json

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest

from core.models import Role
from surveys import exports, questions, respondent as journey, service
from surveys.models import AnonymityMode
from surveys.question_types import AGREEMENT_5, DONT_KNOW, TRUST_DIMENSIONS, TRUST_LEVELS, labelled_choices
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


# --- "Don't know" ---------------------------------------------------------------------------


@pytest.fixture
def dont_know_wave(db_session, make_survey):
    """Three responses; the first two answered "Don't know" to cs_1."""
    wave = make_survey().waves[0]
    service.open_wave(db_session, wave, actor=None)
    place = wave.survey.places[0]
    for n, value in enumerate([DONT_KNOW, DONT_KNOW, 5]):
        answers = complete_answers(wave) | {"cs_1": value}
        journey.submit_response(db_session, wave, service.Respondent(2, place.id), answers, f"dk-{n}")
    return wave


def test_dont_know_is_exported_with_its_label_in_every_format(client, admin, dont_know_wave, tmp_path):
    rows = list(csv.DictReader(io.StringIO(download(client, dont_know_wave, "csv", tmp_path).read_text("utf-8-sig"))))
    assert [row["cs_1"] for row in rows] == ["Don't know", "Don't know", "5.0"]
    assert {row["cs_2"] for row in rows} == {"4.0"}

    book = openpyxl.load_workbook(download(client, dont_know_wave, "xlsx", tmp_path))
    header = [c.value for c in book["responses"][1]]
    column = header.index("cs_1") + 1
    assert [book["responses"].cell(r, column).value for r in (2, 3, 4)] == ["Don't know", "Don't know", 5]
    codebook = {row[0]: row for row in book["codebook"].iter_rows(min_row=2, values_only=True)}
    names = [c.value for c in book["codebook"][1]]
    cs_1 = dict(zip(names, codebook["cs_1"]))
    assert cs_1["value_labels"] == AGREEMENT_LABELS + "; -1 = Don't know"
    assert (cs_1["min"], cs_1["max"]) == (1, 5)  # the scale's, never the code
    assert dict(zip(names, codebook["cs_2"]))["value_labels"] == AGREEMENT_LABELS

    path = download(client, dont_know_wave, "sav", tmp_path)
    frame, meta = pyreadstat.read_sav(path, user_missing=True)
    assert frame["cs_1"].tolist() == [-1.0, -1.0, 5.0]
    assert meta.variable_value_labels["cs_1"][-1.0] == "Don't know"
    assert meta.missing_ranges["cs_1"] == [{"lo": -1.0, "hi": -1.0}]
    assert "cs_2" not in meta.missing_ranges
    # Read as SPSS users read it, "Don't know" is missing.
    plain, _ = pyreadstat.read_sav(path)
    assert plain["cs_1"].isna().tolist() == [True, True, False]


def test_compare_files_carry_dont_know_and_the_command_reads_it_as_no_answer(db_session, dont_know_wave, tmp_path):
    from analysis.cli import read_responses

    responses, codebook = exports.compare_files(service.responses_frame(db_session, [dont_know_wave]), False)
    path = tmp_path / "responses.csv"
    path.write_bytes(responses)
    assert "Don't know" in responses.decode("utf-8-sig")
    read = read_responses(str(path), None)
    assert read["cs_1"].isna().tolist() == [True, True, False] and read["cs_1"].dtype.kind == "f"
    assert b"Don't know" not in codebook


def test_holdfast_compare_treats_dont_know_as_missing(tmp_path):
    """The same comparison with "Don't know" in some cells as with those cells empty; and
    different from putting a score there, so the cells were read."""
    from click.testing import CliRunner

    from analysis.cli import compare_command

    rng = np.random.default_rng(13)
    rows = []
    for wave, shift in (("Before", 0), ("After", 0.3)):
        for n in range(40):
            rows.append({"response_id": f"{wave}-{n}", "wave": wave, "sector": "Health and care",
                         "a1": int(np.clip(round(3 + shift + rng.normal()), 1, 5)),
                         "a2": int(np.clip(round(3 + shift + rng.normal()), 1, 5))})
    base = pd.DataFrame(rows).astype({"a1": object, "a2": object})
    chosen = base.index[base["wave"] == "After"][:12]
    codebook = tmp_path / "codebook.csv"
    pd.DataFrame({"item": ["a1", "a2"], "construct": ["x", "x"], "reverse": [0, 0], "min": [1, 1], "max": [5, 5]}).to_csv(codebook, index=False)

    def run(cell) -> dict:
        frame = base.copy()
        frame.loc[chosen, "a1"] = cell
        frame.loc[chosen[:6], "a2"] = cell
        path = tmp_path / "responses.csv"
        frame.to_csv(path, index=False)
        result = CliRunner().invoke(compare_command, [str(path), "--codebook", str(codebook), "--reference", "Before",
                                                      "--current", "After", "--format", "json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    dont_know, empty, curly, scored = run("Don't know"), run(""), run("Don\u2019t know"), run(1)
    assert dont_know == empty == curly
    assert dont_know["constructs"][0]["current"]["n"] == 40 - 6  # a score needs half the questions answered
    assert dont_know != scored
