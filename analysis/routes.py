"""Evaluator and coordinator pages: compare waves, drill into a construct, the trust network.

The one module of analysis/ that touches Flask and the database: it loads the tidy frame
through surveys.service.responses_frame and hands it to the pure functions, whose
results reach pages and CSV files through analysis.tables (and so through disclosure).
The selection lives in the query string, so a result can be bookmarked or shared.

Figures are cached (CachedResults, cached_rows) in a store every worker shares, keyed by
the selection and a digest of everything the figures are computed from (data_version),
so they are computed once per change of the data rather than once per page view.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shlex
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from flask import Blueprint, Response as HttpResponse, abort, current_app, g, render_template, request
from flask_caching import Cache
from flask_login import current_user
import matplotlib
import numpy as np
import pandas as pd
import scipy
import statsmodels
from sqlalchemy import BigInteger, cast, func, select

from analysis import ENGINE_VERSION, charts, publication, tables
from analysis.compare import DEFAULT_MIN_N, compare, compare_by
from analysis.disclosure import NOT_GIVEN, WaveDecision, decide_in_turn, decide_trust
from analysis.items import item_comparisons
from analysis.network import TRUST_SCALE_DIMENSIONS, TrustNetwork, trust_network, withhold_blocks
from analysis.scores import construct_scores, reverse_scored
from analysis.trend import construct_counts, construct_trends
from core import db
from core.db import utcnow
from core.lazy import cached_property
from core.models import Organisation, Place, Role, Sector
from core.security import allow, signed_in
from surveys import service as surveys
from surveys.exports import safe_text
from surveys.routes import survey_or_404
from surveys.models import Construct, Item, MarginChange, Response, Survey, Wave

bp = Blueprint("analysis", __name__, url_prefix="/analysis")
readers = allow(Role.ADMIN, Role.COORDINATOR, Role.EVALUATOR)
# The results cache, set up by app.py: files in instance/cache, or Redis when
# CACHE_REDIS_URL is set; never process memory, so every worker and host agrees.
cache = Cache()


@bp.app_template_filter("verdict")
def verdict_of(name: str) -> tables.Verdict:
    return tables.VERDICTS[name]


@bp.app_template_filter("number")
def number(value, places: int = 2, signed: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    value = round(value, places) + 0.0  # + 0.0 turns −0.0 into 0.0, so nothing reads "−0.00"
    text = f"{value:+.{places}f}" if signed else f"{value:.{places}f}"
    return text.replace("-", "−")  # a real minus sign reads better and is announced


@bp.app_template_filter("shell_quote")
def shell_quote(value: str) -> str:
    """A wave label as one shell word, whatever it contains (the page shows a command
    to paste, and labels are typed by coordinators)."""
    return shlex.quote(value)


@bp.app_template_filter("p_value")
def p_value(value) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@dataclass(frozen=True)
class Selection:
    """What is being compared: waves of one survey, in one place or all of them."""

    survey: Survey
    waves: tuple[Wave, ...]  # the survey's waves with responses, in order
    reference: Wave
    current: Wave
    baseline: Wave | None
    place: Place | None

    def query(self, **extra) -> dict:
        return {
            "reference": self.reference.id, "current": self.current.id,
            "baseline": self.baseline.id if self.baseline else "", "place": self.place.id if self.place else "",
            **extra,
        }

    @property
    def where(self) -> str:
        return self.place.name if self.place else "all places"


class Results:
    """The analysis of one selection, computed on first use and kept for the request.

    Which construct and sector figures are withheld comes from each wave's own decision
    (analysis.disclosure.decide_waves over the whole survey), so it is the same whatever
    waves or place a page shows. Questions and trust blocks, which that decision does not
    cover cell by cell, are also withheld for one place wherever the same figure is
    withheld for another place of the survey: otherwise "all places" minus this place
    would give that place's figure away."""

    def __init__(self, selection: Selection, data: surveys.TidyData | None = None, guarded: bool = True,
                 steps: list[tuple[int, int, dict[str, WaveDecision]]] | None = None, k: int | None = None):
        self.selection = selection
        self.guarded = guarded  # False for the other places' own figures, used only to guard this one
        survey = selection.survey
        self.k = k or survey.k_internal  # a briefing passes the public threshold
        self.min_organisations = survey.min_organisations
        self.min_n = max(DEFAULT_MIN_N, self.k)
        self.data = data or surveys.responses_frame(db.session(), list(selection.waves))
        responses = self.data.responses
        if selection.place is not None:
            responses = responses[responses["place"] == selection.place.name]
        self.responses = responses.reset_index(drop=True)
        answered = set(self.responses["wave"])
        self.unanswered = [w.label for w in (selection.reference, selection.current, selection.baseline)
                           if w is not None and w.label not in answered]
        # Another place guarding this one may have answered only some waves: it is compared
        # where it answered both, and against the baseline only if it answered that too.
        self.can_compare = selection.reference.label in answered and selection.current.label in answered
        codebook = self.data.codebook
        codebook = codebook[codebook["construct"].notna() & (codebook["type"] == "likert")].reset_index(drop=True)
        # "Wording changed" between the two waves compared, whatever happened in others.
        broken = surveys.items_breaking_trend([selection.reference, selection.current])
        self.codebook = codebook.assign(breaks_trend=codebook["item"].isin(broken))
        trust = self.data.trust[self.data.trust["response_id"].isin(self.responses["response_id"])]
        organisation = self.responses.set_index("response_id")["organisation"]
        self.trust = trust.assign(organisation=trust["response_id"].map(organisation))
        self.constructs = _constructs(dict.fromkeys(self.codebook["construct"]))
        self.names = {c.code: c.name for c in self.constructs}
        self.margins = _margins(survey, self.constructs)
        self.place = selection.place.name if selection.place else None
        self._steps = steps

    @cached_property
    def steps(self) -> list[tuple[int, int, dict[str, WaveDecision]]]:
        """Each wave's withheld cells, decided over every place's responses at each
        threshold the survey has had in turn (surveys.thresholds_had: the pages', then for
        a briefing the briefings'), each refining the one before; the last is in force.
        So nothing withheld on the results pages is shown anywhere else, and nothing
        withheld before a threshold was raised is shown after it."""
        if self._steps is None:
            survey, public = self.selection.survey, self.k != self.selection.survey.k_internal

            def decide() -> list[tuple[int, int, dict[str, WaveDecision]]]:
                everyone = self.data.responses
                thresholds = surveys.thresholds_had(db.session(), survey, public=public)
                decided = decide_in_turn(
                    everyone, construct_scores(everyone, self.codebook), [w.label for w in self.selection.waves],
                    thresholds, surveys.records_organisations(db.session(), survey),
                    surveys.late_changes(db.session(), list(self.selection.waves)).withheld)
                return [(k, orgs, decisions) for (k, orgs), decisions in zip(thresholds, decided)]

            # The same for every view of these waves (whichever are compared, wherever):
            # decided once per version of the data, not on every page.
            self._steps = _cached_value(
                _survey_cache_key(survey, self.selection.waves, self.k, "decision steps", public), decide)
        return self._steps

    @property
    def decisions(self) -> dict[str, WaveDecision]:
        return self.steps[-1][2]

    @cached_property
    def trust_decisions(self) -> dict[str, dict[tuple, str]]:
        """Each wave's withheld trust blocks, decided over every place's raters, at each
        threshold in turn as the cells are."""
        trust = self.data.trust
        usable = trust[trust["dimension"].isin(TRUST_SCALE_DIMENSIONS) & trust["value"].notna()]
        pairs = usable.drop_duplicates(["response_id", "target_sector"])
        who = self.data.responses.set_index("response_id")[["place", "organisation"]]
        raters = pairs[["response_id", "wave", "sector", "target_sector"]].rename(
            columns={"target_sector": "target"}).join(who, on="response_id")
        blocks = None
        for k, min_organisations, decisions in self.steps:
            blocks = decide_trust(raters, decisions, k, min_organisations, stricter_than=blocks)
        return blocks

    def _withheld(self, construct: str, wave: str, sector: str | None = None) -> str | None:
        return self.decisions[wave].reason(construct, self.place, sector) if wave in self.decisions else None

    @cached_property
    def other_places(self) -> list[Results]:
        if self.selection.place is None or not self.guarded:
            return []
        return [
            Results(replace(self.selection, place=place), self.data, guarded=False, steps=self.steps,
                    k=self.k)
            for place in self.selection.survey.places if place != self.selection.place
        ]

    def _like_other_places(self, rows: list[dict], others: list[list[dict]], *key: str) -> list[dict]:
        return tables.withhold_like(rows, others, key) if others else rows

    @property
    def labels(self) -> tuple[str, str, str | None]:
        s = self.selection
        baseline = s.baseline.label if s.baseline and s.baseline.label not in self.unanswered else None
        return s.reference.label, s.current.label, baseline

    @cached_property
    def scores(self) -> pd.DataFrame:
        return construct_scores(self.responses, self.codebook)

    @cached_property
    def comparison(self):
        reference, current, baseline = self.labels
        sectors = set(self.responses["sector"].dropna().astype(str)) | {NOT_GIVEN}
        withheld = {c.code: {s for s in sectors if self._withheld(c.code, reference, s) or self._withheld(c.code, current, s)}
                    for c in self.constructs}
        return compare(self.responses, self.codebook, reference, current, baseline, self.margins, self.min_n,
                       scores=self.scores, withheld_strata=withheld)

    @cached_property
    def construct_rows(self) -> list[dict]:
        reference, current, _ = self.labels
        if not self.can_compare:
            return [tables.nobody_row(construct=c.code, margin=self.margins[c.code]) for c in self.constructs]
        withheld = pd.DataFrame([[self._withheld(c.code, w) or "" for w in (reference, current)] for c in self.constructs],
                                index=[c.code for c in self.constructs], columns=[reference, current])
        pairs = tables.panel_pairs_table(self.comparison, self.k)
        return tables.construct_rows(self.comparison, withheld, pairs)

    def item_rows(self, construct: str) -> list[dict]:
        reference, current, _ = self.labels
        in_construct = self.codebook[self.codebook["construct"] == construct]
        if not self.can_compare:
            return [tables.nobody_row(item=item, construct=construct) for item in in_construct["item"]]
        items = item_comparisons(self.responses, in_construct, reference, current, self.min_n)
        answers = reverse_scored(self.responses, in_construct)
        counts = construct_counts(self.responses, in_construct, [reference, current], self.k,
                                  self.min_organisations, scores=answers)
        construct_row = next(r for r in self.construct_rows if r["construct"] == construct)
        rows = tables.item_rows(items, counts, construct_row["withheld"])
        return self._like_other_places(rows, [other.item_rows(construct) for other in self.other_places], "item")

    @cached_property
    def breakdown(self):
        reference, current, _ = self.labels
        if not self.can_compare:
            return {}
        return compare_by(self.responses, self.codebook, "sector", reference, current, self.margins,
                          self.min_n, self.k, min_organisations=self.min_organisations, scores=self.scores,
                          decisions=self.decisions, place=self.place)

    def sector_rows(self, construct: str) -> list[dict]:
        return tables.sector_rows(self.breakdown, construct)

    def one_sector_rows(self, sector: str) -> list[dict]:
        return tables.one_sector_rows(self.breakdown, sector)

    @cached_property
    def trends(self) -> dict:
        waves = [w.label for w in self.selection.waves]
        return construct_trends(self.responses, self.codebook, waves, self.k, self.min_organisations, self.scores,
                                decisions=self.decisions, place=self.place)

    def trend_rows(self, construct: str) -> list[dict]:
        return tables.trend_rows(self.trends[construct])

    @cached_property
    def network(self) -> TrustNetwork:
        reference, current, _ = self.labels
        waves = [w.label for w in self.selection.waves]
        network = trust_network(self.trust, waves, reference, current, self.k, self.min_organisations)
        hidden = {
            (wave.wave, block.rater, block.target) for wave in network.waves for block in wave.blocks
            if self.trust_decisions.get(wave.wave, {}).get((self.place, block.rater, block.target))
        }
        return withhold_blocks(network, hidden) if hidden else network

    def text(self, item: str) -> str:
        return self.codebook.set_index("item").at[item, "text"]


def _constructs(codes) -> list[Construct]:
    """The constructs with these codes, in the order given."""
    codes = list(codes)
    found = {c.code: c for c in db.session().scalars(select(Construct).where(Construct.code.in_(codes)))}
    return [found[code] for code in codes]


def _margins(survey: Survey, constructs: list[Construct]) -> dict[str, float]:
    """Each construct's margin: the survey's own where it chose one, else the default."""
    chosen = {m.construct.code: m.margin for m in survey.margins}
    return {c.code: chosen.get(c.code, c.default_margin) for c in constructs}


# --- the results cache -------------------------------------------------------------------


def _code_version() -> str:
    """A digest of the code figures and charts come from: this package (statistics,
    disclosure, tables, charts, this module) and the tidy frame's builder, with the
    versions of the libraries they compute and draw with. Beside ENGINE_VERSION in every
    key, so a deployment (or a developer's edit) that changes the code never shows
    figures or charts the code no longer gives, even if no one bumped the version."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")) + [Path(surveys.__file__)]:
        digest.update(path.read_bytes())
    for library in (np, pd, scipy, statsmodels, matplotlib):
        digest.update(f"{library.__name__} {library.__version__};".encode())
    return digest.hexdigest()[:16]


CODE_VERSION = _code_version()


def data_version(survey: Survey) -> str:
    """A digest of everything the survey's figures are computed from, in a few small
    queries, so a cached figure is found again only while none of it has changed.

    Responses are written whole (their answers and trust ratings in the same transaction)
    and never edited: they are only added (a submission, an import) or removed (an import
    undone). So the survey's responses are told apart by their count, the sum and the
    largest of their ids and the latest submission time; the time also moves where SQLite
    gives a new response the id of a removed one. Sums of their organisation, sector and
    place ids, and a sum of organisation ids weighted by response id (so that two responses
    swapping organisations counts too), move when responses are reassigned: an
    organisation merged into another, a sector or place corrected. Then what figures are
    labelled and counted by: the organisations those responses name (id, sector, name),
    every sector (id, name, position), and the survey's places, waves (labels, order,
    instruments, status, when they closed and their grace periods: which responses came
    late), questions (wording, scale, construct, reverse scoring), constructs, margins and
    thresholds. The answers themselves are not read again: that would be a
    pass over every answer on every page view, which is what the cache saves.
    """
    session = db.session()
    wave_ids = [w.id for w in survey.waves]
    in_survey = Response.wave_id.in_(wave_ids)
    organisation = func.coalesce(Response.organisation_id, 0)
    responses = tuple(session.execute(select(
        func.count(), func.max(Response.id), func.sum(Response.id), func.max(Response.submitted_at),
        func.sum(organisation), func.sum(cast(Response.id, BigInteger) * organisation),
        func.sum(Response.sector_id), func.sum(Response.place_id), func.count(Response.panel_key),
    ).where(in_survey)).one())
    organisations = session.execute(
        select(Organisation.id, Organisation.sector_id, Organisation.name)
        .where(Organisation.id.in_(select(Response.organisation_id).where(in_survey).distinct()))
        .order_by(Organisation.id)
    ).all()
    sectors = session.execute(select(Sector.id, Sector.name, Sector.position).order_by(Sector.id)).all()
    items = session.execute(
        select(Item.instrument_id, Item.id, Item.code, Item.type, Item.text, Item.options, Item.construct_id,
               Item.reverse, Item.breaks_trend)
        .where(Item.instrument_id.in_(sorted({w.instrument_id for w in survey.waves}))).order_by(Item.id)
    ).all()
    constructs = session.execute(
        select(Construct.id, Construct.code, Construct.name, Construct.default_margin, Construct.scale_min,
               Construct.scale_max, Construct.position).order_by(Construct.id)
    ).all()
    parts = (
        responses, organisations, sectors, items, constructs,
        [(p.id, p.name) for p in survey.places],
        # When each wave closed (and its grace period) decides which responses came late.
        [(w.id, w.number, w.label, w.role, w.instrument_id, w.status, w.closes_at, w.grace_minutes)
         for w in survey.waves],
        sorted((m.construct_id, m.margin) for m in survey.margins),
        survey.k_internal, survey.min_organisations,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _survey_cache_key(survey: Survey, waves: tuple[Wave, ...], k: int, *parts) -> str:
    """A cache key for figures of these waves of the survey, at threshold k: with the
    survey's organisation rule and margins, the data's and the engine's versions, and
    `parts` (what the figures are, and of which view)."""
    versions = g.setdefault("results_data_versions", {})
    if survey.id not in versions:  # once per request, however many figures the page shows
        versions[survey.id] = data_version(survey)
    key = (
        ENGINE_VERSION, CODE_VERSION, survey.id, tuple(w.id for w in waves), k, survey.min_organisations,
        sorted((m.construct_id, m.margin) for m in survey.margins), versions[survey.id], *parts,
    )
    return f"results/{survey.id}/{hashlib.sha256(repr(key).encode()).hexdigest()}"


def _cache_key(selection: Selection, name: tuple, k: int) -> str:
    """The key of figures `name` of this selection: the survey, the waves compared, the
    place (or all), thresholds and margins, the data's and the engine's versions."""
    s = selection
    return _survey_cache_key(s.survey, s.waves, k, s.reference.id, s.current.id,
                             s.baseline.id if s.baseline else None, s.place.id if s.place else "all", name)


def cached_rows(selection: Selection, name: str | tuple, compute: Callable[[], Any], k: int | None = None) -> Any:
    """The figures `name` (plain picklable data) of this selection: from the cache if they
    were computed from the same data before, else computed now and kept.

    Callers check who may see the survey first (survey_or_404, the role) and only then ask
    here. A cache that cannot be reached costs speed, never a page: the figures are
    computed instead."""
    key = _cache_key(selection, name if isinstance(name, tuple) else (name,), k or selection.survey.k_internal)
    return _cached_value(key, compute)


def _cached_value(key: str, compute: Callable[[], Any]) -> Any:
    try:
        found = cache.get(key)
    except Exception:  # noqa: BLE001 - any failure of the store (Redis down, a bad file)
        current_app.logger.warning("results cache: lookup failed", exc_info=True)
        found = None
    if found is not None:
        return found
    value = compute()
    try:
        cache.set(key, value)
    except Exception:  # noqa: BLE001
        current_app.logger.warning("results cache: store failed", exc_info=True)
    return value


class CachedResults:
    """What the results pages show of one selection, with Results' interface: each figure
    comes from the cache (cached_rows) when the same data gave it before; otherwise the
    selection is analysed (Results, built once, on first need) and the figure kept.

    So a page whose figures are cached reads no responses, and a chart reuses the figures
    its page computed."""

    def __init__(self, selection: Selection, k: int | None = None):
        self.selection = selection
        survey = selection.survey
        self.k = k or survey.k_internal  # a briefing passes the public threshold
        self.min_organisations = survey.min_organisations
        self.min_n = max(DEFAULT_MIN_N, self.k)

    @cached_property
    def computed(self) -> Results:
        return Results(self.selection, k=self.k)

    def _cached(self, name: str, compute: Callable[[], Any], *args) -> Any:
        return cached_rows(self.selection, (name, *args), compute, self.k)

    @cached_property
    def _outline(self) -> dict:
        """What the pages need besides the rows: waves nobody answered, the constructs in
        order and the questions' wording."""
        def outline() -> dict:
            results = self.computed
            return {
                "unanswered": results.unanswered,
                "constructs": [c.code for c in results.constructs],
                "texts": dict(zip(results.codebook["item"], results.codebook["text"])),
            }
        return self._cached("outline", outline)

    @property
    def unanswered(self) -> list[str]:
        return self._outline["unanswered"]

    @cached_property
    def constructs(self) -> list[Construct]:
        return _constructs(self._outline["constructs"])

    @cached_property
    def names(self) -> dict[str, str]:
        return {c.code: c.name for c in self.constructs}

    @cached_property
    def margins(self) -> dict[str, float]:
        return _margins(self.selection.survey, self.constructs)

    def text(self, item: str) -> str:
        return self._outline["texts"][item]

    # Each figure handed out is also published (analysis.publication), for the auditor.

    @property
    def _places(self) -> tuple[str, ...]:
        place = self.selection.place
        return (place.name,) if place else tuple(p.name for p in self.selection.survey.places)

    def _publish_waves(self, row: dict, measure: str, sectors: tuple[str, ...] | None, means: bool = True) -> None:
        """A comparison row's two waves: each a count and mean (or the words withheld);
        a breakdown row withheld for either wave says so for both."""
        figures = []
        for wave, side in ((self.selection.reference.label, "reference"), (self.selection.current.label, "current")):
            count, words = publication.count_of(row.get(f"{side}_n"))
            either = count is None and words is None and bool(row.get("withheld"))
            figures.append(publication.Figure(
                publication.Cells(wave, self._places, sectors, measure), count,
                row.get(f"{side}_mean") if means else None,
                words or (row.get("withheld") if either else None), either_wave=either))
        publication.publish(figures)

    @cached_property
    def construct_rows(self) -> list[dict]:
        rows = self._cached("construct_rows", lambda: self.computed.construct_rows)
        if publication.recording_open():
            waves = (self.selection.reference.label, self.selection.current.label)
            for row in rows:
                self._publish_waves(row, row["construct"], None)
                headline = tuple(publication.Cells(w, self._places, None, row["construct"]) for w in waves)
                if row.get("adjusted") is not None:
                    used = [s for s in self.sectors if s not in row["adjusted"].left_out]
                    publication.publish(derived=[publication.Derived(
                        f"sector-mix adjustment of {row['construct']}",
                        tuple(publication.Cells(w, self._places, (s,), row["construct"]) for w in waves for s in used))])
                if row.get("panel") is not None:
                    publication.publish(derived=[publication.Derived(f"panel change in {row['construct']}", headline)])
        return rows

    def item_rows(self, construct: str) -> list[dict]:
        rows = self._cached("item_rows", lambda: self.computed.item_rows(construct), construct)
        if publication.recording_open():
            for row in rows:
                self._publish_waves(row, row["item"], None, means=False)
        return rows

    @cached_property
    def sectors(self) -> list[str]:
        """The sectors compared (the sector breakdown's groups)."""
        return self._cached("sectors", lambda: list(self.computed.breakdown))

    def sector_rows(self, construct: str) -> list[dict]:
        rows = self._cached("sector_rows", lambda: self.computed.sector_rows(construct), construct)
        if publication.recording_open():
            for row in rows:
                self._publish_waves(row, construct, (row["group"],))
        return rows

    def one_sector_rows(self, sector: str) -> list[dict]:
        rows = self._cached("one_sector_rows", lambda: self.computed.one_sector_rows(sector), sector)
        if publication.recording_open():
            for row in rows:
                self._publish_waves(row, row["construct"], (sector,))
        return rows

    def trend_rows(self, construct: str) -> list[dict]:
        rows = self._cached("trend_rows", lambda: self.computed.trend_rows(construct), construct)
        if publication.recording_open():
            publication.publish([
                publication.Figure(publication.Cells(row["wave"], self._places, None, construct),
                                   *self._count_and_mean(row["n"], row["mean"]))
                for row in rows])
        return rows

    @staticmethod
    def _count_and_mean(shown, mean) -> tuple[int | None, float | None, str | None]:
        count, words = publication.count_of(shown)
        return count, mean, words

    @cached_property
    def network(self) -> TrustNetwork:
        network = self._cached("network", lambda: self.computed.network)
        if publication.recording_open():
            def block(wave: str, rater: str, target: str) -> publication.Cells:
                return publication.Cells(wave, self._places, (rater,), publication.TRUST + target)

            publication.publish(
                [publication.Figure(block(wave.wave, b.rater, b.target),
                                    *self._count_and_mean(b.withheld or b.raters, b.mean))
                 for wave in network.waves for b in wave.blocks],
                [publication.Derived(f"change in {c.rater}'s trust in {c.target}",
                                     (block(network.reference, c.rater, c.target), block(network.current, c.rater, c.target)))
                 for c in network.changes])
        return network

    def change_svg(self) -> bytes:
        """The change chart, drawn from the page's construct rows, and kept as drawn."""
        return self._cached("change_svg", lambda: charts.change_svg(self.construct_rows, self.names))

    def trend_svg(self, construct: Construct) -> bytes:
        scale = (construct.scale_min, construct.scale_max)
        return self._cached("trend_svg", lambda: charts.trend_svg(self.trend_rows(construct.code), scale),
                            construct.code)


# --- choosing what to compare ------------------------------------------------------------


def _waves_with_responses(survey: Survey) -> tuple[Wave, ...]:
    """Closed waves with responses, once late sends are over: an open wave shows counts only
    (on its own page), so results cannot be watched moving while answers are added to a small group."""
    answered = set(db.session().scalars(
        select(Response.wave_id).where(Response.wave_id.in_([w.id for w in survey.waves]))
        .group_by(Response.wave_id).having(func.count() > 0)
    ))
    now = utcnow()
    return tuple(w for w in survey.waves if w.id in answered and w.results_ready(now))


def _default_waves(waves: tuple[Wave, ...]) -> tuple[Wave, Wave, Wave | None]:
    """The latest wave, against the latest 'gain' wave before it (else the one before it),
    with the latest 'baseline' wave before that if there is one."""
    current = waves[-1]
    earlier = waves[:-1]
    reference = next((w for w in reversed(earlier) if w.role == "gain"), earlier[-1])
    baseline = next((w for w in reversed(waves) if w.role == "baseline" and w.number < reference.number), None)
    return reference, current, baseline


def _choose(survey: Survey) -> tuple[Selection | None, dict[str, str]]:
    """The selection from the query string (defaults where it is empty), and any errors
    by field, in the words the page shows."""
    waves = _waves_with_responses(survey)
    if len(waves) < 2:
        return None, {}
    by_id = {str(w.id): w for w in waves}
    places = {str(p.id): p for p in survey.places}
    reference, current, baseline = _default_waves(waves)
    errors: dict[str, str] = {}
    args = request.args
    if "reference" in args or "current" in args:
        reference, current = by_id.get(args.get("reference", "")), by_id.get(args.get("current", ""))
        baseline = by_id.get(args.get("baseline", "")) if args.get("baseline") else None
        if reference is None:
            errors["reference"] = "Select the wave where the gain was seen"
        if current is None:
            errors["current"] = "Select the wave to compare with it"
        if args.get("baseline") and baseline is None:
            errors["baseline"] = "Select a baseline wave from the list, or ‘No baseline’"
        if reference is not None and reference == current:
            errors["current"] = "Select a current wave that is not the reference wave"
        elif reference is not None and current is not None and current.number < reference.number:
            errors["current"] = "Select a current wave that came after the reference wave"
        if baseline is not None and reference is not None and baseline.number > reference.number:
            errors["baseline"] = "Select a baseline wave that came before the reference wave"
        if baseline is not None and baseline in (reference, current):
            errors["baseline"] = "Select a baseline wave that is not one of the waves being compared"
    place = places.get(args.get("place", "")) if args.get("place") else None
    if args.get("place") and place is None:
        errors["place"] = "Select a place from the list, or ‘All places’"
    if not surveys.may_see_all_places(current_user, survey):
        # All places less one's own would give the others' figures away; another place's
        # figures are refused as /places/<id> refuses that place.
        if args.get("place") == "" or (place is not None and place not in surveys.places_for(current_user, survey)):
            abort(403)
        if "place" not in args:
            place = surveys.places_for(current_user, survey)[0]
    if errors:  # show the form again with the choices that were valid
        return Selection(survey, waves, reference or waves[0], current or waves[-1], baseline, place), errors
    return Selection(survey, waves, reference, current, baseline, place), {}


def _selected(survey_id: int, results_for: Callable[[Selection], CachedResults] = CachedResults
              ) -> tuple[Selection, CachedResults]:
    """For the drill-down pages and downloads (and the briefing, which passes its public
    results): a valid selection or 404 (403 for a survey the user may not see, checked
    before any figure is looked up)."""
    selection, errors = _choose(survey_or_404(survey_id))
    if selection is None or errors:
        abort(404)
    results = results_for(selection)
    if results.unanswered:
        abort(404)
    return selection, results


def _construct_or_404(results: CachedResults, construct: str) -> Construct:
    found = next((c for c in results.constructs if c.code == construct), None)
    if found is None:
        abort(404)
    return found


def _csv(filename: str, columns: list[str], rows: list[dict]) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([[safe_text(value) for value in record] for record in tables.csv_records(rows, columns)])
    return HttpResponse(
        buffer.getvalue(), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- pages -------------------------------------------------------------------------------


@bp.get("/")
@readers
def index():
    return render_template("analysis/index.html", surveys=surveys.list_surveys(db.session(), current_user))


@bp.get("/how-to-read")
@signed_in
def how_to_read():
    return render_template("analysis/how_to_read.html")


@bp.get("/surveys/<int:survey_id>")
@readers
def comparison(survey_id: int):
    survey = survey_or_404(survey_id)
    selection, errors = _choose(survey)
    results = CachedResults(selection) if selection is not None and not errors else None
    changes = db.session().scalars(
        select(MarginChange).where(MarginChange.survey_id == survey.id).order_by(MarginChange.changed_at)
    ).all()
    compared = [w for w in (selection.reference, selection.current, selection.baseline) if w] if results else []
    late = surveys.late_changes(db.session(), compared).dates
    return render_template(
        "analysis/comparison.html", survey=survey, selection=selection, errors=errors, results=results,
        margin_changes=changes, late_changes=late, can_export=current_user.role in (Role.ADMIN, Role.EVALUATOR),
    )


@bp.get("/surveys/<int:survey_id>/change.svg")
@readers
def change_chart(survey_id: int):
    _, results = _selected(survey_id)
    return HttpResponse(results.change_svg(), mimetype="image/svg+xml")


@bp.get("/surveys/<int:survey_id>/constructs/<construct>")
@readers
def construct(survey_id: int, construct: str):
    selection, results = _selected(survey_id)
    found = _construct_or_404(results, construct)
    row = next(r for r in results.construct_rows if r["construct"] == construct)
    return render_template(
        "analysis/construct.html", survey=selection.survey, selection=selection, results=results,
        construct=found, row=row, items=results.item_rows(construct), sectors=results.sector_rows(construct),
        trend=results.trend_rows(construct),
    )


@bp.get("/surveys/<int:survey_id>/constructs/<construct>/trend.svg")
@readers
def trend_chart(survey_id: int, construct: str):
    _, results = _selected(survey_id)
    found = _construct_or_404(results, construct)
    return HttpResponse(results.trend_svg(found), mimetype="image/svg+xml")


@bp.get("/surveys/<int:survey_id>/sectors/<path:sector>")
@readers
def sector(survey_id: int, sector: str):
    selection, results = _selected(survey_id)
    if sector not in results.sectors:
        abort(404)
    return render_template("analysis/sector.html", survey=selection.survey, selection=selection, results=results,
                           sector=sector, rows=results.one_sector_rows(sector))


@bp.get("/surveys/<int:survey_id>/trust")
@readers
def trust(survey_id: int):
    selection, results = _selected(survey_id)
    return render_template("analysis/trust.html", survey=selection.survey, selection=selection,
                           results=results, network=results.network)


# --- downloads: the same rows as the pages ----------------------------------------------

CONSTRUCT_COLUMNS = [
    "construct", "verdict", "withheld", "reference_n", "reference_mean", "current_n", "current_mean",
    "difference", "ci_simultaneous_low", "ci_simultaneous_high", "ci90_low", "ci90_high", "margin", "hedges_g",
    "p_improve_adj", "p_noninferior_adj", "p_decline_adj", "dip_within_margin", "material", "leaning", "method",
    "gain_retained", "needed_n", "alpha_reference", "alpha_current", "adjusted.difference", "adjusted.ci90_low",
    "adjusted.ci90_high", "adjusted.verdict", "adjusted.left_out",
    "adjusted_disagrees", "panel.n_pairs", "panel.difference", "panel.ci90_low", "panel.ci90_high",
]
ITEM_COLUMNS = ["item", "construct", "withheld", "reference_n", "current_n", "prob_superiority", "estimable",
                "ci90_low", "ci90_high", "p_value", "breaks_trend"]
SECTOR_COLUMNS = ["group", "verdict", "withheld", "reference_n", "reference_mean", "current_n", "current_mean",
                  "difference", "ci_simultaneous_low", "ci_simultaneous_high", "ci90_low", "ci90_high",
                  "p_improve_adj", "p_noninferior_adj", "p_decline_adj", "dip_within_margin", "material", "leaning",
                  "method"]
ONE_SECTOR_COLUMNS = ["construct", *SECTOR_COLUMNS[1:]]
TREND_COLUMNS = ["wave", "n", "mean", "ci90_low", "ci90_high", "withheld"]
TRUST_COLUMNS = ["wave", "rater", "target", "raters", "mean", "withheld"]
CHANGE_COLUMNS = ["rater", "target", "reference_mean", "current_mean", "difference", "ci90_low", "ci90_high"]


def _name(selection: Selection, what: str) -> str:
    s = selection
    return f"survey-{s.survey.id}-wave-{s.reference.number}-vs-{s.current.number}-{what}.csv"


@bp.get("/surveys/<int:survey_id>/constructs.csv")
@readers
def constructs_csv(survey_id: int):
    selection, results = _selected(survey_id)
    return _csv(_name(selection, "constructs"), CONSTRUCT_COLUMNS, results.construct_rows)


CONSTRUCT_TABLES = {  # a construct page's tables: columns, and the rows the page shows
    "items": (ITEM_COLUMNS, CachedResults.item_rows),
    "sectors": (SECTOR_COLUMNS, CachedResults.sector_rows),
    "trend": (TREND_COLUMNS, CachedResults.trend_rows),
}


@bp.get("/surveys/<int:survey_id>/constructs/<construct>/<table>.csv")
@readers
def construct_csv(survey_id: int, construct: str, table: str):
    selection, results = _selected(survey_id)
    _construct_or_404(results, construct)
    if table not in CONSTRUCT_TABLES:
        abort(404)
    columns, rows = CONSTRUCT_TABLES[table]
    return _csv(_name(selection, f"{construct}-{table}"), columns, rows(results, construct))


@bp.get("/surveys/<int:survey_id>/sectors/<path:sector>.csv")
@readers
def sector_csv(survey_id: int, sector: str):
    selection, results = _selected(survey_id)
    if sector not in results.sectors:
        abort(404)
    slug = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in sector.lower()).strip("-")
    return _csv(_name(selection, f"sector-{slug}"), ONE_SECTOR_COLUMNS, results.one_sector_rows(sector))


@bp.get("/surveys/<int:survey_id>/trust.csv")
@readers
def trust_csv(survey_id: int):
    selection, results = _selected(survey_id)
    return _csv(_name(selection, "trust"), TRUST_COLUMNS, tables.trust_rows(results.network))


@bp.get("/surveys/<int:survey_id>/trust-changes.csv")
@readers
def trust_changes_csv(survey_id: int):
    selection, results = _selected(survey_id)
    rows = [asdict(change) for change in results.network.changes]
    return _csv(_name(selection, "trust-changes"), CHANGE_COLUMNS, rows)
