"""Survey submission throughput and respondent page latency, against DESIGN.md targets.

Starts gunicorn (2 workers) on a fresh database and prepares invitations whose drafts
are complete, as if each respondent had reached "Check your answers". Then 32 clients,
each a browser with its own session (one GET to get its cookie and CSRF token), send
the final "Send answers" POST for one invitation after another, for 20 seconds.
Afterwards it counts responses in the database: every submission acknowledged with a
redirect to the confirmation page must be there. Then it measures GETs of a respondent
question page.

    .venv/bin/python benchmarks/submissions.py                 # SQLite (WAL)
    .venv/bin/python benchmarks/submissions.py --postgres URL  # PostgreSQL
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from core.cli import upgrade_database  # noqa: E402
from core.demo import load_demo_data  # noqa: E402
from core.service import hash_token  # noqa: E402
from surveys import service  # noqa: E402
from surveys.models import Draft, Invitation, Response  # noqa: E402

CLIENTS = 32
SECONDS = 20
GET_SECONDS = 10
INVITATIONS = 16_000
TARGET_RATE, TARGET_P95_MS, TARGET_GET_P95_MS = 200, 150, 50
BENCH_SCHEMA = "holdfast_bench"
THREADS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(args, folder: Path) -> str:
    if not args.postgres:
        return f"sqlite:///{folder / 'bench.db'}"
    engine = create_engine(args.postgres)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {BENCH_SCHEMA}")
    engine.dispose()
    separator = "&" if "?" in args.postgres else "?"
    return f"{args.postgres}{separator}options={quote(f'-csearch_path={BENCH_SCHEMA}')}"


def prepare(url: str) -> tuple[list[str], int]:
    """A survey with an open wave and invitations whose drafts hold complete answers."""
    app = create_app({"SECRET_KEY": "bench", "PANEL_SECRET": "bench", "DATABASE_URL": url})
    upgrade_database(app.extensions["db_engine"])
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        session.commit()
        survey = service.create_survey(session, "Benchmark", "Bench", "", "coordination-and-trust",
                                       [1], service.AnonymityMode.ANONYMOUS)
        wave = survey.waves[0]
        service.open_wave(session, wave, actor=None)
        answers = {item.code: {"likert": 4, "text": "Fine", "trust_matrix": {}}.get(item.type)
                   for item in wave.instrument.items}
        tokens = [secrets.token_urlsafe(24) for _ in range(INVITATIONS)]
        ids = session.scalars(insert(Invitation).returning(Invitation.id, sort_by_parameter_order=True), [
            {"wave_id": wave.id, "token_hash": hash_token(t), "sector_id": 2, "place_id": 1} for t in tokens
        ]).all()
        session.execute(insert(Draft), [
            {"wave_id": wave.id, "invitation_id": i, "sector_id": 2, "place_id": 1, "answers": answers,
             "section": 0, "submission_key": secrets.token_urlsafe(24)} for i in ids
        ])
        session.commit()
        wave_id = wave.id
    app.extensions["db_engine"].dispose()
    return tokens, wave_id


class Client:
    """One keep-alive connection with its own cookie, like one browser."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection: reconnect, as a browser does.
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        text = response.read().decode()
        for cookie in response.msg.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return response.status, response.getheader("Location") or "", text


def submit_loop(port, tokens, lock, deadline, latencies, acknowledged, failures):
    client = Client(port)
    with lock:
        first = tokens[-1]
    _, _, page = client.request("GET", f"/s/{first}/0")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    # Without a submission_key field the server uses the draft's own key, as the
    # check page's hidden field would carry.
    body = f"csrf_token={quote(csrf)}"
    while time.perf_counter() < deadline:
        with lock:
            if not tokens:
                return
            token = tokens.pop()
        started = time.perf_counter()
        status, location, _ = client.request("POST", f"/s/{token}/check", body)
        latencies.append(time.perf_counter() - started)
        if status == 302 and location.endswith("/done"):
            acknowledged.append(token)
        else:
            failures.append(f"POST {status} {location}")


def get_loop(port, paths, deadline, latencies):
    client = Client(port)
    index = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        status, _, _ = client.request("GET", paths[index % len(paths)])
        latencies.append(time.perf_counter() - started)
        assert status == 200, status
        index += 1


def run_wrk(port: int, paths: list[str], method: str, connections: int, seconds: int, cookie: str, body: str):
    """Drive the server with Debian's wrk (C, light on CPU, so the load generator does not
    starve the server of this machine's two cores). Returns (ok, failed, seconds, p95 ms, p50 ms)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(paths))
        listing.flush()
        environment = os.environ | {"PATHS_FILE": listing.name, "METHOD": method, "BODY": body,
                                    "COOKIE": cookie, "THREADS": "2"}
        output = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
             "-s", str(ROOT / "benchmarks/respondents.lua"), f"http://127.0.0.1:{port}"],
            env=environment, capture_output=True, text=True, check=True,
        ).stdout
    ok, failed, elapsed, p95, p50 = re.search(r"RESULT (\S+) (\S+) (\S+) (\S+) (\S+)", output).groups()
    return int(ok), int(failed), float(elapsed), float(p95), float(p50)


def run_clients(target, count: int, *args) -> None:
    threads = [threading.Thread(target=target, args=args) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def p95_ms(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="PostgreSQL URL (default: SQLite in a temporary folder)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"threads per gunicorn worker (default {THREADS})")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = database_url(args, Path(folder))
        backend = "PostgreSQL" if args.postgres else "SQLite (WAL)"
        print(f"Preparing {INVITATIONS} invitations on {backend} ...", flush=True)
        tokens, wave_id = prepare(url)
        get_paths = [f"/s/{t}/0" for t in tokens[:200]]
        submit_tokens = tokens[200:]
        port = free_port()
        environment = os.environ | {"DATABASE_URL": url, "SECRET_KEY": "bench", "PANEL_SECRET": "bench", "PYTHONFAULTHANDLER": "1"}
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--workers", "2", "--worker-class", "gthread", "--threads", "16",
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "app:create_app()"],
            cwd=ROOT, env=environment,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            if shutil.which("wrk"):
                # One browser session whose CSRF token every connection presents.
                browser = Client(port)
                page = browser.request("GET", get_paths[0])[2]
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
                cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
                submit_paths = [f"/s/{t}/check" for t in submit_tokens]
                acknowledged, failed, elapsed, post_p95, _ = run_wrk(
                    port, submit_paths, "POST", CLIENTS, SECONDS, cookie, f"csrf_token={quote(csrf)}")
                gets, _, _, get_p95, _ = run_wrk(port, get_paths, "GET", 8, GET_SECONDS, cookie, "")
                generator = "wrk"
            else:
                latencies, tokens_done, failures = [], [], []
                started = time.perf_counter()
                run_clients(submit_loop, CLIENTS, port, submit_tokens, threading.Lock(), started + SECONDS,
                            latencies, tokens_done, failures)
                elapsed = time.perf_counter() - started
                get_latencies: list[float] = []
                run_clients(get_loop, 8, port, get_paths, time.perf_counter() + GET_SECONDS, get_latencies)
                acknowledged, failed, post_p95 = len(tokens_done), len(failures), p95_ms(latencies)
                gets, get_p95 = len(get_latencies), p95_ms(get_latencies)
                generator = "Python threads (install Debian's wrk for a load generator that leaves the server its CPU)"
        finally:
            server.terminate()
            server.wait(timeout=30)
        engine = create_engine(url)
        with engine.connect() as connection:
            stored = connection.scalar(select(func.count()).select_from(Response).where(Response.wave_id == wave_id))
        engine.dispose()

    rate = acknowledged / elapsed
    # Stored but not yet acknowledged when the clock stopped is fine (in flight); the
    # reverse would be a lost submission.
    lost = max(0, acknowledged - stored)

    def verdict(good: bool) -> str:
        return "OK" if good else "MISSED"

    print(f"\nSubmissions on {backend}, gunicorn 2 workers × {args.threads} threads, {CLIENTS} clients, "
          f"{elapsed:.1f} s, load from {generator}")
    print(f"  throughput       {rate:8.1f} /s     target ≥ {TARGET_RATE} /s   {verdict(rate >= TARGET_RATE)}")
    print(f"  POST p95         {post_p95:8.1f} ms    target < {TARGET_P95_MS} ms  {verdict(post_p95 < TARGET_P95_MS)}")
    print(f"  acknowledged     {acknowledged:8d}        stored {stored} ({stored - acknowledged + lost} still in flight "
          f"at the end), lost {lost}   {'OK' if lost == 0 else 'LOST'}")
    print(f"  failed requests  {failed:8d}")
    print(f"Respondent page GET, 8 clients, {GET_SECONDS} s: {gets} requests")
    print(f"  GET p95          {get_p95:8.1f} ms    target < {TARGET_GET_P95_MS} ms   {verdict(get_p95 < TARGET_GET_P95_MS)}")


if __name__ == "__main__":
    main()
