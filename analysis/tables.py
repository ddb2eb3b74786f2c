"""Results as plain rows, after disclosure: what a page shows and a CSV holds.

Pages and downloads both read these rows, so they show the same figures and withhold
the same cells. Every count passes through `analysis.disclosure.disclose` here. Pure:
the analysis dataclasses in, lists of dicts out (floats unrounded; pages format them).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.compare import Comparison, ConstructComparison, Suppressed
from analysis.disclosure import K_INTERNAL, WITHHELD, DisclosedTable, disclose
from analysis.items import ItemComparison
from analysis.network import TrustNetwork
from analysis.trend import TrendPoint


@dataclass(frozen=True)
class Verdict:
    word: str
    shape: str  # shown beside the word, so colour is never the only signal
    colour: str  # GOV.UK tag colour
    meaning: str


VERDICTS = {
    "improving": Verdict("Improving", "▲", "green", "higher than in the reference wave"),
    "holding": Verdict("Holding", "✔", "blue", "the evidence rules out a fall bigger than the margin"),
    "slipping": Verdict("Slipping", "✖", "red", "lower than in the reference wave"),
    "cant_tell": Verdict("Can't tell yet", "?", "yellow", "the responses cannot yet rule out a fall bigger than the margin"),
    "too_few": Verdict("Too few responses", "–", "grey", "too few responses to test"),
}


def _withheld(table: DisclosedTable, row, column) -> str | None:
    return table.reasons.at[row, column] or None


def construct_rows(comparison: Comparison, withheld: pd.DataFrame, pairs: DisclosedTable | None = None) -> list[dict]:
    """One row per construct. `withheld` is construct × wave, the words that say why a
    wave's total is withheld ("" where shown; from each wave's disclosure decision):
    where either wave's is withheld, the row shows no statistics. `pairs` is the panel's
    pairs per construct (one column); the panel result is withheld with it."""
    rows = []
    for c in comparison.constructs:
        withheld_here = [withheld.at[c.construct, wave] or None for wave in (comparison.reference, comparison.current)]
        if any(withheld_here):
            rows.append({
                "construct": c.construct, "verdict": "too_few", "withheld": next(w for w in withheld_here if w),
                "reference_n": withheld_here[0] or c.reference.n, "current_n": withheld_here[1] or c.current.n,
                "margin": c.margin,
            })
            continue
        panel_withheld = pairs is not None and c.panel is not None and _withheld(pairs, c.construct, "pairs")
        rows.append({
            "construct": c.construct, "margin": c.margin, **_figures(c),
            "hedges_g": c.hedges_g, "gain_retained": c.gain_retained, "needed_n": c.needed_n,
            "alpha_reference": c.alpha_reference, "alpha_current": c.alpha_current,
            "adjusted": c.adjusted, "adjusted_disagrees": c.adjusted_disagrees,
            "panel": None if panel_withheld else c.panel,
        })
    return rows


def panel_pairs_table(comparison: Comparison, k: int = K_INTERNAL) -> DisclosedTable:
    counts = pd.DataFrame(
        {"pairs": [c.panel.n_pairs if c.panel else 0 for c in comparison.constructs]},
        index=[c.construct for c in comparison.constructs],
    )
    return disclose(counts, k, complements=False)


def item_rows(items: tuple[ItemComparison, ...], counts: DisclosedTable, construct_withheld: str | None) -> list[dict]:
    """One row per question. `counts` is item × wave (analysis.trend.construct_counts over
    the questions' answers), so the organisation rule applies as for constructs; a
    construct withheld as a whole withholds its questions too."""
    reference, current = counts.counts.columns[:2]
    rows = []
    for i in items:
        withheld = (construct_withheld or _withheld(counts, i.item, reference) or _withheld(counts, i.item, current))
        rows.append({
            "item": i.item, "construct": i.construct, "breaks_trend": i.breaks_trend, "withheld": withheld,
            "reference_n": withheld or i.n_reference,
            "current_n": withheld or i.n_current,
            "prob_superiority": None if withheld else i.prob_superiority,
            "estimable": None if withheld else i.estimable,
            "ci90": None if withheld else i.ci90,
            "p_value": None if withheld else i.p_value,
        })
    return rows


def _figures(result: ConstructComparison) -> dict:
    """The figures every comparison row shows, headline or breakdown."""
    return {
        "withheld": None, "verdict": result.verdict,
        "reference_n": result.reference.n, "current_n": result.current.n,
        "reference_mean": result.reference.mean, "current_mean": result.current.mean,
        "difference": result.difference, "ci90": result.ci90, "ci_simultaneous": result.ci_simultaneous,
        "leaning": result.leaning, "method": result.method,
        "p_improve_adj": result.p_improve_adj, "p_noninferior_adj": result.p_noninferior_adj,
        "p_decline_adj": result.p_decline_adj, "material": result.material,
        "dip_within_margin": result.dip_within_margin,
    }


def _breakdown_row(result: ConstructComparison | Suppressed) -> dict:
    return {"withheld": result.reason, "verdict": "too_few"} if isinstance(result, Suppressed) else _figures(result)


def sector_rows(breakdown: dict[str, tuple[ConstructComparison | Suppressed, ...]], construct: str) -> list[dict]:
    """One row per group for one construct (a column of the grid); compare_by has
    already applied disclosure."""
    return [
        {"group": name, **_breakdown_row(next(r for r in results if r.construct == construct))}
        for name, results in breakdown.items()
    ]


def one_sector_rows(breakdown: dict[str, tuple[ConstructComparison | Suppressed, ...]], group: str) -> list[dict]:
    """One row per construct for one group (a row of the grid), with the same figures."""
    return [{"construct": result.construct, **_breakdown_row(result)} for result in breakdown[group]]


def trend_rows(points: tuple[TrendPoint, ...]) -> list[dict]:
    return [
        {"wave": p.wave, "n": p.withheld or p.n, "mean": p.mean, "ci90": p.ci90, "withheld": p.withheld}
        for p in points
    ]


def trust_rows(network: TrustNetwork) -> list[dict]:
    """Every block of every wave, then nothing else: the change per pair is its own table."""
    return [
        {"wave": wave.wave, "rater": b.rater, "target": b.target,
         "raters": b.withheld or b.raters,
         "mean": b.mean, "withheld": b.withheld}
        for wave in network.waves for b in wave.blocks
    ]


def nobody_row(**keys) -> dict:
    """A row for a group with no responses at all in a compared wave: nothing to show,
    and nothing that could be worked out."""
    return {**keys, "withheld": None, "verdict": "too_few", "reference_n": 0, "current_n": 0, "n": 0}


SIZES = ("reference_n", "current_n", "n", "raters")


def withhold_like(rows: list[dict], others: list[list[dict]], key: tuple[str, ...]) -> list[dict]:
    """One place's rows, withheld wherever the same row (by `key`) is withheld for another
    place of the survey: "all places" minus this place would otherwise give it away."""
    hidden = {tuple(row[k] for k in key) for other in others for row in other if row.get("withheld")}
    result = []
    for row in rows:
        if row.get("withheld") or tuple(row[k] for k in key) not in hidden:
            result.append(row)
            continue
        blank = {k: None for k in row}  # every figure goes; the labels stay
        kept = {k: row[k] for k in (*key, "construct", "margin", "breaks_trend") if k in row}
        sizes = {size: WITHHELD for size in SIZES if size in row}
        result.append({**blank, **kept, **sizes, "withheld": WITHHELD, "verdict": "too_few",
                       "dip_within_margin": False, "material": False})
    return result


def csv_records(rows: list[dict], columns: list[str]) -> list[list]:
    """Rows for a CSV file: intervals split into low and high, numbers to 4 places,
    a withheld cell as the words that say why."""
    records = []
    for row in rows:
        record = []
        for column in columns:
            if column.endswith("_low") or column.endswith("_high"):
                interval = _nested(row, column.rsplit("_", 1)[0])
                value = None if interval is None else interval[0 if column.endswith("_low") else 1]
            else:
                value = _nested(row, column)
            if isinstance(value, float):
                value = round(value, 4)
            elif isinstance(value, tuple):  # a list of names, e.g. the strata left out
                value = "; ".join(value)
            record.append("" if value is None else value)
        records.append(record)
    return records


def _nested(row: dict, column: str):
    """`adjusted.difference` reads an attribute of a nested result."""
    head, _, rest = column.partition(".")
    value = row.get(head)
    return getattr(value, rest, None) if rest and value is not None else value
