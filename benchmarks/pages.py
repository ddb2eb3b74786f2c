"""Results pages on the demo data, cold and warm, against the targets of issue 8.

Builds the demo database (three surveys of three waves of 250 responses) in a temporary
folder, starts gunicorn (2 workers, sharing the results cache as in production), signs in
as the demo evaluator and times, for one survey's default comparison:

- cold: the results cache emptied before each request (the figures are computed);
- warm: the same request again and again once the figures are cached;

for the comparison page, its change chart, a construct page, a sector page and the trust
page, beside the floor: pages of the same app that compute nothing (How to read this, and
a static file), so what the results pages add can be told from what any request costs.

    .venv/bin/python benchmarks/pages.py                   # the results cache in files
    .venv/bin/python benchmarks/pages.py --redis redis://127.0.0.1:6379/15
    .venv/bin/python benchmarks/pages.py --dry-run         # one worker, each page a few times
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from benchmarks.journeys import Browser, free_port  # noqa: E402
from core.cli import upgrade_database  # noqa: E402
from core.demo import DEMO_PASSWORD, load_demo_data  # noqa: E402
from surveys.demo import load_demo_surveys  # noqa: E402
from surveys.models import Response  # noqa: E402

TARGET_COLD_MS, TARGET_WARM_P95_MS = 1000, 200
COLD_RUNS, WARM_RUNS, WARM_UPS, WORKERS = 7, 60, 4, 2
DRY_RUN = (1, 2, 0, 1)  # the first cold request warms the worker up
PANEL_SECRET = "bench-panel"


def prepare(environment: dict[str, str]) -> tuple[int, dict[str, int], int]:
    """The demo database; returns the first survey's id, its default selection and the
    number of responses in it."""
    app = create_app({"SECRET_KEY": "bench", "PANEL_SECRET": PANEL_SECRET, "DATABASE_URL": environment["DATABASE_URL"],
                      "CACHE_DIR": environment.get("CACHE_DIR", "")})
    upgrade_database(app.extensions["db_engine"])
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        survey = load_demo_surveys(session, PANEL_SECRET)[0]
        session.commit()
        baseline, reference, current = survey.waves  # the demo: baseline, gain, follow-up
        selection = {"reference": reference.id, "current": current.id, "baseline": baseline.id, "place": ""}
        responses = session.scalar(select(func.count()).select_from(Response).where(
            Response.wave_id.in_([w.id for w in survey.waves])))
        survey_id = survey.id
    app.extensions["db_engine"].dispose()
    return survey_id, selection, responses


def clear_cache(environment: dict[str, str]) -> None:
    """Empty the results cache the server uses (the server's settings)."""
    from analysis.routes import cache

    app = create_app(dict(environment))
    with app.app_context():
        cache.clear()
    app.extensions["db_engine"].dispose()


def sign_in(port: int) -> Browser:
    client = Browser(port, timeout=60)
    page = client.request("GET", "/sign-in").text
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page).group(0)
    csrf = re.search(r'value="([^"]+)"', field).group(1)
    reply = client.request("POST", "/sign-in", {"csrf_token": csrf, "email": "evaluator@example.org",
                                                "password": DEMO_PASSWORD})
    assert reply.status == 302 and "sign-in" not in reply.location, f"sign-in failed: {reply.status} {reply.location}"
    return client


def timed(client: Browser, path: str) -> float:
    reply = client.request("GET", path)
    assert reply.status == 200, f"{path}: {reply.status}"
    return reply.seconds * 1000


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", help="keep the results cache in Redis at this URL (default: files)")
    parser.add_argument("--dry-run", action="store_true", help="one worker, each page timed once cold, twice warm")
    args = parser.parse_args(argv)
    cold_runs, warm_runs, warm_ups, workers = DRY_RUN if args.dry_run else (COLD_RUNS, WARM_RUNS, WARM_UPS, WORKERS)
    with tempfile.TemporaryDirectory() as folder:
        environment = {
            "DATABASE_URL": f"sqlite:///{Path(folder) / 'demo.db'}", "SECRET_KEY": "bench",
            "PANEL_SECRET": PANEL_SECRET, "CACHE_DIR": str(Path(folder) / "cache"),
        }
        if args.redis:
            environment["CACHE_REDIS_URL"] = args.redis
        print("Building the demo database ...", flush=True)
        survey_id, selection, responses = prepare(environment)
        query = "?" + urlencode(selection)
        base = f"/analysis/surveys/{survey_id}"
        floors = {"floor: How to read this": "/analysis/how-to-read",
                  "floor: a static file": "/static/images/favicon.svg"}
        pages = {
            "comparison": base + query,
            "change chart": f"{base}/change.svg{query}",
            "construct (trust)": f"{base}/constructs/trust{query}",
            "sector (Local authority)": f"{base}/sectors/{quote('Local authority')}{query}",
            "trust network": f"{base}/trust{query}",
        }
        port = free_port()
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(workers), "--worker-class", "gthread", "--threads", "4",
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "app:create_app()"],
            cwd=ROOT, env=os.environ | environment,
        )
        results: dict[str, tuple[list[float], list[float]]] = {}
        try:
            for _ in range(150):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            client = sign_in(port)
            for _ in range(warm_ups):  # the workers import, compile templates and load fonts first
                for path in [*floors.values(), *pages.values()]:
                    timed(client, path)
            for name, path in {**floors, **pages}.items():
                cold = []
                for _ in range(cold_runs):
                    clear_cache(environment)
                    cold.append(timed(client, path))
                timed(client, path)
                warm = [timed(client, path) for _ in range(warm_runs)]
                results[name] = cold, warm
            client.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
            if args.redis:
                clear_cache(environment)

    def verdict(good: bool) -> str:
        return "OK" if good else "MISSED"

    store = f"Redis ({args.redis})" if args.redis else "files"
    print(f"\nResults pages, demo survey {survey_id} ({responses} responses, 3 waves), gunicorn {workers} worker(s), "
          f"results cache in {store}")
    print(f"  {'page':26} {'cold, slowest of ' + str(cold_runs):>22} {'target':>10}   "
          f"{'warm p95 of ' + str(warm_runs):>16} {'target':>10}")
    for name, (cold, warm) in results.items():
        floor = name.startswith("floor")
        cold_ms, warm_ms = max(cold), p95(warm)
        cold_target = "" if floor else f"< {TARGET_COLD_MS} ms {verdict(cold_ms < TARGET_COLD_MS)}"
        warm_target = "" if floor else f"< {TARGET_WARM_P95_MS} ms {verdict(warm_ms < TARGET_WARM_P95_MS)}"
        print(f"  {name:26} {cold_ms:19.0f} ms {cold_target:>14}   {warm_ms:13.1f} ms {warm_target:>14}")
    print(f"  (cold median: {', '.join(f'{n} {statistics.median(c):.0f} ms' for n, (c, _) in results.items())})")


if __name__ == "__main__":
    main()
