"""The wave dashboard: who has answered, by sector and place, each day, and the share of
invitations answered, each count through the disclosure rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis import publication
from analysis.disclosure import ANY_ANSWER, NOT_GIVEN, DisclosedTable, decide_in_turn, decided_table, disclose
from core.models import Place, Sector
from surveys.models import Invitation, Response, Wave
from surveys.service import late_changes, records_organisations, thresholds_had


@dataclass(frozen=True)
class WaveCounts:
    responses: pd.DataFrame  # sector × place
    invitations: pd.DataFrame  # sent, sector × place
    invitations_used: pd.DataFrame  # answered, sector × place
    organisations: pd.DataFrame  # distinct organisations, sector × place; NaN where any is unknown
    daily: pd.Series  # responses per day

    @property
    def total(self) -> int:
        return int(self.responses.to_numpy().sum())

    def response_rates(self, k: int) -> dict[tuple[str, str], int]:
        """Percentage of invitations answered by (sector, place), only where the number
        answered passes the disclosure rules (a rate on a handful would give it away)."""
        answered = disclose(self.invitations_used, k)
        return {
            (sector, place): round(100 * used / self.invitations.at[sector, place])
            for (sector, place), used in self.invitations_used.stack().items()
            if used and not answered.suppressed.at[sector, place]
        }

    def daily_table(self, k: int, total_withheld: bool) -> DisclosedTable | None:
        """Responses per day, through the disclosure rules like every other count; None
        when the wave's total is withheld (the days add up to it)."""
        if total_withheld:
            return None
        frame = self.daily.rename("responses").to_frame()
        frame.index = [day.strftime("%-d %B %Y") for day in frame.index]
        return disclose(frame, k)


def wave_counts(session: Session, wave: Wave) -> WaveCounts:
    sector_names = dict(session.execute(select(Sector.id, Sector.name)).all())
    place_names = {p.id: p.name for p in wave.survey.places}

    def table(rows, value_name):
        frame = pd.DataFrame(rows, columns=["sector", "place", value_name])
        frame["sector"] = frame["sector"].map(sector_names)
        frame["place"] = frame["place"].map(place_names)
        # One row per cell from the GROUP BY; "first" keeps a missing value missing.
        pivot = frame.pivot_table(index="sector", columns="place", values=value_name, aggfunc="first", dropna=False)
        return pivot.reindex(columns=list(place_names.values()))

    response_rows = session.execute(
        select(
            Response.sector_id, Response.place_id, func.count(),
            func.count(func.distinct(Response.organisation_id)), func.count(Response.organisation_id),
        )
        .where(Response.wave_id == wave.id)
        .group_by(Response.sector_id, Response.place_id)
    ).all()
    invitation_rows = session.execute(
        select(Invitation.sector_id, Invitation.place_id, func.count(), func.count(Invitation.used_at))
        .where(Invitation.wave_id == wave.id)
        .group_by(Invitation.sector_id, Invitation.place_id)
    ).all()
    responses = table([(s, p, n) for s, p, n, _, _ in response_rows], "n")
    # The organisation rule applies only where every response names its organisation.
    organisations = table(
        [(s, p, o if known == n else float("nan")) for s, p, n, o, known in response_rows], "n"
    )
    invitations = table([(s, p, n) for s, p, n, _ in invitation_rows], "n")
    invitations_used = table([(s, p, used) for s, p, _, used in invitation_rows], "n")
    sectors = sorted(set(responses.index) | set(invitations.index))
    submitted = session.scalars(select(Response.submitted_at).where(Response.wave_id == wave.id)).all()
    daily = pd.Series(1, index=pd.DatetimeIndex(submitted)).resample("D").sum() if submitted else pd.Series(dtype=int)
    return WaveCounts(
        responses=responses.reindex(sectors).fillna(0).astype(int),
        invitations=invitations.reindex(sectors).fillna(0).astype(int),
        invitations_used=invitations_used.reindex(sectors).fillna(0).astype(int),
        organisations=organisations.reindex(sectors),
        daily=daily,
    )


def wave_disclosure(session: Session, wave: Wave, counts: WaveCounts) -> DisclosedTable:
    """The dashboard's sector × place counts, withheld exactly as the wave's own decision
    withholds them (analysis.disclosure.decide_in_turn, at each threshold the survey has
    had), the one every results page of this wave uses too."""
    survey = wave.survey
    sector_names = dict(session.execute(select(Sector.id, Sector.name)).all())
    place_names = {p.id: p.name for p in survey.places}
    rows = session.execute(
        select(Response.sector_id, Response.place_id, Response.organisation_id).where(Response.wave_id == wave.id)
    ).all()
    frame = pd.DataFrame(
        [(wave.label, place_names.get(p), sector_names.get(s), o) for s, p, o in rows],
        columns=["wave", "place", "sector", "organisation"],
    )
    steps = decide_in_turn(frame, pd.DataFrame(index=frame.index), [wave.label], thresholds_had(session, survey),
                           records_organisations(session, survey),
                           late_changes(session, [wave]).withheld)
    return decided_table(counts.responses, steps[-1][wave.label])


def places_view(table: DisclosedTable, places: list[Place]) -> DisclosedTable:
    """The columns of `places` exactly as the whole table shows them (a cell withheld there
    to protect another place stays withheld), for someone who may not see every place.
    Its totals are withheld: these places' totals less a cell shown could give a withheld
    one away. Sectors with no responses in these places are left out."""
    columns = [place.name for place in places]
    counts = table.counts.loc[table.counts[columns].sum(axis=1) > 0, columns]
    return replace(
        table,
        counts=counts,
        suppressed=table.suppressed.loc[counts.index, columns],
        reasons=table.reasons.loc[counts.index, columns],
        row_total_suppressed=pd.Series(True, index=counts.index),
        column_total_suppressed=pd.Series(True, index=counts.columns),
        grand_total_suppressed=True,
    )


def publish_counts(wave: Wave, table: DisclosedTable, total: int) -> None:
    """Note the counts a wave's page shows as published (analysis.publication, for the
    auditor): its sector × place cells, each sector's total where the page has an "All
    places" column, and the wave's total."""
    if not publication.recording_open():
        return
    places = tuple(table.counts.columns)
    everywhere = tuple(p.name for p in wave.survey.places)

    def figure(where: tuple[str, ...], sectors: tuple[str, ...] | None, count: int, words: str | None = None):
        cells = publication.Cells(wave.label, where, sectors, ANY_ANSWER)
        return publication.Figure(cells, None if words else count, None, words)

    figures = [figure(everywhere, None, total)]
    for sector in table.counts.index:
        name = NOT_GIVEN if pd.isna(sector) else sector
        figures += [figure((place,), (name,), int(table.counts.at[sector, place]), table.reasons.at[sector, place] or None)
                    for place in places]
        if len(places) > 1 and not table.row_total_suppressed[sector]:  # the "All places" column
            figures.append(figure(places, (name,), int(table.counts.loc[sector].sum())))
    publication.publish(figures)


def response_count(session: Session, wave: Wave) -> int:
    return session.scalar(select(func.count()).select_from(Response).where(Response.wave_id == wave.id))

