"""The briefing "Are the gains holding?": one selection's results at the public threshold,
built once into frozen dataclasses that one template renders to HTML (the preview) and
to PDF.

A briefing is read by people without accounts, so every figure in it comes from results
computed at the survey's public threshold (k_briefing, 10 by default), whose per-wave
decisions refine the internal ones (everything withheld on the Results pages stays
withheld here), and every count is rounded to the nearest 5. Figures are read through
analysis.routes' Results and its cache; nothing here decides disclosure itself.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from flask import current_app, render_template
from sqlalchemy import func, select

from analysis import ENGINE_VERSION, tables
from analysis.disclosure import ANY_ANSWER, NOT_GIVEN, round_public
from analysis.routes import CODE_VERSION, CachedResults, Selection, _selected, cache, data_version
from briefings import pdf, quotes as quotes_service
from codesign import service as codesign_service
from core import db
from surveys import exports, service as surveys
from surveys.models import Invitation, Response, Survey

# The order of the headline's counts after the slipping constructs it names.
COUNTED = ("holding", "improving", "cant_tell", "too_few")
COUNT_WORDS = {"holding": "holding", "improving": "improving", "cant_tell": "can't tell yet",
               "too_few": "too few responses"}
NAMED_AT_MOST = 3


# --- results at the public threshold -----------------------------------------------------


class PublicResults(CachedResults):
    """Results at the survey's public threshold (k_briefing), whose decision refines the
    internal one (analysis.routes.Results), with the one figure only a briefing needs."""

    def __init__(self, selection: Selection):
        super().__init__(selection, k=selection.survey.k_briefing)

    def place_withheld(self, wave: str) -> str | None:
        """Why the place's number of responses to a wave is withheld, if it is (a whole
        wave's number never is)."""
        place = self.selection.place
        if place is None:
            return None
        # "" rather than None: the cache keeps no None, and the figure would be computed again
        reason = self._cached("place_withheld",
                              lambda: self.computed.decisions[wave].reason(ANY_ANSWER, place.name) or "", wave)
        return reason or None


    def sector_shown(self, wave: str, sector: str) -> bool:
        """Whether the sector's responses to a wave (in the place, or in all places) pass
        the public threshold, so a quote may name it. Cached like every figure, so a
        briefing of data already analysed does not analyse it again for its quotes."""
        place = self.selection.place.name if self.selection.place else None
        reason = self._cached("sector_withheld", lambda: self.computed.decisions[wave].reason(
            ANY_ANSWER, place, sector) or "", wave, sector)
        return sector != NOT_GIVEN and not reason


def selected(survey_id: int) -> tuple[Selection, PublicResults]:
    """The selection of the query string, checked as the Results pages check it, with its
    results at the public threshold (only those: the internal ones would analyse the
    selection a second time for nothing)."""
    return _selected(survey_id, PublicResults)


# --- the briefing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """A verdict as shape, colour and word: the shape and the word carry the meaning, so
    it reads in greyscale."""

    name: str
    verdict: str  # a key of analysis.tables.VERDICTS
    shape: str
    word: str
    colour: str
    withheld: str | None = None  # the words shown instead of a verdict

    @classmethod
    def of(cls, name: str, verdict: str, withheld: str | None = None) -> Tile:
        v = tables.VERDICTS[verdict]
        return cls(name, verdict, v.shape, v.word, v.colour, withheld)


@dataclass(frozen=True)
class WaveCount:
    label: str
    responses: int | str  # rounded to 5, or the words that say why it is withheld
    response_rate: str  # "62%", or "not known" where the wave used open links


@dataclass(frozen=True)
class Headline:
    partial: ClassVar[str] = "briefings/sections/headline.html"
    title: ClassVar[str] = "Are the gains holding?"
    sentence: str
    tiles: tuple[Tile, ...]
    waves: tuple[WaveCount, ...]
    change_chart: str  # a data: URL
    reference: str
    current: str


@dataclass(frozen=True)
class TrendChart:
    name: str
    chart: str  # a data: URL
    points: tuple[tuple[str, str], ...]  # (wave, "mean (n)" or the withheld words), for the chart's text


@dataclass(frozen=True)
class Trends:
    partial: ClassVar[str] = "briefings/sections/trends.html"
    title: ClassVar[str] = "Trend across all waves"
    charts: tuple[TrendChart, ...]


@dataclass(frozen=True)
class SectorPanel:
    name: str  # the construct
    tiles: tuple[Tile, ...]  # one per sector, its name in Tile.name


@dataclass(frozen=True)
class Sectors:
    partial: ClassVar[str] = "briefings/sections/sectors.html"
    title: ClassVar[str] = "By sector"
    panels: tuple[SectorPanel, ...]


@dataclass(frozen=True)
class TrustRow:
    rater: str
    cells: tuple[tuple[str, str], ...]  # (text, shade class) per target sector


@dataclass(frozen=True)
class Trust:
    partial: ClassVar[str] = "briefings/sections/trust.html"
    title: ClassVar[str] = "Trust between sectors"
    wave: str
    reference: str
    sectors: tuple[str, ...]
    rows: tuple[TrustRow, ...]
    changes: tuple[TrustRow, ...]  # the change since the reference wave, cell by cell


@dataclass(frozen=True)
class Foreword:
    partial: ClassVar[str] = "briefings/sections/foreword.html"
    title: ClassVar[str] = "Foreword"
    text: str
    by: str  # who runs the survey


@dataclass(frozen=True)
class ActionLine:
    title: str
    organisation: str  # the owning organisation; a person's name is not published
    due: str
    status: str
    since: str  # what the construct did after, from the wave the action was set against


@dataclass(frozen=True)
class Actions:
    partial: ClassVar[str] = "briefings/sections/actions.html"
    title: ClassVar[str] = "You said, we did"
    by_construct: tuple[tuple[str, tuple[ActionLine, ...]], ...] = ()


@dataclass(frozen=True)
class Quote:
    text: str
    attribution: str  # "Someone from the Health sector", or "Someone who took part"


@dataclass(frozen=True)
class Quotes:
    partial: ClassVar[str] = "briefings/sections/quotes.html"
    title: ClassVar[str] = "In their own words"
    wave: str
    quotes: tuple[Quote, ...]


@dataclass(frozen=True)
class Caveats:
    partial: ClassVar[str] = "briefings/sections/caveats.html"
    title: ClassVar[str] = "How to read this briefing"
    k: int
    reference: str
    current: str
    margins: tuple[tuple[str, str], ...]  # (construct, margin)
    margin_changes: tuple[str, ...]
    instrument: str
    changed_questions: tuple[str, ...]
    mix_differs: tuple[str, ...]  # constructs whose sector-mix check reaches another verdict
    mix_left_out: tuple[str, ...]  # sectors too small (or withheld) to be reweighted, for any construct
    panel_share: str | None  # "about 40%", or None where no panel could be shown


@dataclass(frozen=True)
class AppendixRow:
    name: str
    verdict: str
    reference_n: int | str
    current_n: int | str
    reference_mean: float | None
    current_mean: float | None
    difference: float | None
    interval: tuple[float, float] | None
    withheld: str | None


@dataclass(frozen=True)
class Appendix:
    partial: ClassVar[str] = "briefings/sections/appendix.html"
    title: ClassVar[str] = "Appendix: every figure"
    reference: str
    current: str
    rows: tuple[AppendixRow, ...]
    command: str
    responses_file: str
    responses_sha256: str
    data_version: str


Section = Foreword | Headline | Trends | Sectors | Trust | Actions | Quotes | Caveats | Appendix


@dataclass(frozen=True)
class Briefing:
    survey: str
    run_by: str
    where: str
    reference: str
    current: str
    k: int  # the public threshold every figure was withheld at
    data_version: str  # what it was built from (see briefing_version)
    sections: tuple[Section, ...]

    @property
    def title(self) -> str:
        return f"Are the gains holding? {self.survey}: {self.where}, {self.current} against {self.reference}"

    @property
    def headline(self) -> Headline:
        return next(s for s in self.sections if isinstance(s, Headline))

    @property
    def verdicts(self) -> dict[str, str]:
        """Construct name → verdict, as the headline tiles show them."""
        return {tile.name: tile.verdict for tile in self.headline.tiles}


def data_url(svg: bytes) -> str:
    """A chart inlined, so the PDF fetches nothing and the preview needs no second request."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def public_count(n: int | str) -> int | str:
    return n if isinstance(n, str) else round_public(n)


def headline_sentence(verdicts: list[tuple[str, str]]) -> str:
    """From (construct name, verdict) pairs: the slipping constructs first (at most three
    by name), then how many of the rest hold, improve, can't tell yet or have too few."""
    total = len(verdicts)
    slipping = [name for name, verdict in verdicts if verdict == "slipping"]
    if not slipping:
        opening = "Nothing is slipping"
    elif len(slipping) <= NAMED_AT_MOST:
        names = slipping[0] if len(slipping) == 1 else ", ".join(slipping[:-1]) + " and " + slipping[-1]
        opening = f"{names} {'is' if len(slipping) == 1 else 'are'} slipping"
    else:
        others = len(slipping) - NAMED_AT_MOST
        opening = f"{', '.join(slipping[:NAMED_AT_MOST])} and {others} more are slipping"
    counts = [(sum(v == verdict for _, v in verdicts), verdict) for verdict in COUNTED]
    parts = []
    for n, verdict in [(n, verdict) for n, verdict in counts if n]:
        if not parts:
            parts.append(f"{n} of {total} {'is' if n == 1 else 'are'} {COUNT_WORDS[verdict]}")
        else:
            parts.append(f"{n} {COUNT_WORDS[verdict]}")
    return f"{opening}; {', '.join(parts)}." if parts else f"{opening}."


def slug(text: str) -> str:
    """ASCII, lower case, words joined by hyphens: a file name anyone's system accepts."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def filename(selection: Selection) -> str:
    s = selection
    place = slug(s.place.name) if s.place else "all-places"
    reference = slug(s.reference.label) or f"wave-{s.reference.number}"
    current = slug(s.current.label) or f"wave-{s.current.number}"
    return f"{place or 'place'}-{reference}-to-{current}.pdf"


def compare_command(selection: Selection, results: CachedResults) -> str:
    """The `holdfast compare` command exactly as the Results page prints it."""
    s = selection
    words = [f"holdfast compare survey-{s.survey.id}-responses.csv --codebook survey-{s.survey.id}-codebook.csv",
             f"--reference {shlex.quote(s.reference.label)} --current {shlex.quote(s.current.label)}"]
    if s.baseline:
        words.append(f"--baseline {shlex.quote(s.baseline.label)}")
    words.append("--margins " + ",".join(f"{code}={margin}" for code, margin in results.margins.items()))
    if results.min_n != 10:
        words.append(f"--min-n {results.min_n}")
    words.append("--format json")
    return " ".join(words)


# The code that writes the responses file, in its digest's cache key beside the engine's:
# a file written differently must not be given the digest of the old one.
EXPORT_CODE = hashlib.sha256(Path(exports.__file__).read_bytes()).hexdigest()[:16]


def responses_digest(survey: Survey, results: PublicResults) -> str:
    """The SHA-256 of the responses file the Results page's "Run the comparison yourself"
    link downloads (surveys.routes.export_for_compare, without panel keys).

    Writing the file means reading every response of the survey, so its digest is kept in
    the results cache under the survey's data version (analysis.routes.data_version, which
    moves whenever a response, a name or a question the file carries does): another
    briefing of the same data reads nothing. When the digest must be computed and the
    briefing compares every wave of the survey, the file is written from the responses its
    results were computed from rather than read again."""
    parts = (ENGINE_VERSION, CODE_VERSION, EXPORT_CODE, survey.id, data_version(survey))
    key = f"results/{survey.id}/responses-sha256/{hashlib.sha256(repr(parts).encode()).hexdigest()}"
    try:
        found = cache.get(key)
    except Exception:  # noqa: BLE001 - any failure of the store costs speed, never the briefing
        current_app.logger.warning("results cache: lookup failed", exc_info=True)
        found = None
    if found is not None:
        return found
    waves = list(survey.waves)
    every_wave = {w.id for w in results.selection.waves} == {w.id for w in waves}
    data = results.computed.data if every_wave else surveys.responses_frame(db.session(), waves)
    digest = hashlib.sha256(exports.compare_files(data, False)[0]).hexdigest()
    try:
        cache.set(key, digest)
    except Exception:  # noqa: BLE001
        current_app.logger.warning("results cache: store failed", exc_info=True)
    return digest


def briefing_version(survey: Survey, k: int, quotes: list[quotes_service.ChosenQuote]) -> str:
    """Everything a briefing's content is built from, as one digest: the survey's data
    (analysis.routes.data_version), the public threshold, and the quotes chosen. A briefing
    issued at one version and a preview at another may differ."""
    parts = (data_version(survey), k, [(q.text, q.sector, q.place) for q in quotes],
             codesign_service.actions_version(db.session(), [p.id for p in survey.places]))
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def build(selection: Selection, results: PublicResults, foreword: str = "") -> Briefing:
    rows = results.construct_rows
    chosen = quotes_service.chosen(db.session(), selection.current, selection.place)
    version = briefing_version(selection.survey, results.k, chosen)
    sections = (
        _headline(selection, results, rows), _trends(results), _sectors(results), _trust(selection, results),
        _actions(selection), _quotes(selection, results, chosen), _caveats(selection, results, rows),
        _appendix(selection, results, rows, version),
    )
    if foreword:
        sections = (Foreword(foreword, selection.survey.run_by), *sections)
    return Briefing(
        survey=selection.survey.name, run_by=selection.survey.run_by, where=selection.where,
        reference=selection.reference.label, current=selection.current.label, k=results.k,
        data_version=version, sections=sections,
    )


def render_html(selection: Selection, briefing: Briefing, for_pdf: bool, **context) -> str:
    return render_template("briefings/briefing.html", briefing=briefing, selection=selection, for_pdf=for_pdf,
                           **context)


def render_pdf(selection: Selection, briefing: Briefing) -> bytes:
    return pdf.render(render_html(selection, briefing, True), current_app.static_folder)


def _headline(selection: Selection, results: PublicResults, rows: list[dict]) -> Headline:
    names = results.names
    return Headline(
        sentence=headline_sentence([(names[r["construct"]], r["verdict"]) for r in rows]),
        tiles=tuple(Tile.of(names[r["construct"]], r["verdict"], r["withheld"]) for r in rows),
        waves=_wave_counts(selection, results),
        change_chart=data_url(results.change_svg()),
        reference=selection.reference.label, current=selection.current.label,
    )


def _wave_counts(selection: Selection, results: PublicResults) -> tuple[WaveCount, ...]:
    """Each wave's responses (every one, in the place or all places) and response rate, in
    two small queries: the wave dashboard's tables (surveys.wave_counts) are per sector,
    which a briefing never shows."""
    waves = [w.id for w in selection.waves]
    responses = select(Response.wave_id, func.count()).where(Response.wave_id.in_(waves))
    invitations = (select(Invitation.wave_id, func.count(), func.count(Invitation.used_at))
                   .where(Invitation.wave_id.in_(waves)))
    if selection.place is not None:
        responses = responses.where(Response.place_id == selection.place.id)
        invitations = invitations.where(Invitation.place_id == selection.place.id)
    session = db.session()
    answered = dict(session.execute(responses.group_by(Response.wave_id)).all())
    invited = {wave: (sent, used) for wave, sent, used in session.execute(invitations.group_by(Invitation.wave_id))}
    counts = []
    for wave in selection.waves:
        withheld = results.place_withheld(wave.label)
        sent, used = invited.get(wave.id, (0, 0))
        rate = f"{round(100 * used / sent)}%" if sent and not withheld else "not known"
        counts.append(WaveCount(wave.label, withheld or round_public(answered.get(wave.id, 0)), rate))
    return tuple(counts)


def _trends(results: PublicResults) -> Trends:
    charts = []
    for construct in results.constructs:
        points = tuple(
            (row["wave"], row["withheld"] or ("no responses" if row["mean"] is None
                                              else f"{row['mean']:.2f} ({round_public(row['n'])} responses)"))
            for row in results.trend_rows(construct.code))
        charts.append(TrendChart(construct.name, data_url(results.trend_svg(construct)), points))
    return Trends(tuple(charts))


def _sectors(results: PublicResults) -> Sectors:
    panels = []
    for construct in results.constructs:
        tiles = tuple(Tile.of(row["group"], row["verdict"], row["withheld"])
                      for row in results.sector_rows(construct.code))
        panels.append(SectorPanel(construct.name, tiles))
    return Sectors(tuple(panels))


def _trust_cell(block) -> tuple[str, str]:
    if block is None or (block.mean is None and not block.withheld):
        return "–", "none"
    if block.withheld:
        return block.withheld, "withheld"
    # four shades over the 1–4 scale; the figure itself is printed too
    return f"{block.mean:.1f}", f"shade-{min(4, max(1, int(block.mean)))}"


def _change_cell(reference, current) -> tuple[str, str]:
    """The change in a block's mean since the reference wave, with an arrow so it reads in
    greyscale; the withheld words where either wave's block is withheld."""
    for block in (current, reference):
        if block is not None and block.withheld:
            return block.withheld, "withheld"
    if reference is None or current is None or reference.mean is None or current.mean is None:
        return "–", "none"
    change = round(current.mean - reference.mean, 1)
    if change == 0:
        return "0.0", "same"
    return (f"▲ +{change:.1f}", "up") if change > 0 else (f"▼ −{abs(change):.1f}", "down")


def _trust(selection: Selection, results: PublicResults) -> Trust:
    network = results.network
    labels = {w.wave for w in network.waves}
    if selection.current.label not in labels:
        return Trust(selection.current.label, selection.reference.label, (), (), ())
    current = network.wave(selection.current.label)
    reference = network.wave(selection.reference.label) if selection.reference.label in labels else None
    blocks = {(b.rater, b.target): b for b in current.blocks}
    before = {(b.rater, b.target): b for b in reference.blocks} if reference else {}
    # Sectors nobody rated or was rated by in either wave would be rows and columns of dashes.
    rated = {name for found in (blocks, before) for (rater, target), b in found.items()
             if b.mean is not None or b.withheld for name in (rater, target)}
    sectors = tuple(sector for sector in network.sectors if sector in rated)
    rows = tuple(TrustRow(rater, tuple(_trust_cell(blocks.get((rater, target))) for target in sectors))
                 for rater in sectors)
    changes = tuple(
        TrustRow(rater, tuple(_change_cell(before.get((rater, target)), blocks.get((rater, target)))
                              for target in sectors))
        for rater in sectors) if reference else ()
    return Trust(selection.current.label, selection.reference.label, sectors, rows, changes)


def _caveats(selection: Selection, results: PublicResults, rows: list[dict]) -> Caveats:
    names = results.names
    changes = tuple(
        f"{c.construct.name}: {c.old_margin:.2f} to {c.new_margin:.2f} on {c.changed_at.strftime('%-d %B %Y')}"
        for c in surveys.margin_changes(db.session(), selection.survey))
    broken = surveys.items_breaking_trend([selection.reference, selection.current])
    changed = tuple(item.text for item in selection.current.instrument.items if item.code in broken)
    instrument = selection.current.instrument
    shares = [r["panel"].n_pairs / r["current_n"] for r in rows
              if r.get("panel") and isinstance(r.get("current_n"), int) and r["current_n"]]
    return Caveats(
        k=results.k, reference=selection.reference.label, current=selection.current.label,
        margins=tuple((names[code], f"{margin:.2f}") for code, margin in results.margins.items()),
        margin_changes=changes,
        instrument=f"{instrument.name}, version {instrument.version}",
        changed_questions=changed,
        mix_differs=tuple(names[r["construct"]] for r in rows if r.get("adjusted_disagrees")),
        mix_left_out=tuple(sorted(
            {"responses without a sector" if sector == NOT_GIVEN else sector
             for r in rows if r.get("adjusted") for sector in r["adjusted"].left_out})),
        # Rounded to 5 points, like every public count, so no count can be worked back.
        panel_share=f"about {round_public(round(100 * max(shares)))}%" if shares else None,
    )


def _actions(selection: Selection) -> Actions:
    """Workshop actions for the briefing's place (or the survey's places), by the construct
    each aims to move, with what that construct did after: worded as what followed, not
    what the action caused."""
    # Imported here: codesign.results reads its figures through this module's PublicResults.
    from codesign.results import later_result

    places = [selection.place] if selection.place else list(selection.survey.places)
    grouped: dict[str, list[ActionLine]] = {}
    for action in codesign_service.actions_for_places(db.session(), [p.id for p in places]):
        later = later_result(action.wave, action.construct, action.workshop.place)
        grouped.setdefault(action.construct.name, []).append(ActionLine(
            action.title, action.organisation.name, action.due_on.strftime("%-d %B %Y"),
            action.status_enum.label, later.words))
    return Actions(tuple((name, tuple(lines)) for name, lines in grouped.items()))


def _quotes(selection: Selection, results: PublicResults, chosen: list[quotes_service.ChosenQuote]) -> Quotes:
    """The chosen quotes of the current wave, each attributed to its sector only where the
    sector's responses to the wave (in the place, or in all places) pass the public threshold."""
    found = []
    for quote in chosen:
        named = results.sector_shown(selection.current.label, quote.sector)
        found.append(Quote(quote.text, f"Someone from the {quote.sector} sector" if named else "Someone who took part"))
    return Quotes(selection.current.label, tuple(found))


def _appendix(selection: Selection, results: PublicResults, rows: list[dict], version: str) -> Appendix:
    names = results.names
    return Appendix(
        reference=selection.reference.label, current=selection.current.label,
        rows=tuple(AppendixRow(
            name=names[r["construct"]], verdict=tables.VERDICTS[r["verdict"]].word,
            reference_n=public_count(r["reference_n"]), current_n=public_count(r["current_n"]),
            reference_mean=r.get("reference_mean"), current_mean=r.get("current_mean"),
            difference=r.get("difference"), interval=r.get("ci_simultaneous"), withheld=r.get("withheld"),
        ) for r in rows),
        command=compare_command(selection, results),
        responses_file=f"survey-{selection.survey.id}-responses.csv",
        responses_sha256=responses_digest(selection.survey, results),
        data_version=version,
    )
