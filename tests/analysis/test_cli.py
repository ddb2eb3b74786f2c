"""The compare command: the documented JSON, the same numbers as the library, clean failures,
labels kept as written, and the `holdfast` console script without the web app."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.compare import SMALLEST_MIN_N
from analysis.cli import compare_command
from analysis.compare import compare
from tests.analysis.test_compare import CODEBOOK, make_responses

ROOT = Path(__file__).resolve().parents[2]
# Fields added by the honest-verdicts work: the interval the verdict is read off, how it
# was found, the panel pairs it used and where a can't-tell points.
NEW_CONSTRUCT_KEYS = {"ci_simultaneous", "method", "n_pairs", "leaning"}

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
    assert CONSTRUCT_KEYS <= set(document["constructs"][0]) <= CONSTRUCT_KEYS | NEW_CONSTRUCT_KEYS
    assert set(document["constructs"][0]["adjusted"]) == {"difference", "ci90", "verdict", "raw_verdict", "left_out"}
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


# --- every bad input: exit 2, one line on stderr, no traceback, no hang ---------------

def _codebook(**changes):
    codebook = CODEBOOK.copy()
    for column, values in changes.items():
        codebook[column] = values
    return codebook


BAD_CODEBOOKS = {
    "min_not_below_max": _codebook(min=[1, 5, 1, 1, 1]),
    "infinite_max": _codebook(max=[5, 5, 5, float("inf"), 5]),
    "reverse_not_0_or_1": _codebook(reverse=[0, 0, 1, 0, 0.5]),
    "item_under_two_constructs": _codebook(item=["a1", "a2", "a3", "b1", "a1"]),
    "item_twice": pd.concat([CODEBOOK, CODEBOOK.iloc[[0]]]),
    "empty_construct": _codebook(construct=["alpha", "alpha", "alpha", "beta", ""]),
}

BAD_INPUTS = {
    "negative_margin": (["--margin", "-0.2"], "--margin must be a finite number above 0"),
    "zero_margin": (["--margin", "0"], "--margin must be a finite number above 0"),
    "nan_margin": (["--margin", "nan"], "--margin must be a finite number above 0"),
    "infinite_margin": (["--margin", "inf"], "--margin must be a finite number above 0"),
    "margin_not_a_number": (["--margin", "wide"], "--margin must be a number above 0"),
    "zero_margins": (["--margins", "alpha=0.3,beta=0"], "the margin for 'beta' in --margins must be a finite number above 0"),
    "nan_margins": (["--margins", "beta=nan"], "the margin for 'beta' in --margins must be a finite number"),
    "duplicate_margins": (["--margins", "alpha=0.3,alpha=0.2"], "--margins names the construct 'alpha' twice"),
    "margins_without_value": (["--margins", "alpha"], "--margins takes construct=number pairs, not 'alpha'"),
    "margins_not_a_number": (["--margins", "beta=wide"], "--margins takes construct=number pairs, not 'beta=wide'"),
    "margins_without_name": (["--margins", "=0.3"], "--margins takes construct=number pairs, not '=0.3'"),
    "margins_empty_pair": (["--margins", "alpha=0.3,,beta=0.2"], "--margins takes construct=number pairs"),
    "margins_unknown_construct": (["--margins", "gamma=0.2"], "--margins names a construct not in the codebook: gamma"),
    "min_n_1": (["--min-n", "1"], f"--min-n must be at least {SMALLEST_MIN_N}"),
    "min_n_just_below": (["--min-n", str(SMALLEST_MIN_N - 1)], f"--min-n must be at least {SMALLEST_MIN_N}"),
    "current_is_reference": (["--current", "W1"], "--reference and --current are both 'W1'"),
    "baseline_is_reference": (["--baseline", "W1"], "--baseline 'W1' is also the --reference wave"),
    "baseline_is_current": (["--baseline", "W2"], "--baseline 'W2' is also the --current wave"),
    "by_missing_column": (["--by", "place"], "the responses have no 'place' column"),
    "by_unknown_choice": (["--by", "colour"], "'colour' is not one of"),
    **{
        f"codebook_{name}": (["--codebook", f"{name}.csv"], message)
        for name, message in {
            "min_not_below_max": "item 'a2' has min 5, which must be below its max 5",
            "infinite_max": "item 'b1' needs a finite min and max",
            "reverse_not_0_or_1": "reverse column must be 0 or 1",
            "item_under_two_constructs": "item 'a1' is listed under two constructs, 'alpha' and 'beta'",
            "item_twice": "item 'a1' is listed twice in the codebook",
            "empty_construct": "item 'b2' has no construct in the codebook",
        }.items()
    },
}


@pytest.fixture(scope="module")
def bad_input_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    make_responses(n=40, shift=0.3).to_csv(folder / "responses.csv", index=False)
    CODEBOOK.to_csv(folder / "codebook.csv", index=False)
    for name, codebook in BAD_CODEBOOKS.items():
        codebook.to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_each_bad_input_is_refused_with_exit_2_and_one_line(bad_input_folder, monkeypatch, case):
    """In process, as Click runs the command (the console script itself is run for real
    below): an exception other than Click's exit shows as exit code 1, a hang as a thread
    still running after 20 s."""
    extra, message = BAD_INPUTS[case]
    monkeypatch.chdir(bad_input_folder)
    results = []
    command = threading.Thread(daemon=True, target=lambda: results.append(
        run("responses.csv", "--codebook", "codebook.csv", "--reference", "W1", "--current", "W2", *extra)))
    command.start()
    command.join(timeout=20)
    assert not command.is_alive(), "the command hangs"
    [result] = results
    assert result.exit_code == 2, result.stderr
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.endswith("\n") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr


# --- labels are never missing values -----------------------------------------------

def test_labels_like_na_and_none_survive_as_waves_and_sectors(tmp_path):
    responses = make_responses(n=60, shift=0.3, sectors=("N/A", "None", "NA", "null"))
    responses["wave"] = responses["wave"].map({"W1": "NA", "W2": "None"})
    responses.loc[0, "b1"] = None  # written as an empty cell
    responses.to_csv(tmp_path / "responses.csv", index=False)
    text = (tmp_path / "responses.csv").read_text().splitlines()
    header, first = text[0].split(","), text[1].split(",")
    first[header.index("b2")] = "NA"  # NA in an item column is a missing answer
    (tmp_path / "responses.csv").write_text("\n".join([text[0], ",".join(first), *text[2:]]) + "\n")
    CODEBOOK.to_csv(tmp_path / "codebook.csv", index=False)
    result = CliRunner().invoke(compare_command, [
        str(tmp_path / "responses.csv"), "--codebook", str(tmp_path / "codebook.csv"),
        "--reference", "NA", "--current", "None", "--by", "sector", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["reference"], document["current"]) == ("NA", "None")
    assert document["constructs"][0]["reference"]["n"] == 60
    assert document["constructs"][1]["reference"]["n"] == 59  # b1 empty and b2 "NA": no beta score
    assert set(document["by"]["sector"]) == {"N/A", "None", "NA", "null"}


# --- terminal safety -------------------------------------------------------------------

def test_control_characters_are_not_echoed_raw_in_the_table(tmp_path):
    sneaky = {"alpha": "al\x1b[2J\x1b]0;pwned\x07pha", "beta": "be\u202eat\x9b31m"}
    make_responses(n=40, shift=0.3).to_csv(tmp_path / "responses.csv", index=False)
    CODEBOOK.assign(construct=CODEBOOK["construct"].map(sneaky)).to_csv(tmp_path / "codebook.csv", index=False)
    args = [str(tmp_path / "responses.csv"), "--codebook", str(tmp_path / "codebook.csv"), "--current", "W2"]
    result = CliRunner().invoke(compare_command, [*args, "--reference", "W1", "--format", "table"])
    assert result.exit_code == 0, result.stderr
    for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert raw not in result.stdout
    assert "al\ufffd[2J\ufffd]0;pwned\ufffdpha" in result.stdout and "be\ufffdat\ufffd31m" in result.stdout
    refused = CliRunner().invoke(compare_command, [*args, "--reference", "W\x1b[31m1\u202e"])
    assert refused.exit_code == 2 and "\x1b" not in refused.stderr and "\u202e" not in refused.stderr
    assert refused.stderr.count("\n") == 1


# --- the console script: no secret, no database, no web app ---------------------------

def test_the_installed_console_script_runs_without_the_web_app(tmp_path):
    holdfast = Path(sys.executable).parent / "holdfast"
    assert holdfast.exists(), "run `make test` (or `pip install --no-deps -e .`) to install the console script"
    make_responses(n=40, shift=0.3, sectors=("Funder", "Council")).to_csv(tmp_path / "responses.csv", index=False)
    CODEBOOK.to_csv(tmp_path / "codebook.csv", index=False)
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "PANEL_SECRET", "DATABASE_URL", "FLASK_APP", "PYTHONPATH"}}
    base = [str(holdfast), "compare", "responses.csv", "--codebook", "codebook.csv", "--reference", "W1", "--current", "W2"]
    result = subprocess.run([*base, "--by", "sector", "--format", "json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [c["construct"] for c in document["constructs"]] == ["alpha", "beta"] and set(document["by"]["sector"]) == {"Funder", "Council"}
    table = subprocess.run(base, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert table.returncode == 0 and table.stdout.splitlines()[0] == "W1 → W2"
    refused = subprocess.run([*base, "--margin", "-1"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert not (tmp_path / "instance").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["codebook.csv", "responses.csv"]


WEB_MODULES = ("flask", "werkzeug", "sqlalchemy", "alembic", "matplotlib", "weasyprint", "app", "core", "surveys")


def test_the_command_imports_nothing_of_the_web_app(tmp_path):
    make_responses(n=40, shift=0.3).to_csv(tmp_path / "responses.csv", index=False)
    CODEBOOK.to_csv(tmp_path / "codebook.csv", index=False)
    script = f"""
import sys
import analysis.cli
web = {WEB_MODULES!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in web)
assert not loaded, ("on import", loaded)
try:
    analysis.cli.main(["compare", "responses.csv", "--codebook", "codebook.csv", "--reference", "W1",
                       "--current", "W2", "--by", "sector", "--format", "json"])
except SystemExit as done:
    assert done.code in (0, None), done.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in web)
assert not loaded, ("after a full run", loaded)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["constructs"][0]["construct"] == "alpha"
