"""The compare command: the documented JSON, the same numbers as the library, clean failures."""

import json

import pytest
from click.testing import CliRunner

from analysis.cli import compare_command
from analysis.compare import compare
from tests.analysis.test_compare import CODEBOOK, make_responses

CONSTRUCT_KEYS = {
    "construct", "margin", "reference", "current", "difference", "ci90", "hedges_g", "p_improve",
    "p_noninferior", "p_decline", "p_improve_adj", "p_noninferior_adj", "p_decline_adj", "verdict",
    "dip_within_margin", "material", "gain_retained", "needed_n", "adjusted", "panel",
    "alpha_reference", "alpha_current",
}


@pytest.fixture
def files(tmp_path):
    responses = make_responses(n=80, shift=0.3, sectors=("Funder", "Council", "Charity", "Faith"))
    nth = responses.groupby(["wave", "sector"]).cumcount()
    responses = responses[~((responses["sector"] == "Faith") & (nth >= 3))]  # Faith: 3 a wave, too few to show
    responses.to_csv(tmp_path / "responses.csv", index=False)
    CODEBOOK.to_csv(tmp_path / "codebook.csv", index=False)
    return tmp_path, responses


def run(*args):
    return CliRunner().invoke(compare_command, [str(a) for a in args])


def test_json_matches_the_documented_shape_and_the_library(files):
    folder, responses = files
    result = run(folder / "responses.csv", "--codebook", folder / "codebook.csv", "--reference", "W1",
                 "--current", "W2", "--margins", "alpha=0.3", "--by", "sector", "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["reference"], document["current"], document["baseline"], document["alpha"]) == ("W1", "W2", None, 0.05)
    assert [c["construct"] for c in document["constructs"]] == ["alpha", "beta"]  # codebook order
    assert set(document["constructs"][0]) == CONSTRUCT_KEYS
    assert set(document["constructs"][0]["adjusted"]) == {"difference", "ci90", "verdict"}
    assert set(document["constructs"][0]["panel"]) == {"n_pairs", "difference", "ci90"}
    assert document["constructs"][0]["margin"] == 0.3 and document["constructs"][1]["margin"] == 0.25
    library = compare(responses.astype({"response_id": str}), CODEBOOK, "W1", "W2", margins={"alpha": 0.3, "beta": 0.25})
    assert document["constructs"][0]["difference"] == pytest.approx(library.constructs[0].difference)
    assert document["constructs"][0]["verdict"] == library.constructs[0].verdict
    assert all(c["verdict"] in {"improving", "holding", "slipping", "cant_tell", "too_few"} for c in document["constructs"])
    sectors = document["by"]["sector"]
    assert sectors["Faith"] == [{"construct": "alpha", "suppressed": True}, {"construct": "beta", "suppressed": True}]
    assert sectors["Funder"][0]["construct"] == "alpha" and "verdict" in sectors["Funder"][0]


def test_table_output(files):
    folder, _ = files
    result = run(folder / "responses.csv", "--codebook", folder / "codebook.csv", "--reference", "W1", "--current", "W2")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "W1 → W2" and "alpha" in result.stdout


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r, c: (r.drop(columns=["wave"]), c), "the responses have no 'wave' column"),
        (lambda r, c: (r.assign(a2=7), c), "item 'a2' has a value 7 outside 1..5"),
        (lambda r, c: (r, c.drop(columns=["reverse"])), "the codebook has no 'reverse' column"),
        (lambda r, c: (r, c.assign(reverse=2)), "reverse column must be 0 or 1"),
        (lambda r, c: (r, c.assign(item=["a1", "a2", "a3", "b1", "nope"])), "items not in the responses: nope"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(files, edit, message):
    folder, responses = files
    bad_responses, bad_codebook = edit(responses, CODEBOOK)
    bad_responses.to_csv(folder / "bad.csv", index=False)
    bad_codebook.to_csv(folder / "badcodebook.csv", index=False)
    result = run(folder / "bad.csv", "--codebook", folder / "badcodebook.csv", "--reference", "W1", "--current", "W2")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_unknown_wave_file_and_margin(files):
    folder, _ = files
    codebook = folder / "codebook.csv"
    for args, message in (
        ((folder / "responses.csv", "--current", "Wave 9"), "wave 'Wave 9' is not in the responses"),
        ((folder / "missing.csv", "--current", "W2"), "responses file not found"),
        ((folder / "responses.csv", "--current", "W2", "--margins", "gamma=0.2"), "not in the codebook: gamma"),
        ((folder / "responses.csv", "--current", "W2", "--margins", "alpha=big"), "construct=number pairs"),
    ):
        result = run(args[0], "--codebook", codebook, "--reference", "W1", *args[1:])
        assert result.exit_code == 2 and result.stdout == "" and message in result.stderr, result.stderr
