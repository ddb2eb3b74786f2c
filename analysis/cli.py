"""`holdfast compare RESPONSES.csv --codebook CODEBOOK.csv ...` (also `flask --app app
compare ...`): the comparison for data from any tool. A thin layer over analysis.compare.

Start-up matters here: this module imports only click, pandas, json and analysis.compare
(never flask, SQLAlchemy, matplotlib or the web app), so the console script needs no
secret, no database and no web app. Every refusal is one line, `Error: ...`, on stderr
with exit status 2, and happens before any statistics are computed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers

import click
import pandas as pd

from analysis.compare import (
    DEFAULT_MARGIN, DEFAULT_MIN_N, SMALLEST_MIN_N, Comparison, ComparisonInputError, compare, compare_by,
)

EXIT_BAD_INPUT = 2

# Identifier and label columns: read as text, never as numbers or missing values, so a
# wave called "NA", a sector called "None" or an id "007" stays what it says. Only an
# empty cell is missing.
LABEL_COLUMNS = ("response_id", "wave", "sector", "place", "organisation", "panel_key")
CODEBOOK_LABELS = ("item", "construct")
# In every other column (the items; the codebook's reverse, min and max) these mean a missing answer.
# "Don't know" is an answer a respondent gave, but not a score: Holdfast's files write it
# as its label, and every statistic counts it as no answer.
DONT_KNOW_TOKENS = ("Don't know", "Don\u2019t know", "don't know", "Don't Know", "dont_know")
MISSING_TOKENS = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", *DONT_KNOW_TOKENS)
BY_CHOICES = ("sector", "place", "organisation")

# Characters that must not reach a terminal raw: C0 and C1 controls (ESC starts escape
# sequences), DEL, bidirectional overrides/isolates/marks and line/paragraph separators.
_UNSAFE = dict.fromkeys(
    [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
     *range(0x2066, 0x206A), 0x2028, 0x2029],
    "\ufffd",
)


def printable(text) -> str:
    """`text` with every control character (C0, C1, ESC, bidi overrides) shown as U+FFFD."""
    return str(text).translate(_UNSAFE)


class BadInput(click.ClickException):
    """Bad input: `Error: <one line>` on stderr and exit status 2."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str):
        super().__init__(printable(" ".join(str(message).split("\n"))))


def _fail(message: str):
    raise BadInput(message)


# `holdfast` alone shows the help (click raises this usage error for it): left as click shows it.
_HELP_FOR_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _OneLineUsageErrors:
    """Click's own usage errors (a bad option value, a missing option) as one line too,
    without the usage and hint lines, so every refusal keeps the same contract."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except _HELP_FOR_NO_ARGS:
            raise
        except click.UsageError as error:
            raise BadInput(error.format_message()) from None


class OneLineCommand(_OneLineUsageErrors, click.Command):
    pass


class OneLineGroup(_OneLineUsageErrors, click.Group):
    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            raise BadInput(error.format_message()) from None


# --- checks on the options, before any file is read ------------------------------------

def _margin_value(text: str | float, what: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        _fail(f"{what} must be a number above 0, not '{text}'")
    if not math.isfinite(value) or value <= 0:
        _fail(f"{what} must be a finite number above 0, not {text}")
    return value


def parse_margins(margins: str | None) -> dict[str, float]:
    """`trust=0.3,other=0.2` as {construct: margin}; refuses malformed pairs, repeated
    constructs and margins that are not finite numbers above 0."""
    if margins is None:
        return {}
    parsed: dict[str, float] = {}
    if not margins.strip():
        _fail("--margins takes construct=number pairs, and was given none")
    for part in margins.split(","):
        name, equals, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name or not value:
            _fail(f"--margins takes construct=number pairs, not '{part}'")
        if name in parsed:
            _fail(f"--margins names the construct '{name}' twice")
        try:
            float(value)
        except ValueError:
            _fail(f"--margins takes construct=number pairs, not '{part}'")
        parsed[name] = _margin_value(value, f"the margin for '{name}' in --margins")
    return parsed


def check_options(reference, current, baseline, margin, min_n) -> float:
    """Refuse options that cannot make sense; return the margin for every construct."""
    everywhere = _margin_value(margin, "--margin") if margin is not None else DEFAULT_MARGIN
    if min_n < SMALLEST_MIN_N:
        _fail(f"--min-n must be at least {SMALLEST_MIN_N}, not {min_n}")
    if reference == current:
        _fail(f"--reference and --current are both '{reference}'; compare two different waves")
    if baseline is not None and baseline in (reference, current):
        which = "--reference" if baseline == reference else "--current"
        _fail(f"--baseline '{baseline}' is also the {which} wave; the baseline must be a third wave")
    return everywhere


# --- reading the files -----------------------------------------------------------------

def read_table(path: str, what: str, labels: tuple[str, ...]) -> pd.DataFrame:
    """A CSV with `labels` columns as text (only an empty cell missing) and every other
    column parsed as numbers where it can be, with MISSING_TOKENS as missing."""
    try:
        columns = pd.read_csv(path, nrows=0).columns
        na_values = {c: [""] if c in labels else list(MISSING_TOKENS) for c in columns}
        return pd.read_csv(
            path, dtype={c: str for c in labels if c in columns}, keep_default_na=False, na_values=na_values,
        )
    except FileNotFoundError:
        _fail(f"{what} file not found: {path}")
    except IsADirectoryError:
        _fail(f"{what} file is a folder: {path}")
    except OSError as error:
        _fail(f"{what} file could not be opened: {error.strerror or error}")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as error:
        _fail(f"{what} file could not be read as CSV: {(str(error).splitlines() or [''])[0]}")


def read_codebook(path: str) -> pd.DataFrame:
    codebook = read_table(path, "codebook", CODEBOOK_LABELS)
    for column in ("item", "construct", "reverse", "min", "max"):
        if column not in codebook.columns:
            _fail(f"the codebook has no '{column}' column")
    if codebook.empty:
        _fail("the codebook lists no items")
    if codebook["item"].isna().any():
        _fail("every codebook row needs an item name")
    if codebook["construct"].isna().any():
        item = codebook.loc[codebook["construct"].isna(), "item"].iloc[0]
        _fail(f"item '{item}' has no construct in the codebook")
    reverse = pd.to_numeric(codebook["reverse"], errors="coerce")
    if not reverse.isin([0, 1]).all():
        _fail("the codebook's reverse column must be 0 or 1")
    if codebook[["min", "max"]].isna().any().any():
        _fail("every codebook row needs a min and a max")
    bounds = codebook[["min", "max"]].apply(pd.to_numeric, errors="coerce").astype(float)
    if bounds.isna().any().any():
        _fail("the codebook's min and max must be numbers")
    finite = bounds.apply(lambda column: column.map(math.isfinite)).all(axis=1)
    if not finite.all():
        _fail(f"item '{codebook['item'][~finite].iloc[0]}' needs a finite min and max in the codebook")
    inverted = bounds["min"] >= bounds["max"]
    if inverted.any():
        row = inverted.idxmax()
        _fail(f"item '{codebook['item'][row]}' has min {bounds['min'][row]:g}, "
              f"which must be below its max {bounds['max'][row]:g}")
    repeated = codebook["item"][codebook["item"].duplicated()]
    if not repeated.empty:
        item = repeated.iloc[0]
        constructs = list(dict.fromkeys(codebook.loc[codebook["item"] == item, "construct"]))
        if len(constructs) > 1:
            _fail(f"item '{item}' is listed under two constructs, '{constructs[0]}' and '{constructs[1]}'")
        _fail(f"item '{item}' is listed twice in the codebook")
    return codebook.assign(reverse=reverse.astype(int), min=bounds["min"], max=bounds["max"])


def read_responses(path: str, by: str | None) -> pd.DataFrame:
    responses = read_table(path, "responses", LABEL_COLUMNS)
    for column in ("response_id", "wave", "sector"):
        if column not in responses.columns:
            _fail(f"the responses have no '{column}' column")
    if by is not None and by not in responses.columns:
        _fail(f"--by {by}: the responses have no '{by}' column")
    return responses


# --- output --------------------------------------------------------------------------

def _clean(value):
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers, tuples lists,
    dataclasses objects."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _clean(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else None
    return value


def as_json(result: Comparison, by: dict | None, by_name: str | None) -> dict:
    document = {
        "reference": result.reference,
        "current": result.current,
        "baseline": result.baseline,
        "alpha": result.alpha,
        "constructs": [_clean(c) for c in result.constructs],
    }
    for construct in document["constructs"]:
        if construct["adjusted"] is not None:
            construct["adjusted"].pop("n_pairs", None)
        if construct["panel"] is not None:
            for key in ("verdict", "raw_verdict", "left_out"):
                construct["panel"].pop(key, None)
    if by is not None:
        document["by"] = {by_name: {name: [_clean(c) for c in rows] for name, rows in by.items()}}
        for rows in document["by"][by_name].values():
            for row in rows:
                for key in ("gain_retained", "adjusted", "panel", "alpha_reference", "alpha_current", "reason"):
                    row.pop(key, None)
    return document


def _signed(value: float) -> str:
    return f"{round(value, 2) + 0.0:+.2f}"  # + 0.0: a tiny fall rounds to +0.00, not -0.00


def as_table(result: Comparison) -> str:
    """Plain text for a terminal; every name from the data passes through `printable`."""
    lines = [f"{printable(result.reference)} → {printable(result.current)}"
             + (f" (baseline {printable(result.baseline)})" if result.baseline else "")]
    lines.append(f"{'construct':<22}{'verdict':<11}{'reference':>16}{'current':>16}{'change [90% CI]':>26}{'margin':>8}")
    for c in result.constructs:
        ref = f"{c.reference.mean:.2f} (n={c.reference.n})" if c.reference.mean is not None else f"n={c.reference.n}"
        cur = f"{c.current.mean:.2f} (n={c.current.n})" if c.current.mean is not None else f"n={c.current.n}"
        change = (f"{_signed(c.difference)} [{_signed(c.ci90[0])}, {_signed(c.ci90[1])}]"
                  if c.difference is not None and c.ci90 is not None else "–")
        name, verdict = printable(c.construct), printable(c.verdict)
        lines.append(f"{name:<22}{verdict:<11}{ref:>16}{cur:>16}{change:>26}{c.margin:>8.2f}")
    return "\n".join(lines)


# --- the command ---------------------------------------------------------------------

COMPARE_HELP = f"""Compare two waves of survey responses from a CSV file.

RESPONSES.csv has response_id, wave and sector columns (optionally place, organisation
and panel_key) and one numeric column per item. CODEBOOK.csv has item, construct,
reverse (0 or 1), min and max, one row per item.

Labels are kept as written: in response_id, wave, sector, place, organisation and
panel_key (and the codebook's item and construct) only an empty cell is missing, so a
wave or sector called "NA", "None" or "N/A" is a label like any other. In item columns
an empty cell, or one of {", ".join(repr(t) for t in MISSING_TOKENS if t)}, is a missing answer.

Bad input exits with status 2 and one line on stderr, before anything is computed.
"""


@click.command("compare", cls=OneLineCommand, help=COMPARE_HELP)
@click.argument("responses_path", metavar="RESPONSES.csv")
@click.option("--codebook", "codebook_path", required=True, metavar="CODEBOOK.csv")
@click.option("--reference", required=True, help="The wave where the gain was seen.")
@click.option("--current", required=True, help="The wave to judge (not the reference wave).")
@click.option("--baseline", default=None,
              help="The wave before the gain, to ask if it is retained (a third wave).")
@click.option("--margin", default=None, metavar="NUMBER",
              help=f"Margin for every construct not in --margins: a number above 0 (default {DEFAULT_MARGIN:g}).")
@click.option("--margins", default=None, metavar="NAME=NUMBER,...",
              help="Per construct, each above 0: construct=0.3,other=0.2")
@click.option("--by", default=None, type=click.Choice(BY_CHOICES),
              help="Also compare within each group of this column.")
@click.option("--min-n", type=int, default=DEFAULT_MIN_N, show_default=True, metavar="N",
              help=f"Fewest responses per wave to test (at least {SMALLEST_MIN_N}).")
@click.option("--format", "output", type=click.Choice(["json", "table"]), default="table", show_default=True)
def compare_command(responses_path, codebook_path, reference, current, baseline, margin, margins, by, min_n, output):
    # Everything about the options first, then the files, then the statistics.
    everywhere = check_options(reference, current, baseline, margin, min_n)
    per_construct = parse_margins(margins)
    codebook = read_codebook(codebook_path)
    responses = read_responses(responses_path, by)
    constructs = list(dict.fromkeys(codebook["construct"]))
    unknown = [name for name in per_construct if name not in constructs]
    if unknown:
        _fail(f"--margins names a construct not in the codebook: {unknown[0]}")
    chosen = {name: per_construct.get(name, everywhere) for name in constructs}
    try:
        result = compare(responses, codebook, reference, current, baseline, chosen, min_n)
        breakdown = compare_by(responses, codebook, by, reference, current, chosen, min_n) if by else None
    except ComparisonInputError as error:
        _fail(str(error))
    if output == "json":
        click.echo(json.dumps(as_json(result, breakdown, by), indent=2))
    else:
        click.echo(as_table(result))


@click.group("holdfast", cls=OneLineGroup, help="Holdfast from the command line, without the web app.")
def main():
    pass


main.add_command(compare_command)


if __name__ == "__main__":
    main()
