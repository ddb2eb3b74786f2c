"""Every benchmark script runs: each is run here as its command line runs it, with
--dry-run (its real code path at a tiny size), and must print its figures, so none can
stop running unnoticed again (issue 28 found two that had). The scripts run in this
process, sharing its imports, so each costs only its own work: seconds to half a minute,
most of it gunicorn workers loading the app and WeasyPrint drawing pages. Marked `slow`.
The other files in benchmarks/ are imported."""

import importlib
import re
import runpy
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
# Scripts imported but not run here, and why.
NOT_RUN = {"suite.py": "it times the test suite itself through make: run here, the suite would run inside itself"}
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py")
                 if 'if __name__ == "__main__":' in p.read_text() and p.name not in NOT_RUN)
IMPORTED = sorted(p for p in BENCHMARKS.glob("*.py") if p not in SCRIPTS)

# What each script prints when it has measured something: a new script needs its line here.
FIGURES = {
    "analysis.py": r"total \(median\)\s+\d+\.\d+ s",
    "briefing.py": r"cold cache: \d+\.\d+ s",
    "calibration.py": r"\d+ of \d+ cells keep their promises",
    "cli_startup.py": r"holdfast compare --help\s+\d+\.\d+",
    "mail.py": r"worker / floor: \d+\.\d+x",
    "pages.py": r"comparison\s+\d+ ms",
    "submissions.py": r"whole journeys\s+\d+\.\d+ /s[\s\S]*sends / floor\s+1/\d+",
    "workshop.py": r"state polls\s+p50\s+\d+\.\d+ ms",
}


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_each_benchmark_script_runs_at_a_tiny_size_and_prints_its_figures(script, monkeypatch, capsys):
    figures = FIGURES[script.name]
    monkeypatch.setattr(sys, "argv", [str(script), "--dry-run"])
    monkeypatch.setattr(sys, "path", list(sys.path))  # the scripts put the project first
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exit:
        assert exit.code in (0, None), f"{script.name} --dry-run exited with {exit.code}"
    printed = capsys.readouterr().out
    assert re.search(figures, printed), printed


@pytest.mark.parametrize("module", IMPORTED, ids=lambda path: path.name)
def test_every_other_benchmark_file_imports(module):
    assert importlib.import_module(f"benchmarks.{module.stem}").__file__ == str(module)
