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
    after the wave closed (see `changed_after_closing`): they stay withheld."""
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
        for construct in [ANY_ANSWER, *scores.columns]:
            rows = in_wave if construct == ANY_ANSWER else in_wave & scores[construct].notna().to_numpy()
            forced = {key[1:]: reason for key, reason in earlier.items() if key[0] == construct}
            if construct == ANY_ANSWER:
                forced.update({cell: reason for cell, reason in (changed_late or {}).get(wave, {}).items()
                               if cell not in forced})
            if construct != ANY_ANSWER:
                # A group withheld from the counts, for any reason, is withheld from every
                # construct: where everyone answered the construct its counts are the
                # dashboard's, so a complement shown there would undo the one withheld here.
                forced.update({key[1:]: reason for key, reason in withheld.items()
                               if key[0] == ANY_ANSWER and key[1:] not in forced})
            table = codes.table(rows)
            for cell, reason in _protect(table, k, min_organisations, forced, construct == ANY_ANSWER).items():
                withheld[(construct, *cell)] = reason
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


def _protect(table: dict, k: int, min_organisations: int, forced: dict, total_public: bool) -> dict:
    """Primary suppression of the table's cells and margins, then complementary
    suppression until no line (a row or column with its total, or the totals with the
    grand total) has exactly one unknown, so nothing withheld can be worked out by
    subtraction. Returns {(place, sector): reason} with ALL for margins."""
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

    # Each line: its entries (key, count) and its total's key.
    lines = [([((p, s), values[i, j]) for j, s in enumerate(counts.columns)], ((p, ALL), rows[i]))
             for i, p in enumerate(counts.index)]
    lines += [([((p, s), values[i, j]) for i, p in enumerate(counts.index)], ((ALL, s), columns[j]))
              for j, s in enumerate(counts.columns)]
    lines.append(([((p, ALL), rows[i]) for i, p in enumerate(counts.index)], ((ALL, ALL), grand)))
    lines.append(([((ALL, s), columns[j]) for j, s in enumerate(counts.columns)], ((ALL, ALL), grand)))
    def complete_lines() -> None:
        changed = True
        while changed:
            changed = False
            for entries, (total_key, total) in lines:
                unknown = [key for key, n in entries if key in reasons and n > 0]
                total_hidden = total_key in reasons and total > 0
                if len(unknown) + total_hidden != 1:
                    continue
                candidates = [(n, str(key), key) for key, n in entries if key not in reasons and n > 0]
                # Never the wave's total as a complement, even a construct's: where everyone
                # answered the construct it is the wave's number of responses, which is public.
                if candidates:
                    reasons[min(candidates)[2]] = WITHHELD
                elif not total_hidden and not (total_key == (ALL, ALL) and total_public):
                    reasons[total_key] = WITHHELD
                else:
                    continue
                changed = True

    complete_lines()
    # Lines that each keep two unknowns can still fix one together (a place's row less the
    # sectors' totals, say): while any withheld count is fixed by all the lines at once,
    # withhold the smallest figure shown beside it, and complete the lines again.
    while (fixed := _fixed_by_all_lines(lines, reasons)) is not None:
        beside = [(n, str(key), key) for entries, total in lines if fixed in {k for k, _ in [*entries, total]}
                  for key, n in [*entries, total]
                  if key not in reasons and n > 0 and not (key == (ALL, ALL) and total_public)]
        if not beside:
            break
        reasons[min(beside)[2]] = WITHHELD
        complete_lines()
    return reasons


def _fixed_by_all_lines(lines: list, reasons: dict) -> tuple | None:
    """A withheld count (of a cell or a total, with responses) that the figures shown fix
    when every line is read as one equation in the withheld counts: its own unit row adds
    nothing to the lines' rank. None when no withheld count is fixed."""
    hidden = sorted({key for entries, total in lines for key, n in [*entries, total] if key in reasons and n > 0},
                    key=str)
    if not hidden:
        return None
    column = {key: i for i, key in enumerate(hidden)}
    rows = []
    for entries, (total_key, _) in lines:
        row = np.zeros(len(hidden))
        for key, _ in entries:
            if key in column:
                row[column[key]] = 1.0
        if total_key in column:
            row[column[total_key]] = -1.0
        if row.any():
            rows.append(row)
    equations = np.array(rows)
    rank = np.linalg.matrix_rank(equations)
    for key in hidden:
        unit = np.zeros(len(hidden))
        unit[column[key]] = 1.0
        if np.linalg.matrix_rank(np.vstack([equations, unit])) == rank:
            return key
    return None


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
    `place`, `sector` and `submitted_at`. Covers each place × sector cell, each place's
    and each sector's total; the wave's total is public anyway."""
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

    def counts(until) -> dict[tuple, int]:
        rows = times <= until
        table = pd.crosstab(place[rows], sector[rows]).reindex(index=places, columns=sectors, fill_value=0)
        cells = {(p, s): int(table.at[p, s]) for p in places for s in sectors}
        cells.update({(p, ALL): int(table.loc[p].sum()) for p in places})
        cells.update({(ALL, s): int(table[s].sum()) for s in sectors})
        return cells

    versions = [counts(until) for until in boundaries]
    reason = f"changed by fewer than {k} responses after the wave closed"
    return {cell: reason for before, after in zip(versions, versions[1:])
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
            hidden_places = [p for p in counts if p in reasons]
            if len(hidden_places) == 1 and ALL not in reasons:
                others = sorted((counts[p], str(p)) for p in counts if p not in reasons)
                reasons[others[0][1] if others else ALL] = WITHHELD
            withheld.update({(where, rater, target): reason for where, reason in reasons.items()})
        result[wave] = withheld
    return result
