"""Disclosure control: the one place that decides what may be shown.

Every output that shows counts or statistics by group (pages, CSV, PDF) passes its
table through `disclose`. Written by hand: no maintained Python library does small-cell
suppression with this project's rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linprog

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


# --- the per-wave decision ----------------------------------------------------------------

ANY_ANSWER = "(any answer)"  # the "construct" of responding at all: the counts a dashboard shows
NOT_GIVEN = "(sector not given)"  # responses without a sector: one more group, everywhere
ALL = None  # in a cell key: every place, or every sector


@dataclass(frozen=True)
class WaveDecision:
    """Which cells of one wave are withheld at one threshold, decided once from that
    wave's own counts and used by every view of the wave, whichever waves or place it is
    compared with, so no combination of views can give a withheld cell away.

    A cell is (construct, place, sector): ANY_ANSWER for the responses themselves, a
    construct code for the respondents who have a score for it; ALL (None) for every
    place or every sector, so (c, p, ALL) is a place's total and (c, ALL, ALL) the
    wave's. `withheld` maps each withheld cell to the words a page shows."""

    wave: str
    k: int
    withheld: dict[tuple[str, str | None, str | None], str]
    organisations_known: bool

    def reason(self, construct: str, place: str | None = ALL, sector: str | None = ALL) -> str | None:
        return self.withheld.get((construct, place, sector))


def organisations_recorded(organisation: pd.Series | None) -> bool:
    """Whether a survey records organisations at all: then the organisation rule applies to
    every cell, responses without one counting together as one more organisation."""
    return organisation is not None and bool(organisation.notna().any())


def decide_waves(
    responses: pd.DataFrame,
    scores: pd.DataFrame,
    waves: list[str],
    k: int = K_INTERNAL,
    min_organisations: int = MIN_ORGANISATIONS,
    stricter_than: dict[str, WaveDecision] | None = None,
    organisations_known: bool | None = None,
    changed_late: dict[str, dict[tuple, str]] | None = None,
) -> dict[str, WaveDecision]:
    """The decision for each wave: over the place × sector table (with place totals,
    sector totals across places and the wave's total) of responding at all and of each
    construct. `responses` is the whole survey (every place), so a decision never
    depends on the place or waves a page happens to show. `stricter_than` passes the
    decisions at a lower threshold, whose withheld cells stay withheld here (the public
    k = 10 decision refines the internal k = 5 one). The wave's total number of responses
    is never withheld: counting who answered is not an answer. `organisations_known`
    says whether the survey records organisations at all (from `responses` if not given:
    pass the survey's own answer, so every page applies the same rule). `changed_late`
    names, per wave, the (place, sector) groups whose count changed by fewer than k
    after the wave closed (see `changed_after_closing`): they stay withheld, the wave's
    total from every construct (its number of responses stays public)."""
    place = responses["place"].astype(object) if "place" in responses.columns else pd.Series("", index=responses.index)
    place = place.where(place.notna(), "")
    sector = responses["sector"].astype(object)
    sector = sector.where(sector.notna(), NOT_GIVEN)
    organisation = responses["organisation"] if "organisation" in responses.columns else None
    known = organisations_recorded(organisation) if organisations_known is None else organisations_known
    places, sectors = sorted(place.unique()), sorted(sector.unique())
    # Integer codes once, so each table below is a bincount rather than a group-by.
    codes = _Codes(
        pd.Categorical(place, categories=places).codes, pd.Categorical(sector, categories=sectors).codes,
        pd.factorize(organisation)[0] + 1 if known else None,  # 0: no organisation named, one more
        places, sectors,
    )
    decisions = {}
    for wave in waves:
        in_wave = (responses["wave"] == wave).to_numpy()
        withheld: dict[tuple, str] = {}
        earlier = stricter_than[wave].withheld if stricter_than and wave in stricter_than else {}
        late = (changed_late or {}).get(wave, {})
        for construct in [ANY_ANSWER, *scores.columns]:
            rows = in_wave if construct == ANY_ANSWER else in_wave & scores[construct].notna().to_numpy()
            forced = {key[1:]: reason for key, reason in earlier.items() if key[0] == construct}
            table = codes.table(rows)
            if construct == ANY_ANSWER:
                forced.update({cell: reason for cell, reason in late.items() if cell not in forced})
                dashboard = table["counts"], _protect(table, k, min_organisations, forced, True)
                reasons = dashboard[1]
            elif (np.array_equal(rows, in_wave) and rows.sum() >= k and table.get("all", np.inf) >= min_organisations
                  and (ALL, ALL) not in late and forced.keys() <= dashboard[1].keys()):
                # Everyone answered: the construct's table is the dashboard's (unless the
                # wave is too small for any of its answers to be shown, or an earlier
                # threshold withheld more of the construct than the dashboard withholds).
                reasons = dashboard[1]
            else:
                # A group withheld from the counts, for any reason, is withheld from every
                # construct: where everyone answered the construct its counts are the
                # dashboard's, so a complement shown there would undo the one withheld here.
                forced.update({cell: reason for cell, reason in dashboard[1].items() if cell not in forced})
                if (ALL, ALL) in late:
                    forced.setdefault((ALL, ALL), late[(ALL, ALL)])
                reasons = _protect_beside_the_dashboard(table, k, min_organisations, forced, *dashboard)
            withheld.update({(construct, *cell): reason for cell, reason in reasons.items()})
        decisions[wave] = WaveDecision(wave, k, withheld, known)
    return decisions


def decide_in_turn(
    responses: pd.DataFrame,
    scores: pd.DataFrame,
    waves: list[str],
    thresholds: list[tuple[int, int]],
    organisations_known: bool | None = None,
    changed_late: Callable[[int], dict[str, dict[tuple, str]]] | None = None,
) -> list[dict[str, WaveDecision]]:
    """The decisions at each (k, fewest organisations) of `thresholds` in turn, each
    refining the one before (its withheld cells stay withheld): the last is the one in
    force. A raised threshold then only ever withholds more, so pages kept from before
    the raise, beside pages after it, show nothing the oldest did not. `changed_late`
    gives `decide_waves` its groups changed after closing at a threshold."""
    steps: list[dict[str, WaveDecision]] = []
    for k, min_organisations in thresholds:
        steps.append(decide_waves(responses, scores, waves, k, min_organisations,
                                  stricter_than=steps[-1] if steps else None,
                                  organisations_known=organisations_known,
                                  changed_late=changed_late(k) if changed_late else None))
    return steps


def _protect_beside_the_dashboard(table: dict, k: int, min_organisations: int, forced: dict,
                                  dashboard: pd.DataFrame, dashboard_withheld: dict) -> dict:
    """`_protect` for a construct's table, read beside the dashboard's counts: a
    construct's count is never more than the responses, so what the dashboard shows (or
    leaves between its withheld figures) caps it. Figures whose count the dashboard shows
    are the last choice as complements; then, while the two tables together pin a
    withheld count, a figure shown beside it is withheld too."""
    figures, shown = _figures(table["counts"]), _figures(dashboard)
    on_dashboard = frozenset(key for key, n in figures.items() if n == shown[key] and key not in dashboard_withheld)
    if table["counts"].equals(dashboard):  # everyone answered the construct: the tables are one
        return _protect(table, k, min_organisations, forced, False, on_dashboard)
    figures[(ALL, ALL)] = int(table["counts"].to_numpy().sum())
    while True:
        reasons = _protect(table, k, min_organisations, forced, False, on_dashboard)
        pinned = _pinned_beside_the_dashboard(table["counts"], reasons, dashboard, dashboard_withheld)
        if pinned is None:
            return reasons
        # Shown figures in a line with the pinned one first (they share its place or its
        # sector, ALL for a total), those the dashboard does not show first, smallest first.
        beside = sorted((not (key[0] == pinned[0] or key[1] == pinned[1]), key in on_dashboard, n, str(key), key)
                        for key, n in figures.items() if key not in reasons and n > 0)
        if not beside:
            return reasons
        forced = {**forced, beside[0][-1]: WITHHELD}


def _pinned_beside_the_dashboard(counts: pd.DataFrame, reasons: dict, dashboard: pd.DataFrame,
                                 dashboard_withheld: dict) -> tuple | None:
    """A withheld figure of a construct's table whose count the two tables pin (fewer
    than two whole numbers are feasible), by linear programming over each cell's
    construct count c and dashboard count d: every figure shown, what each withheld
    figure's words say (`_words_bound`), and 0 ≤ c ≤ d. None when there is none."""
    places, sectors = list(counts.index), list(counts.columns)
    size = len(places) * len(sectors)

    def members(key) -> np.ndarray:
        place, sector = key
        return np.array([(place is ALL or p == place) and (sector is ALL or s == sector)
                         for p in places for s in sectors], dtype=float)

    construct, responses = _figures(counts), _figures(dashboard)
    construct[(ALL, ALL)], responses[(ALL, ALL)] = int(counts.to_numpy().sum()), int(dashboard.to_numpy().sum())
    equal_rows, equal_values, upper_rows, upper_values = [], [], [], []
    for figures, withheld, offset in ((construct, reasons, 0), (responses, dashboard_withheld, size)):
        for key, n in figures.items():
            row = np.zeros(2 * size)
            row[offset:offset + size] = members(key)
            if key not in withheld or (key == (ALL, ALL) and offset):
                equal_rows.append(row)
                equal_values.append(n)
            elif n > 0:
                low, high = _words_bound(withheld[key])
                upper_rows += [-row] + ([row] if np.isfinite(high) else [])
                upper_values += [-low] + ([high] if np.isfinite(high) else [])
    capped = np.hstack([np.eye(size), -np.eye(size)])  # c ≤ d, cell by cell
    # The construct's wave count, where it is the public number of responses, is no secret.
    withheld = {key: np.append(members(key), np.zeros(size)) for key in reasons if construct.get(key, 0) > 0
                and not (key == (ALL, ALL) and construct[key] == responses[key])}
    return _first_pinned(withheld, {key: construct[key] for key in withheld},
                         A_ub=np.vstack([np.array(upper_rows).reshape(-1, 2 * size), capped]),
                         b_ub=np.concatenate([upper_values, np.zeros(size)]),
                         A_eq=np.array(equal_rows), b_eq=equal_values, bounds=(0, None))


def _first_pinned(figures: dict, truth: dict, needed: dict | None = None, **constraints) -> tuple | None:
    """The first of `figures` (key → its row over the variables) that the linear
    `constraints` (linprog's) cannot move `needed` (a whole one unless given) from its
    `truth`, either way; None when each can. A few joint programmes (the sum of those
    left, pushed up, then down) show most figures can move; each left after that is
    tried alone."""
    needed = needed or dict.fromkeys(figures, 1)
    left = sorted(figures, key=str)
    for sign in (1, -1):
        while left:
            solved = linprog(-sign * sum(figures[key] for key in left), method="highs", **constraints)
            if solved.status != 0:
                break  # unbounded: tried one by one below
            moved = {key for key in left if sign * (figures[key] @ solved.x - truth[key]) >= needed[key] - 1e-6}
            if not moved:
                break
            left = [key for key in left if key not in moved]
    for key in left:
        ends = [linprog(-sign * figures[key], method="highs", **constraints) for sign in (1, -1)]
        if any(end.status not in (0, 3) for end in ends):
            return key  # the solver failed: taken as pinned, the cautious reading
        if not any(end.status == 3 or sign * (-sign * end.fun - truth[key]) >= needed[key] - 1e-6
                   for sign, end in zip((1, -1), ends)):
            return key
    return None


def _figures(counts: pd.DataFrame) -> dict[tuple, int]:
    """A place × sector table's cells, place totals and sector totals by key."""
    figures = {(p, s): int(counts.at[p, s]) for p in counts.index for s in counts.columns}
    figures.update({(p, ALL): int(n) for p, n in counts.sum(axis=1).items()})
    figures.update({(ALL, s): int(n) for s, n in counts.sum(axis=0).items()})
    return figures


@dataclass(frozen=True)
class _Codes:
    """Each response's place, sector and organisation as integer codes."""

    place: np.ndarray
    sector: np.ndarray
    organisation: np.ndarray | None  # 0 for none named; None when the rule is skipped
    places: list
    sectors: list

    def table(self, rows: np.ndarray) -> dict:
        """Counts per place × sector of these rows, with distinct organisations per cell,
        per place, per sector and overall where the rule applies."""
        shape = (len(self.places), len(self.sectors))
        cell = self.place[rows] * shape[1] + self.sector[rows]
        counts = np.bincount(cell, minlength=shape[0] * shape[1]).reshape(shape)
        table = {"counts": pd.DataFrame(counts, index=self.places, columns=self.sectors)}
        if self.organisation is not None:
            organisation = self.organisation[rows]
            table["cells"] = pd.DataFrame(_distinct(cell, organisation, shape[0] * shape[1]).reshape(shape),
                                          index=self.places, columns=self.sectors)
            table["places"] = pd.Series(_distinct(self.place[rows], organisation, shape[0]), index=self.places)
            table["sectors"] = pd.Series(_distinct(self.sector[rows], organisation, shape[1]), index=self.sectors)
            table["all"] = len(np.unique(organisation))
        return table


def _distinct(group: np.ndarray, organisation: np.ndarray, size: int) -> np.ndarray:
    """Distinct organisation codes per group (code 0, none named, counts as one)."""
    pairs = np.unique(group.astype(np.int64) * (int(organisation.max(initial=0)) + 1) + organisation)
    return np.bincount(pairs // (int(organisation.max(initial=0)) + 1), minlength=size)


def _protect(table: dict, k: int, min_organisations: int, forced: dict, total_public: bool,
             known: frozenset = frozenset()) -> dict:
    """Primary suppression of the table's cells and margins, then complementary
    suppression until no line (a row or column with its total, or the totals with the
    grand total) has exactly one unknown, no withheld count is fixed by the lines
    together, and every group withheld for itself keeps its mean uncertain, so nothing
    withheld can be worked out by subtraction. `known` names figures a reader has from
    another table (a construct's count where it equals the dashboard's): chosen as
    complements only when nothing else will do. Returns {(place, sector): reason} with
    ALL for margins."""
    counts = table["counts"]
    values = counts.to_numpy(dtype=float)
    rows, columns = values.sum(axis=1), values.sum(axis=0)
    grand = values.sum()
    few = f"fewer than {k} responses"
    few_orgs = f"fewer than {min_organisations} organisations"
    reasons: dict[tuple, str] = {}

    def primary(key, n, organisations):
        if 0 < n < k:
            reasons[key] = few
        elif organisations is not None and n > 0 and organisations < min_organisations:
            reasons[key] = few_orgs
        elif key in forced:
            reasons[key] = forced[key]

    for i, p in enumerate(counts.index):
        for j, s in enumerate(counts.columns):
            primary((p, s), values[i, j], table["cells"].iat[i, j] if "cells" in table else None)
        primary((p, ALL), rows[i], table["places"].iat[i] if "places" in table else None)
    for j, s in enumerate(counts.columns):
        primary((ALL, s), columns[j], table["sectors"].iat[j] if "sectors" in table else None)
    if not total_public:
        primary((ALL, ALL), grand, table.get("all"))
    else:
        reasons.pop((ALL, ALL), None)
    # Withheld for themselves: their means need room even if their words change below.
    for_themselves = frozenset(key for key, reason in reasons.items() if reason != WITHHELD)

    # Each line: its entries (key, count) and its total's key.
    lines = [([((p, s), values[i, j]) for j, s in enumerate(counts.columns)], ((p, ALL), rows[i]))
             for i, p in enumerate(counts.index)]
    lines += [([((p, s), values[i, j]) for i, p in enumerate(counts.index)], ((ALL, s), columns[j]))
              for j, s in enumerate(counts.columns)]
    lines.append(([((p, ALL), rows[i]) for i, p in enumerate(counts.index)], ((ALL, ALL), grand)))
    lines.append(([((ALL, s), columns[j]) for j, s in enumerate(counts.columns)], ((ALL, ALL), grand)))

    def withhold_one_of(figures) -> bool:
        """Withhold the first figure of `figures` (count, key) that is shown, has
        responses and may be withheld, preferring one the reader has from nowhere else."""
        open_ = [(n, key) for n, key in figures
                 if key not in reasons and n > 0 and not (key == (ALL, ALL) and total_public)]
        for choice in ([f for f in open_ if f[1] not in known], open_):
            if choice:
                reasons[choice[0][1]] = WITHHELD
                return True
        return False

    def complete_lines() -> None:
        changed = True
        while changed:
            changed = False
            for entries, (total_key, total) in lines:
                unknown = [key for key, n in entries if key in reasons and n > 0]
                total_hidden = total_key in reasons and total > 0
                if len(unknown) + total_hidden != 1:
                    continue
                # The smallest entry shown, else the line's total (never the public
                # number of responses: withhold_one_of leaves it out).
                if withhold_one_of(_smallest_first((n, key) for key, n in entries)) or (
                        not total_hidden and withhold_one_of([(total, total_key)])):
                    changed = True

    def withhold_beside(pinned) -> bool:
        """Withhold the smallest figure shown in a line with `pinned`, else in any line
        (the lines can tie a figure to it through others)."""
        figures = [[(n, key) for entries, total in (lines if anywhere else _lines_with(lines, pinned))
                    for key, n in [*entries, total]] for anywhere in (False, True)]
        return any(withhold_one_of(_smallest_first(found)) for found in figures)

    def settle() -> None:
        complete_lines()
        while True:
            # Lines that each keep two unknowns can still fix one together (a place's row
            # less the sectors' totals, say): while any withheld count is fixed by all the
            # lines at once, withhold a figure shown beside it.
            if (fixed := _fixed_by_all_lines(lines, reasons)) is not None:
                if not withhold_beside(fixed):
                    return
            # "Fewer than k" says 1 to k − 1, and the lines can pin such counts with it
            # (two that are all a line withholds, 8 between them at k = 5, are both 4; the
            # dashboard caps a construct's counts the same way). Withhold a figure shown
            # beside the pinned one or, where none is left (beside the public total), say
            # only that it is withheld.
            elif (pinned := _pinned_by_their_words(lines, reasons, known)) is not None:
                if not withhold_beside(pinned):
                    if pinned in known:
                        return  # its bound is the dashboard's, whatever its words say
                    reasons[pinned] = WITHHELD
            else:
                return
            complete_lines()

    settle()
    # Counts alone are not enough for a large group withheld for itself (from too few
    # organisations, say): beside a few hidden responses its mean would be bounded
    # narrowly. Withhold more beside it until its mean can move over half the scale.
    while (beside := _short_of_room(lines, reasons, for_themselves)) is not None:
        if not withhold_one_of(beside):
            break
        settle()
    return reasons


def _words_bound(reason: str) -> tuple[float, float]:
    """What a withheld figure's words tell a reader of its count: "fewer than k responses"
    is 1 to k − 1; anything else, at least 1."""
    words = reason.split()
    if len(words) == 4 and words[:2] == ["fewer", "than"] and words[3] == "responses":
        return 1, int(words[2]) - 1
    return 1, np.inf


def _pinned_by_their_words(lines: list, reasons: dict, known: frozenset) -> tuple | None:
    """A withheld count that the lines, read with what the withheld figures' words say
    of them (each within its `_words_bound`, and no more than the dashboard's count where
    `known` has it), pin to fewer than two whole numbers; None when there is none. Only
    counts whose words bound them from above are tried: the rest are pinned only when
    the lines alone fix them (`_fixed_by_all_lines`)."""
    counts = _withheld_counts(lines, reasons)
    hidden = list(counts)
    bounds = {key: (1, counts[key]) if key in known else _words_bound(reasons[key]) for key in hidden}
    bounded = [key for key in hidden if np.isfinite(bounds[key][1])]
    if len(bounded) < 2:
        return None  # one alone is never pinned: the complements saw to that
    column = {key: i for i, key in enumerate(hidden)}
    equations, values = _line_equations(lines, column)
    return _first_pinned({key: np.eye(len(hidden))[column[key]] for key in bounded}, counts,
                         A_eq=equations, b_eq=values, bounds=[bounds[key] for key in hidden])


def _short_of_room(lines: list, reasons: dict, for_themselves: frozenset) -> list | None:
    """The figures that could be withheld (count, key) beside the first group withheld
    for itself (`for_themselves`) whose mean the lines could pin to less than half the
    1–5 scale; None when there is none.

    A group's room is how far the answers withheld beside it let its sum move while
    every line's total stays as shown, with every withheld group's mean anywhere in 1–5
    around a middle of 3 (so ±2 points per response): the most y can reach for it
    under Σ y = 0 along each line and |y| ≤ 2n for each withheld group. Room of 2n (its
    own whole range) keeps half the scale open wherever its true mean lies; the middle
    stands in for the answers themselves, so the decision depends on counts alone."""
    hidden = list(_withheld_counts(lines, reasons).items())
    own = {key: 2 * n for key, n in hidden if key in for_themselves}
    if not own:
        return None
    column = {key: i for i, (key, _) in enumerate(hidden)}
    equations, _ = _line_equations(lines, column)
    short = _first_pinned({key: np.eye(len(hidden))[column[key]] for key in own}, dict.fromkeys(own, 0), own,
                          A_eq=equations, b_eq=np.zeros(len(equations)),
                          bounds=[(-2 * n, 2 * n) for _, n in hidden])
    if short is None:
        return None
    shown = _smallest_first({(m, other) for entries, total in _lines_with(lines, short)
                             for other, m in [*entries, total] if other not in reasons and m > 0})
    if not shown:  # nothing shown beside it: anything shown that the lines tie to it
        shown = _smallest_first({(m, other) for entries, total in lines for other, m in [*entries, total]
                                 if other not in reasons and m > 0})
    # The smallest that could make up the shortfall on its own first, then the largest.
    return [f for f in shown if f[0] >= own[short] / 2] + sorted(shown, key=lambda f: -f[0])


def _fixed_by_all_lines(lines: list, reasons: dict) -> tuple | None:
    """A withheld count (of a cell or a total, with responses) that the figures shown fix
    when every line is read as one equation in the withheld counts: its own unit row adds
    nothing to the lines' rank. None when no withheld count is fixed."""
    hidden = list(_withheld_counts(lines, reasons))
    if not hidden:
        return None
    column = {key: i for i, key in enumerate(hidden)}
    equations, _ = _line_equations(lines, column)
    rank = np.linalg.matrix_rank(equations)
    for key in hidden:
        unit = np.zeros(len(hidden))
        unit[column[key]] = 1.0
        if np.linalg.matrix_rank(np.vstack([equations, unit])) == rank:
            return key
    return None


def _line_equations(lines: list, column: dict) -> tuple[np.ndarray, list[float]]:
    """Each line, with a withheld figure in it, as one equation in the withheld counts
    (`column`: each one's place among the variables): its withheld entries less its
    withheld total equal its total, if shown, less its entries shown."""
    rows, values = [], []
    for entries, (total_key, total) in lines:
        row = np.zeros(len(column))
        for key, _ in entries:
            if key in column:
                row[column[key]] = 1.0
        if total_key in column:
            row[column[total_key]] = -1.0
        if row.any():
            rows.append(row)
            values.append((0 if total_key in column else total) - sum(n for key, n in entries if key not in column))
    return np.array(rows), values


def _withheld_counts(lines: list, reasons: dict) -> dict:
    """Every withheld figure with responses in the lines and its count, in the keys'
    order as text (so each decision is the same from run to run)."""
    counts = {key: n for entries, total in lines for key, n in [*entries, total] if key in reasons and n > 0}
    return {key: counts[key] for key in sorted(counts, key=str)}


def _lines_with(lines: list, key) -> list:
    """The lines a figure is in, as an entry or as their total."""
    return [(entries, total) for entries, total in lines if key in {member for member, _ in [*entries, total]}]


def _smallest_first(figures) -> list:
    """Figures (count, key) smallest first, ties in the keys' order as text."""
    return sorted(figures, key=lambda figure: (figure[0], str(figure[1])))


def decided_table(counts: pd.DataFrame, decision: WaveDecision) -> DisclosedTable:
    """A wave's sector × place counts (the dashboard's table) with exactly the cells,
    sector totals and place totals its decision withholds; the total is always shown."""
    reasons = pd.DataFrame(
        [[decision.reason(ANY_ANSWER, place, sector) or "" for place in counts.columns] for sector in counts.index],
        index=counts.index, columns=counts.columns, dtype=object)
    return DisclosedTable(
        counts=counts.fillna(0).astype(int),
        suppressed=reasons != "",
        reasons=reasons,
        row_total_suppressed=pd.Series([bool(decision.reason(ANY_ANSWER, ALL, s)) for s in counts.index],
                                       index=counts.index, dtype=bool),
        column_total_suppressed=pd.Series([bool(decision.reason(ANY_ANSWER, p, ALL)) for p in counts.columns],
                                          index=counts.columns, dtype=bool),
        grand_total_suppressed=False,
        k=decision.k,
    )


def changed_after_closing(frame: pd.DataFrame, closed_at, k: int) -> dict[tuple, str]:
    """The groups of a closed wave whose count changed by fewer than k between two of its
    published versions: as it closed, then after each later change (an import, which
    stamps its responses with one time). Showing both versions of such a group would give
    away the few responses that made the difference. `frame` has one row per response:
    `place`, `sector` and `submitted_at`, and optionally `change`: 1 for a response
    added then, −1 for one taken away then (an undone import). Covers each place × sector
    cell, each place's and each sector's total, and the wave's total (its number of
    responses is public anyway; its answers are not). Every two versions are compared,
    not only one and the next: a reader can keep any of them (twelve imported then ten
    taken away leave two)."""
    if closed_at is None or frame.empty:
        return {}
    times = pd.to_datetime(frame["submitted_at"], utc=True)
    closed = pd.Timestamp(closed_at).tz_localize("UTC") if pd.Timestamp(closed_at).tzinfo is None \
        else pd.Timestamp(closed_at)
    boundaries = [closed, *sorted(set(times[times > closed]))]
    if len(boundaries) < 2:
        return {}
    place = frame["place"].astype(object).where(frame["place"].notna(), "")
    sector = frame["sector"].astype(object).where(frame["sector"].notna(), NOT_GIVEN)
    places, sectors = sorted(place.unique()), sorted(sector.unique())

    change = frame["change"].fillna(1) if "change" in frame.columns else pd.Series(1, index=frame.index)

    def counts(until) -> dict[tuple, int]:
        rows = times <= until
        table = change[rows].groupby([place[rows], sector[rows]]).sum().unstack(fill_value=0).reindex(
            index=places, columns=sectors, fill_value=0)
        cells = {(p, s): int(table.at[p, s]) for p in places for s in sectors}
        cells.update({(p, ALL): int(table.loc[p].sum()) for p in places})
        cells.update({(ALL, s): int(table[s].sum()) for s in sectors})
        cells[(ALL, ALL)] = int(change[rows].sum())
        return cells

    versions = [counts(until) for until in boundaries]
    reason = f"changed by fewer than {k} responses after the wave closed"
    return {cell: reason for i, before in enumerate(versions) for after in versions[i + 1:]
            for cell in after if 0 < abs(after[cell] - before[cell]) < k}


def decide_trust(
    raters: pd.DataFrame,
    decisions: dict[str, WaveDecision],
    k: int = K_INTERNAL,
    min_organisations: int = MIN_ORGANISATIONS,
    stricter_than: dict[str, dict[tuple, str]] | None = None,
) -> dict[str, dict[tuple, str]]:
    """Which trust blocks of each wave are withheld, for every place and all places
    together, decided once from the wave's own raters (like `decide_waves`).

    `raters` has one row per rater and target sector: `wave`, `place`, `sector` (the
    rater's), `target` and `organisation`. A block (place, rater sector, target) is
    withheld with fewer than k raters, fewer than `min_organisations` organisations where
    the survey records them (none named counting as one more), or where the wave withholds
    the rater sector's count in that place, for any reason (`decisions`). Then, along
    each line of places with their all-places block, complements as for counts: a single
    withheld place would be the all-places block minus the others. `stricter_than` passes the blocks
    withheld at a lower threshold: they stay withheld. Returns per wave
    {(place or ALL, rater, target): reason}."""
    result: dict[str, dict[tuple, str]] = {}
    if raters.empty:
        return result
    place = raters["place"].astype(object).where(raters["place"].notna(), "")
    frame = raters.assign(place=place)
    for wave, decision in decisions.items():
        in_wave = frame[frame["wave"] == wave]
        withheld: dict[tuple, str] = {}
        earlier = (stricter_than or {}).get(wave, {})
        # Counts and organisations per block and place, and per block, in a few group-bys
        # rather than several per block (a survey has dozens of blocks a wave).
        by_place = in_wave.groupby(["sector", "target", "place"], observed=True)
        blocks: dict[tuple, dict] = {}
        for (rater, target, where), n in by_place.size().items():
            blocks.setdefault((rater, target), {})[where] = int(n)
        organisations: dict = {}
        if decision.organisations_known:
            marked = in_wave.assign(unknown=in_wave["organisation"].isna())
            for keys in (["sector", "target", "place"], ["sector", "target"]):
                grouped = marked.groupby(keys, observed=True)
                # Organisations named, and one more where a rater named none.
                organisations.update(
                    (grouped["organisation"].nunique() + grouped["unknown"].any().astype(int)).to_dict())
        for (rater, target), counts in sorted(blocks.items()):
            reasons = {}
            for where in [*sorted(counts), ALL]:
                n = sum(counts.values()) if where is ALL else counts[where]
                orgs = organisations.get((rater, target) if where is ALL else (rater, target, where))
                # A rater sector whose count the wave withholds here (too small, or so a
                # smaller group cannot be worked out) withholds its blocks whole: a block's
                # raters are nearly its respondents, and a mean shown without its count
                # still gives the count away beside the all-places block (two places'
                # means and their total fix each place's share).
                small = decision.reason(ANY_ANSWER, where, rater)
                if 0 < n < k:
                    reasons[where] = f"fewer than {k} responses"
                elif orgs is not None and orgs < min_organisations:
                    reasons[where] = f"fewer than {min_organisations} organisations"
                elif small:
                    reasons[where] = small
                elif (where, rater, target) in earlier:
                    reasons[where] = earlier[(where, rater, target)]
            _complete_places(counts, reasons)
            withheld.update({(where, rater, target): reason for where, reason in reasons.items()})
        result[wave] = withheld
    return result


def _complete_places(counts: dict, reasons: dict) -> None:
    """Complements along a trust block's line of places and its all-places block: while
    the all-places block is shown, no place withheld alone (it would be the all-places
    block less the others), and no block withheld for itself beside fewer raters'
    worth of others withheld than its own (their answers would bound its mean: as many
    again keep half the scale open wherever its mean lies, as for counts).
    Withholds the smallest place that is enough, else the largest, else the all-places
    block."""
    while ALL not in reasons:
        hidden = {p: counts[p] for p in counts if p in reasons}
        needed = max([1 if len(hidden) == 1 else 0] + [
            n - (sum(hidden.values()) - n) for p, n in hidden.items() if reasons[p] != WITHHELD])
        if needed <= 0:
            return
        shown = sorted((counts[p], str(p), p) for p in counts if p not in reasons)
        enough = [figure for figure in shown if figure[0] >= needed]
        if shown:
            reasons[(enough[0] if enough else shown[-1])[2]] = WITHHELD
        else:
            reasons[ALL] = WITHHELD

