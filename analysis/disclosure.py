"""Disclosure control: the one place that decides what may be shown.

Every output that shows counts or statistics by group (pages, CSV, PDF) passes its
table through `disclose`. Written by hand: no maintained Python library does small-cell
suppression with this project's rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

K_INTERNAL = 5  # internal pages and aggregate exports
K_BRIEFING = 10  # PDF briefings
MIN_ORGANISATIONS = 3
PUBLIC_ROUNDING = 5


@dataclass(frozen=True)
class DisclosedTable:
    """Counts with the cells that must not be shown marked.

    `suppressed` marks cells and `reasons` says why, in the words a page shows;
    `row_total_suppressed` / `column_total_suppressed` mark the margins.
    """

    counts: pd.DataFrame
    suppressed: pd.DataFrame
    reasons: pd.DataFrame
    row_total_suppressed: pd.Series
    column_total_suppressed: pd.Series
    grand_total_suppressed: bool
    k: int

    @property
    def message(self) -> str:
        return f"fewer than {self.k} responses"

    def shown(self) -> pd.DataFrame:
        """The counts with suppressed cells as missing (pandas NA)."""
        return self.counts.astype("Int64").mask(self.suppressed)

    def rows(self) -> list[tuple[object, list[int | str], int | str]]:
        """Plain values for templates and CSV: (row label, cells, row total), each a count
        or, where withheld, the words that say why."""
        shown, totals = self.shown(), self.row_totals()
        return [
            (
                label,
                [self.reasons.at[label, column] if pd.isna(value) else int(value) for column, value in shown.loc[label].items()],
                WITHHELD if pd.isna(totals[label]) else int(totals[label]),
            )
            for label in shown.index
        ]

    def grand_total(self) -> int | str:
        """The table's total, or the words that say why it is withheld."""
        total = int(self.counts.to_numpy().sum())
        if not self.grand_total_suppressed:
            return total
        return f"fewer than {self.k}" if total < self.k else WITHHELD

    def row_totals(self) -> pd.Series:
        return self.counts.sum(axis=1).astype("Int64").mask(self.row_total_suppressed)

    def column_totals(self) -> pd.Series:
        return self.counts.sum(axis=0).astype("Int64").mask(self.column_total_suppressed)


WITHHELD = "withheld so a smaller group cannot be worked out"


def disclose(
    counts: pd.DataFrame,
    k: int = K_INTERNAL,
    organisations: pd.DataFrame | None = None,
    min_organisations: int = MIN_ORGANISATIONS,
    complements: bool = True,
) -> DisclosedTable:
    """Suppress cells with 0 < n < k, and cells drawn from fewer than `min_organisations`
    organisations where organisations are known (`organisations`, same shape: distinct
    organisations per cell, missing where not every response names its organisation);
    then suppress complements so no suppressed cell can be worked out by subtracting
    from its row or column total. A table that publishes no totals and no cell counts
    (a grid of means, say) passes `complements=False`: nothing can be subtracted there."""
    values = counts.fillna(0).to_numpy(dtype=float)
    too_few = (values > 0) & (values < k)
    too_few_organisations = np.zeros_like(too_few)
    if organisations is not None:
        orgs = organisations.reindex_like(counts).to_numpy(dtype=float)
        too_few_organisations = (values > 0) & ~np.isnan(orgs) & (orgs < min_organisations) & ~too_few
    primary = too_few | too_few_organisations
    suppressed = primary.copy()
    row_total_hidden = np.zeros(values.shape[0], dtype=bool)
    column_total_hidden = np.zeros(values.shape[1], dtype=bool)

    changed = complements
    while changed:
        changed = False
        for axis in (0, 1):
            lines = suppressed if axis == 0 else suppressed.T
            line_values = values if axis == 0 else values.T
            totals_hidden = row_total_hidden if axis == 0 else column_total_hidden
            for index in range(lines.shape[0]):
                if lines[index].sum() != 1 or totals_hidden[index]:
                    continue
                candidates = np.where(~lines[index] & (line_values[index] > 0))[0]
                if len(candidates) == 0:
                    totals_hidden[index] = True  # the total alone would give the cell away
                else:
                    smallest = candidates[np.argmin(line_values[index][candidates])]
                    lines[index, smallest] = True
                changed = True
    # The grand total minus everything shown is the sum of what is hidden: withhold it
    # when that sum is a single cell or a single row's or column's total.
    grand_total_hidden = bool(
        not complements
        or suppressed.sum() == 1 or row_total_hidden.sum() == 1 or column_total_hidden.sum() == 1
        or (0 < values.sum() < k)
    )
    frame = pd.DataFrame(suppressed, index=counts.index, columns=counts.columns)
    reasons = np.where(too_few, f"fewer than {k} responses", np.where(
        too_few_organisations, f"fewer than {min_organisations} organisations", np.where(suppressed, WITHHELD, "")))
    return DisclosedTable(
        counts=counts.fillna(0).astype(int),
        suppressed=frame,
        reasons=pd.DataFrame(reasons, index=counts.index, columns=counts.columns),
        row_total_suppressed=pd.Series(row_total_hidden, index=counts.index),
        column_total_suppressed=pd.Series(column_total_hidden, index=counts.columns),
        grand_total_suppressed=grand_total_hidden,
        k=k,
    )


def organisations_where_known(frame: pd.DataFrame, rows: str, columns: str, organisation: str = "organisation") -> pd.DataFrame:
    """Distinct organisations per cell of `rows` × `columns`, missing (NaN) where the frame
    has no organisation column or not every response in the cell names one: the shape
    `disclose` takes for its organisation rule."""
    if organisation not in frame.columns:
        return pd.DataFrame(dtype=float)
    return distinct_organisations(frame[organisation], [frame[rows], frame[columns]]).unstack()


def distinct_organisations(organisation: pd.Series, by) -> pd.Series:
    """Distinct organisations per group, NaN where not every response in the group names
    one: the rule "where organisations are known" (analysis.network applies the same rule
    to integer codes, for speed)."""
    grouped = organisation.groupby(by, observed=True)
    return grouped.nunique().where(grouped.count() == grouped.size()).astype(float)


def round_public(count: int) -> int:
    """Counts shown to the public are rounded to the nearest 5."""
    return int(PUBLIC_ROUNDING * round(count / PUBLIC_ROUNDING))
