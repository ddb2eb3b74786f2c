"""Survey results a workshop shows, and what happened after its actions: read through the
briefing's public results (analysis.routes' Results at the survey's public threshold, k =
10 by default) and their cache, so no cell withheld from a briefing reaches a workshop
screen, a prompt or an action's later result. Nothing here computes a statistic.

Needs a request (or app) context: the results are read through db.session() and the
shared results cache, as every results page reads them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from analysis.routes import Selection, _default_waves, _waves_with_responses
from briefings.service import PublicResults, Tile
from core import db
from core.models import Place
from surveys.models import Construct, Survey, Wave, survey_places

# How many sector-gap prompts to propose at most, largest gaps first.
GAP_PROMPTS = 2
HOW_MIGHT_WE = {
    "slipping": "How might we turn round ‘{name}’, which is slipping?",
    "cant_tell": "How might we strengthen ‘{name}’, which may be slipping?",
}


@dataclass(frozen=True)
class Proposal:
    text: str
    reason: str


def latest_selection(place: Place) -> Selection | None:
    """The Results page's default comparison for the place: the latest closed wave
    against its reference wave, in the survey of the place whose latest closed wave is
    the newest. None where no survey of the place has two closed waves with responses."""
    surveys = db.session().scalars(
        select(Survey).join(survey_places).where(survey_places.c.place_id == place.id)
    ).all()
    best = None
    for survey in surveys:
        waves = _waves_with_responses(survey)
        if len(waves) < 2:
            continue
        reference, current, baseline = _default_waves(waves)
        latest = current.closes_at or current.opens_at
        if best is None or (latest and (best[0] is None or latest > best[0])):
            best = (latest, Selection(survey, waves, reference, current, baseline, place))
    return best[1] if best else None


def selection_for(survey: Survey, reference: Wave, current: Wave, place: Place) -> Selection | None:
    """The comparison a workshop was made against, if both waves still have responses."""
    waves = _waves_with_responses(survey)
    if reference not in waves or current not in waves:
        return None
    return Selection(survey, waves, reference, current, None, place)


def propose_prompts(selection: Selection, focus: list[Construct]) -> list[Proposal]:
    """"How might we…" prompts from the constructs slipping or can't tell yet, then the
    largest gaps between sectors in the current wave, among the focus constructs (all of
    them when none is chosen). Withheld cells are never used."""
    results = PublicResults(selection)
    codes = {c.code for c in focus} or {c.code for c in results.constructs}
    names = results.names
    proposals = []
    for row in results.construct_rows:
        code = row["construct"]
        if code in codes and not row.get("withheld") and row["verdict"] in HOW_MIGHT_WE:
            proposals.append(Proposal(
                HOW_MIGHT_WE[row["verdict"]].format(name=names[code]),
                f"{names[code]}: {Tile.of(names[code], row['verdict']).word.lower()}, "
                f"{selection.current.label} against {selection.reference.label}",
            ))
    gaps = []
    for code in codes & set(names):
        shown = [row for row in results.sector_rows(code)
                 if not row.get("withheld") and row.get("current_mean") is not None]
        if len(shown) >= 2:
            low = min(shown, key=lambda row: row["current_mean"])
            high = max(shown, key=lambda row: row["current_mean"])
            gaps.append((high["current_mean"] - low["current_mean"], code, low["group"], high["group"]))
    for gap, code, low, high in sorted(gaps, reverse=True)[:GAP_PROMPTS]:
        proposals.append(Proposal(
            f"How might we close the gap between the {low} and {high} sectors on {names[code].lower()}?",
            f"{names[code]}: the largest gap between sectors in {selection.current.label} "
            f"({gap:.1f} points on the scale)",
        ))
    return proposals


def review_tiles(selection: Selection, focus: list[Construct]) -> list[Tile]:
    """The comparison's verdict tiles for the focus constructs (all when none is chosen)."""
    results = PublicResults(selection)
    codes = {c.code for c in focus}
    names = results.names
    return [Tile.of(names[row["construct"]], row["verdict"], row.get("withheld"))
            for row in results.construct_rows if not codes or row["construct"] in codes]


@dataclass(frozen=True)
class LaterResult:
    """What a construct did after an action was agreed, from the wave it was set against
    to the latest later wave; `tile` is None until a later wave exists."""

    tile: Tile | None
    reference: str | None
    current: str | None

    @property
    def words(self) -> str:
        if self.tile is None:
            return "No later wave yet"
        if self.tile.withheld:
            return f"{self.current}: {self.tile.withheld}"
        return f"Since then, {self.tile.word.lower()} ({self.reference} to {self.current})"


def later_result(wave: Wave | None, construct: Construct, place: Place) -> LaterResult:
    if wave is None:
        return LaterResult(None, None, None)
    survey = wave.survey
    waves = _waves_with_responses(survey)
    later = [w for w in waves if w.number > wave.number]
    if wave not in waves or not later:
        return LaterResult(None, None, None)
    selection = Selection(survey, waves, wave, later[-1], None, place)
    results = PublicResults(selection)
    row = next((r for r in results.construct_rows if r["construct"] == construct.code), None)
    if row is None:
        return LaterResult(None, None, None)
    return LaterResult(Tile.of(construct.name, row["verdict"], row.get("withheld")), wave.label, later[-1].label)
