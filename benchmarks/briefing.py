"""Building and rendering one demo place's briefing PDF, against its target and a floor.

Builds the demo database in a temporary folder and, for the first survey's place with
its default comparison, times:

- the briefing: service.selected, service.build, the template and WeasyPrint, as the PDF
  route does, cold (each run with the results cache emptied, so every figure is computed:
  the target is for this) and warm (the same briefing again, its figures cached);
- the floors, with no data work: WeasyPrint alone rendering the same briefing's HTML
  (charts and all, already built), and a document of the same number of plain pages, so
  what the figures, the charts and the layout each cost can be told apart.

    .venv/bin/python benchmarks/briefing.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import render_template  # noqa: E402
from flask_login import login_user  # noqa: E402
from sqlalchemy import select  # noqa: E402
from weasyprint import HTML  # noqa: E402

from analysis.routes import cache  # noqa: E402
from app import create_app  # noqa: E402
from briefings import pdf, service  # noqa: E402
from core import db  # noqa: E402
from core.cli import upgrade_database  # noqa: E402
from core.demo import load_demo_data  # noqa: E402
from core.models import User  # noqa: E402
from surveys.demo import load_demo_surveys  # noqa: E402

TARGET_S = 3.0
RUNS = 3


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="holdfast-bench-"))
    app = create_app({"SECRET_KEY": "bench", "PANEL_SECRET": "bench", "DATABASE_URL": f"sqlite:///{folder / 'b.db'}",
                      "CACHE_DIR": str(folder / "cache")})
    upgrade_database(app.extensions["db_engine"])
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        survey = load_demo_surveys(session, "bench")[0]
        session.commit()
        survey_id, place_id = survey.id, survey.places[0].id

    def briefing_pdf(empty_cache: bool) -> tuple[float, str, bytes]:
        with app.test_request_context(f"/briefings/surveys/{survey_id}.pdf?place={place_id}"):
            login_user(db.session().scalar(select(User).where(User.email == "admin@example.org")))
            if empty_cache:
                cache.clear()
            start = time.perf_counter()
            selection, results = service.selected(survey_id)
            briefing = service.build(selection, results)
            html = render_template("briefings/briefing.html", briefing=briefing, selection=selection, for_pdf=True)
            data = pdf.render(html, app.static_folder)
            return time.perf_counter() - start, html, data

    timings = []
    for _ in range(RUNS):
        elapsed, html, data = briefing_pdf(empty_cache=True)
        timings.append(elapsed)
    warm = [briefing_pdf(empty_cache=False)[0] for _ in range(RUNS)]
    folder_uri = Path(app.static_folder).resolve().as_uri() + "/"
    fetcher = pdf.StaticOnlyFetcher(app.static_folder)
    page_count = len(HTML(string=html, base_url=folder_uri, url_fetcher=fetcher).render().pages)

    filler = "<p>" + "Plain words of a briefing with no figures in it. " * 40 + "</p>"
    plain = "".join(f'<section style="break-before: page"><h2>Page {n}</h2>{filler}</section>'
                    for n in range(page_count))
    floor_html = f'<!DOCTYPE html><html lang="en-GB"><head><title>Floor</title></head><body>{plain}</body></html>'
    same, floors = [], []
    for _ in range(RUNS):
        start = time.perf_counter()
        pdf.render(html, app.static_folder)
        same.append(time.perf_counter() - start)
        start = time.perf_counter()
        HTML(string=floor_html).write_pdf(pdf_variant=pdf.PDF_VARIANT)
        floors.append(time.perf_counter() - start)

    briefing_s, same_s, floor_s = statistics.median(timings), statistics.median(same), statistics.median(floors)
    warm_s = statistics.median(warm)
    print(f"briefing PDF ({page_count} pages, {len(data) // 1024} KiB), cold cache, median of {RUNS}: "
          f"{briefing_s:.2f} s (target < {TARGET_S:.0f} s: {'met' if briefing_s < TARGET_S else 'MISSED'})")
    print(f"briefing PDF, warm cache (the same data briefed again), median of {RUNS}: {warm_s:.2f} s")
    print(f"floor: WeasyPrint alone on the same HTML (no data work): {same_s:.2f} s "
          f"(ratio {briefing_s / same_s:.1f})")
    print(f"floor: WeasyPrint alone, {page_count} plain pages: {floor_s:.2f} s (ratio {briefing_s / floor_s:.1f})")


if __name__ == "__main__":
    main()
