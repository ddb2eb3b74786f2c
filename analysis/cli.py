"""`flask --app app compare RESPONSES.csv --codebook CODEBOOK.csv ...`: the comparison
for data from any tool. A thin layer over analysis.compare (click and pandas only)."""

from __future__ import annotations

import dataclasses
import json
import math
import sys

import click
import pandas as pd

from analysis.compare import Comparison, ComparisonInputError, compare, compare_by

EXIT_BAD_INPUT = 2


def _fail(message: str):
    click.echo(f"Error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _read_csv(path: str, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={"wave": str, "sector": str, "response_id": str})
    except FileNotFoundError:
        _fail(f"{what} file not found: {path}")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        _fail(f"{what} file could not be read as CSV: {str(error).splitlines()[0]}")


def _read_codebook(path: str) -> pd.DataFrame:
    codebook = _read_csv(path, "codebook")
    missing = [c for c in ("item", "construct", "reverse", "min", "max") if c not in codebook.columns]
    if missing:
        _fail(f"the codebook has no '{missing[0]}' column")
    if not codebook["reverse"].isin([0, 1]).all():
        _fail("the codebook's reverse column must be 0 or 1")
    if codebook[["min", "max"]].isna().any().any():
        _fail("every codebook row needs a min and a max")
    return codebook


def _parse_margins(margin: float | None, margins: str | None) -> tuple[dict[str, float], float | None]:
    parsed: dict[str, float] = {}
    for part in filter(None, (margins or "").split(",")):
        name, _, value = part.partition("=")
        try:
            parsed[name.strip()] = float(value)
        except ValueError:
            _fail(f"--margins takes construct=number pairs, not '{part}'")
    return parsed, margin


def _clean(value):
    """JSON-safe: NaN becomes null, tuples become lists, dataclasses become objects."""
    if dataclasses.is_dataclass(value):
        return {f.name: _clean(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
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
            construct["panel"].pop("verdict", None)
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
    lines = [f"{result.reference} → {result.current}" + (f" (baseline {result.baseline})" if result.baseline else "")]
    lines.append(f"{'construct':<22}{'verdict':<11}{'reference':>16}{'current':>16}{'change [90% CI]':>26}{'margin':>8}")
    for c in result.constructs:
        ref = f"{c.reference.mean:.2f} (n={c.reference.n})" if c.reference.mean is not None else f"n={c.reference.n}"
        cur = f"{c.current.mean:.2f} (n={c.current.n})" if c.current.mean is not None else f"n={c.current.n}"
        change = (f"{_signed(c.difference)} [{_signed(c.ci90[0])}, {_signed(c.ci90[1])}]"
                  if c.difference is not None else "–")
        lines.append(f"{c.construct:<22}{c.verdict:<11}{ref:>16}{cur:>16}{change:>26}{c.margin:>8.2f}")
    return "\n".join(lines)


@click.command("compare", help="Compare two waves of survey responses from a CSV file.")
@click.argument("responses_path", metavar="RESPONSES.csv")
@click.option("--codebook", "codebook_path", required=True, metavar="CODEBOOK.csv")
@click.option("--reference", required=True, help="The wave where the gain was seen.")
@click.option("--current", required=True, help="The wave to judge.")
@click.option("--baseline", default=None, help="The wave before the gain, to ask if it is retained.")
@click.option("--margin", type=float, default=None, help="Margin for every construct (default 0.25).")
@click.option("--margins", default=None, help="Per construct: construct=0.3,other=0.2")
@click.option("--by", default=None, type=click.Choice(["sector", "place", "organisation"]))
@click.option("--min-n", type=int, default=10, show_default=True, help="Fewest responses per wave to test.")
@click.option("--format", "output", type=click.Choice(["json", "table"]), default="table", show_default=True)
def compare_command(responses_path, codebook_path, reference, current, baseline, margin, margins, by, min_n, output):
    responses = _read_csv(responses_path, "responses")
    codebook = _read_codebook(codebook_path)
    per_construct, everywhere = _parse_margins(margin, margins)
    constructs = list(dict.fromkeys(codebook["construct"].dropna()))
    unknown = [name for name in per_construct if name not in constructs]
    if unknown:
        _fail(f"--margins names a construct not in the codebook: {unknown[0]}")
    chosen = {name: per_construct.get(name, everywhere if everywhere is not None else 0.25) for name in constructs}
    try:
        result = compare(responses, codebook, reference, current, baseline, chosen, min_n)
        breakdown = compare_by(responses, codebook, by, reference, current, chosen, min_n) if by else None
    except ComparisonInputError as error:
        _fail(str(error))
    if output == "json":
        click.echo(json.dumps(as_json(result, breakdown, by), indent=2))
    else:
        click.echo(as_table(result))
