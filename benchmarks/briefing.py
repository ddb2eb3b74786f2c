"""Building and rendering a briefing PDF, against its target and floors measured in the same run.

Builds the demo database in a temporary SQLite folder, adds two larger surveys with bulk
inserts (the time taken is printed, not counted), and for three cases:

- the demo place: the first demo survey's place (3 waves of about 250 responses);
- a place with 10,000 responses across its 3 waves (a one-place survey);
- all places of a survey with 100,000 responses in total (5 places, 3 waves);

each with its default comparison, times:

- the briefing: service.selected, service.build and service.render_pdf (the template and
  WeasyPrint), as the PDF route does, cold (each run with the results cache emptied, so
  every figure is computed: the target is for this) and warm (the same briefing again,
  its figures cached);
- the floors, with no data work: WeasyPrint alone rendering the same briefing's HTML
  (charts and all, already built), and a document of the same number of plain pages, so
  what the figures, the charts and the layout each cost can be told apart.

The large surveys' answers are drawn as surveys/demo.py draws the demo's: every likert
question of the wave's questionnaire on the 1-5 scale (a person's view of a construct
moves its questions together; some answers at the ceiling; about 2% left blank), a free
text answer with its quote consent from about 15%, trust ratings of 4 other sectors on
every dimension, about 40% from a panel answering every wave with an organisation (3 per
sector and place, so the organisation rule is met), the rest from an open link; sectors
of differing sizes, with Faith too small to show (6 a wave in each place).

    .venv/bin/python benchmarks/briefing.py [--profile] [--dry-run]

--profile also runs the 10,000-response case's cold path once under cProfile and prints
the 25 functions with the largest cumulative time. --dry-run builds and measures the
five-place survey alone, with 1,500 responses, once. The temporary database is removed
at the end, however the run ends.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import pstats
import statistics
from collections import Counter
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from flask_login import login_user  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402
from weasyprint import HTML  # noqa: E402

from analysis.routes import cache  # noqa: E402
from app import create_app  # noqa: E402
from briefings import pdf, service  # noqa: E402
from core import db  # noqa: E402
from core.cli import upgrade_database  # noqa: E402
from core.demo import load_demo_data  # noqa: E402
from core.models import Organisation, Place, Sector, User  # noqa: E402
from surveys import service as surveys  # noqa: E402
from surveys.demo import CONSTRUCT_MEANS, WAVE_DAYS, WAVE_ROLES, WAVE_STARTS, load_demo_surveys  # noqa: E402
from surveys.instruments import QUOTE_CONSENT_CODE, QUOTE_CONSENT_YES  # noqa: E402
from surveys.invitations import panel_key  # noqa: E402
from surveys.models import AnonymityMode, Answer, Invitation, Response, TrustRating  # noqa: E402
from surveys.question_types import TRUST_DIMENSIONS  # noqa: E402

TARGET_S = 3.0
FIVE_PLACE_SURVEY = "Working together across the Fenwick region"
FIVE_PLACES = ["Ashby Fields", "Colton Marsh", "Dunmere", "Fenwick Vale", "Garrow Heath"]
DRY_RUN_SIZE = 1_500
PANEL_SECRET = "bench"
SEED = 10_2026

# Respondents by sector (weights), Faith apart: a fixed, small number in each place and wave.
SECTOR_WEIGHTS = {
    "Voluntary and community": 70, "Local authority": 50, "Health and care": 40,
    "Mutual aid / community group": 30, "Housing": 20, "Funder": 15, "Education": 12, "Business": 10,
}
SMALL_SECTOR, SMALL_PER_WAVE = "Faith", 6
PANEL_SHARE = 0.4
ORGANISATIONS_PER_SECTOR = 3
CEILING_LIFT = 0.4  # added to the demo's construct means: more answers at 5, as real surveys see
BLANK_SHARE = 0.02
TEXT_SHARE = 0.15
TRUST_TARGETS = 4
UNANSWERED_INVITATIONS = 0.15  # of the panel, invited to a wave and never answering
TEXT_ANSWERS = [
    "Keep the weekly partners' call going: it is where things get unstuck.",
    "Funding that lasts longer than a year so staff can stay.",
    "Less paperwork for small groups taking part in joint bids.",
    "Agree once how we share data about families, instead of every time.",
]


@dataclass(frozen=True)
class Case:
    title: str
    survey_id: int
    place_id: int | None  # None: all places
    responses: int
    runs: int


@dataclass(frozen=True)
class Person:
    panel_key: str | None
    sector_id: int
    organisation_id: int | None
    effect: float


# --- the large surveys -------------------------------------------------------------------


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def by_weight(sectors: dict[str, Sector], size: int) -> list[int]:
    """Sector ids for `size` respondents, in proportion to SECTOR_WEIGHTS."""
    weights = np.array(list(SECTOR_WEIGHTS.values()), dtype=float)
    counts = np.floor(weights / weights.sum() * size).astype(int)
    counts[0] += size - counts.sum()
    return [sectors[name].id for name, n in zip(SECTOR_WEIGHTS, counts) for _ in range(n)]


def sector_mix(sectors: dict[str, Sector], size: int) -> list[int]:
    """Sector ids for a wave's `size` respondents in one place: the small sector's few, the rest by weight."""
    return by_weight(sectors, size - SMALL_PER_WAVE) + [sectors[SMALL_SECTOR].id] * SMALL_PER_WAVE


def large_survey(session, rng, name: str, place_names: list[str], total: int) -> tuple[int, list[int]]:
    """A survey of new places with `total` responses over 3 closed waves; its id and its places' ids."""
    sectors = {s.name: s for s in session.scalars(select(Sector))}
    places = [Place(name=p, description="A benchmark place.") for p in place_names]
    session.add_all(places)
    session.flush()
    organisations = {}
    for place in places:
        for sector_name in SECTOR_WEIGHTS:
            own = [Organisation(name=f"{place.name} {sector_name} {n}", sector=sectors[sector_name], place=place)
                   for n in range(1, ORGANISATIONS_PER_SECTOR + 1)]
            session.add_all(own)
            organisations[place.id, sectors[sector_name].id] = own
    session.flush()
    survey = surveys.create_survey(session, name, f"{name} Board", "Benchmark data.", "coordination-and-trust",
                                   [p.id for p in places], AnonymityMode.PSEUDONYMOUS)
    per_place_wave = [split(wave_total, len(places)) for wave_total in split(total, len(WAVE_ROLES))]
    panels = {}
    for index, place in enumerate(places):
        size = int(min(counts[index] for counts in per_place_wave) * PANEL_SHARE)
        mix = by_weight(sectors, size)
        panels[place.id] = [
            Person(panel_key(PANEL_SECRET, f"bench{n}.{place.id}@example.org"), sector_id,
                   organisations[place.id, sector_id][n % ORGANISATIONS_PER_SECTOR].id, rng.normal(0, 0.4))
            for n, sector_id in enumerate(mix)
        ]
    for number, role in enumerate(WAVE_ROLES):
        wave = survey.waves[0] if number == 0 else surveys.clone_wave(session, survey, f"Wave {number + 1}", role)
        surveys.open_wave(session, wave, actor=None)
        for index, place in enumerate(places):
            respond(rng, session, wave, number, place, sectors, panels[place.id], per_place_wave[number][index])
        surveys.close_wave(session, wave, actor=None)
        wave.opens_at = WAVE_STARTS[number]
        wave.closes_at = WAVE_STARTS[number] + timedelta(days=WAVE_DAYS)
    session.commit()
    return survey.id, [p.id for p in places]


def respond(rng, session, wave, number, place, sectors, panel, size) -> None:
    """`size` responses to the wave in the place, with their answers, trust ratings and
    the panel's invitations, in a few bulk inserts (as surveys/demo.py _respond)."""
    mix = Counter(sector_mix(sectors, size))
    mix.subtract(p.sector_id for p in panel)  # the panel's sectors are taken from the mix
    people = panel + [Person(None, s, None, rng.normal(0, 0.4)) for s in mix.elements()]
    assert len(people) == size and min(mix.values()) >= 0, "the panel outnumbers a sector of the wave"
    start = WAVE_STARTS[number]
    days = np.minimum(rng.exponential(5, size).astype(int), WAVE_DAYS - 1)
    minutes = rng.integers(0, 600, size)
    rows = [{
        "wave_id": wave.id, "submitted_at": start + timedelta(days=int(d), minutes=int(m)),
        "sector_id": p.sector_id, "place_id": place.id, "organisation_id": p.organisation_id,
        "panel_key": p.panel_key, "channel": "link" if p.panel_key else "open",
        "idempotency_key": f"bench-{wave.id}-{place.id}-{n}",
    } for n, (p, d, m) in enumerate(zip(people, days, minutes))]
    ids = np.array(session.scalars(insert(Response).returning(Response.id, sort_by_parameter_order=True),
                                   rows).all())

    effect = np.array([p.effect for p in people])
    codes = list(CONSTRUCT_MEANS)
    views = rng.normal(0, 0.5, (size, len(codes)))
    answers = []
    for item in [i for i in wave.instrument.items if i.type == "likert" and i.construct]:
        c = codes.index(item.construct.code)
        mean = CONSTRUCT_MEANS[item.construct.code][number] + CEILING_LIFT
        score = np.clip(np.rint(mean + views[:, c] + effect + rng.normal(0, 0.5, size)), 1, 5)
        value = 6 - score if item.reverse else score
        given = rng.random(size) >= BLANK_SHARE
        answers += [{"response_id": int(r), "item_code": item.code, "numeric_value": float(v), "text_value": None}
                    for r, v in zip(ids[given], value[given])]
    for r in ids[rng.random(size) < TEXT_SHARE]:
        answers.append({"response_id": int(r), "item_code": "one_thing", "numeric_value": None,
                        "text_value": TEXT_ANSWERS[int(r) % len(TEXT_ANSWERS)]})
        answers.append({"response_id": int(r), "item_code": QUOTE_CONSENT_CODE,
                        "numeric_value": float(QUOTE_CONSENT_YES if r % 3 else 2), "text_value": None})
    session.execute(insert(Answer), answers)

    sector_ids = np.array([s.id for s in sectors.values()])
    own = np.array([p.sector_id for p in people])
    keys = rng.random((size, len(sector_ids)))
    keys[own[:, None] == sector_ids[None, :]] = 2.0  # never one's own sector
    targets = sector_ids[np.argsort(keys, axis=1)[:, :TRUST_TARGETS]]
    ratings = []
    for dimension in TRUST_DIMENSIONS:
        values = np.clip(np.rint(3.0 + rng.normal(0, 0.6, targets.shape)), 1, 4).astype(int)
        ratings += [{"response_id": int(r), "target_sector_id": int(t), "dimension": dimension, "value": int(v)}
                    for r, row_t, row_v in zip(ids, targets, values) for t, v in zip(row_t, row_v)]
    session.execute(insert(TrustRating), ratings)

    invited = panel + panel[:int(len(panel) * UNANSWERED_INVITATIONS)]
    session.execute(insert(Invitation), [{
        "wave_id": wave.id, "token_hash": hashlib.sha256(f"bench-{wave.id}-{place.id}-{n}".encode()).hexdigest(),
        "organisation_id": p.organisation_id, "sector_id": p.sector_id, "place_id": place.id,
        "panel_key": p.panel_key if n < len(panel) else None, "used_at": start if n < len(panel) else None,
    } for n, p in enumerate(invited)])
    session.flush()


# --- timing ------------------------------------------------------------------------------


def render_counting(html: str, static_folder: str) -> tuple[bytes, int]:
    """What pdf.render does, in its two steps, so the number of pages can be read."""
    folder = Path(static_folder).resolve()
    document = HTML(string=html, base_url=folder.as_uri() + "/", url_fetcher=pdf.StaticOnlyFetcher(folder))
    rendered = document.render(pdf_variant=pdf.PDF_VARIANT)
    return rendered.write_pdf(pdf_variant=pdf.PDF_VARIANT), len(rendered.pages)


def briefing_pdf(app, case: Case, empty_cache: bool) -> tuple[float, float, str, bytes]:
    """One briefing as the PDF route makes it: wall and CPU seconds, its HTML and its PDF."""
    query = f"?place={case.place_id}" if case.place_id else ""
    with app.test_request_context(f"/briefings/surveys/{case.survey_id}.pdf{query}"):
        login_user(db.session().scalar(select(User).where(User.email == "admin@example.org")))
        if empty_cache:
            cache.clear()
        start, cpu = time.perf_counter(), time.process_time()
        selection, results = service.selected(case.survey_id)
        briefing = service.build(selection, results)
        data = service.render_pdf(selection, briefing)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        return elapsed, cpu, service.render_html(selection, briefing, True), data


def measure(app, case: Case) -> None:
    cold = [briefing_pdf(app, case, empty_cache=True) for _ in range(case.runs)]
    html, data = cold[-1][2], cold[-1][3]
    warm = [briefing_pdf(app, case, empty_cache=False)[0] for _ in range(case.runs)]
    same, floors, pages = [], [], 0
    for _ in range(case.runs):
        start = time.perf_counter()
        pages = render_counting(html, app.static_folder)[1]
        same.append(time.perf_counter() - start)
    filler = "<p>" + "Plain words of a briefing with no figures in it. " * 40 + "</p>"
    plain = "".join(f'<section style="break-before: page"><h2>Page {n}</h2>{filler}</section>' for n in range(pages))
    floor_html = f'<!DOCTYPE html><html lang="en-GB"><head><title>Floor</title></head><body>{plain}</body></html>'
    for _ in range(case.runs):
        start = time.perf_counter()
        HTML(string=floor_html).write_pdf(pdf_variant=pdf.PDF_VARIANT)
        floors.append(time.perf_counter() - start)

    cold_s, cold_cpu = statistics.median(c[0] for c in cold), statistics.median(c[1] for c in cold)
    warm_s, same_s, floor_s = statistics.median(warm), statistics.median(same), statistics.median(floors)
    print(f"== {case.title}: {case.responses:,} responses, {pages} pages, {len(data) // 1024} KiB, "
          f"median of {case.runs}", flush=True)
    print(f"  cold cache: {cold_s:.2f} s (CPU {cold_cpu:.2f} s); target < {TARGET_S:.0f} s: "
          f"{'met' if cold_s < TARGET_S else 'MISSED'}")
    print(f"  warm cache: {warm_s:.2f} s; target < {TARGET_S:.0f} s: {'met' if warm_s < TARGET_S else 'MISSED'}")
    print(f"  floor, WeasyPrint alone on the same HTML: {same_s:.2f} s "
          f"(cold ratio {cold_s / same_s:.1f}, warm ratio {warm_s / same_s:.1f})")
    print(f"  floor, WeasyPrint alone on {pages} plain pages: {floor_s:.2f} s "
          f"(cold ratio {cold_s / floor_s:.1f}, warm ratio {warm_s / floor_s:.1f})", flush=True)


def profile(app, case: Case) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    briefing_pdf(app, case, empty_cache=True)
    profiler.disable()
    print(f"== cProfile, {case.title}, cold cache: top 25 by cumulative time", flush=True)
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)


def build_cases(session, dry_run: bool) -> tuple[list[Case], Case]:
    """The data and the cases to measure: the demo place, a one-place survey and a
    five-place one (with `dry_run`, the five-place survey alone, small, once), and the case
    --profile runs."""
    load_demo_data(session)
    rng = np.random.default_rng(SEED)
    if dry_run:
        many_id, _ = large_survey(session, rng, FIVE_PLACE_SURVEY, FIVE_PLACES, DRY_RUN_SIZE)
        case = Case(f"all 5 places of a survey with {DRY_RUN_SIZE:,} responses", many_id, None, DRY_RUN_SIZE, 1)
        return [case], case
    demo = load_demo_surveys(session, PANEL_SECRET)[0]
    session.commit()
    demo_place = demo.places[0]
    demo_count = session.scalar(select(func.count()).where(
        Response.wave_id.in_([w.id for w in demo.waves]), Response.place_id == demo_place.id))
    one_id, (one_place,) = large_survey(session, rng, "Working together in Marlow Reach", ["Marlow Reach"], 10_000)
    many_id, _ = large_survey(session, rng, FIVE_PLACE_SURVEY, FIVE_PLACES, 100_000)
    one_place_case = Case("a place with 10,000 responses", one_id, one_place, 10_000, 2)
    return [Case(f"the demo place ({demo_place.name})", demo.id, demo_place.id, demo_count, 3), one_place_case,
            Case("all 5 places of a survey with 100,000 responses", many_id, None, 100_000, 2)], one_place_case


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--profile", action="store_true", help="profile the 10,000-response case's cold path")
    parser.add_argument("--dry-run", action="store_true",
                        help=f"the five-place survey alone, with {DRY_RUN_SIZE:,} responses, once")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    # The database of the large surveys is hundreds of megabytes: gone at the end, however it ends.
    with tempfile.TemporaryDirectory(prefix="holdfast-bench-") as temporary:
        folder = Path(temporary)
        app = create_app({"SECRET_KEY": "bench", "PANEL_SECRET": PANEL_SECRET,
                          "DATABASE_URL": f"sqlite:///{folder / 'b.db'}", "CACHE_DIR": str(folder / "cache")})
        try:
            upgrade_database(app.extensions["db_engine"])
            with app.extensions["db_sessionmaker"]() as session:
                start = time.perf_counter()
                cases, profiled = build_cases(session, args.dry_run)
                built = time.perf_counter() - start
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; data built in {built:.0f} s "
                  "(not counted)", flush=True)
            for case in cases:
                measure(app, case)
            if args.profile:
                profile(app, profiled)
        finally:
            app.extensions["db_engine"].dispose()
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
