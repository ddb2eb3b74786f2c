"""A workshop room of phones polling and posting, against the DESIGN.md target (200
participants polling every 3 s: p95 under 100 ms), beside a floor measured in the same run.

Builds the demo data in a temporary SQLite database (WAL), creates a workshop for a demo
place with a few ideas and opens it at the ideas stage, and starts gunicorn (2 workers,
as benchmarks/submissions.py does). Then 200 participants, each a phone with its own
connection and cookies, join through the real pages (the join form with its CSRF token,
the POST, the redirect to the participant page) and follow the room as static/codesign.js
does: every 3 s a GET of the workshop's `state` with If-None-Match (the server answers
304 while nothing changed); on a 200 whose stage differs from the page's, a reload of the
participant page, after which polling starts again without an ETag. Midway through the
20 s the facilitator moves the room to the next stage (through the service, in this
process) from the ideas stage to the dot vote, so every phone sees the change and reloads.
Each phone also posts: one idea at a random moment of the first half (the idea form, with
the page's CSRF token and its own idempotency key), and its dots at a random moment of the
second half (the dots form of the reloaded vote page: one dot on each of three ideas).
Polls and posts are timed apart; every post must be answered with the redirect back.

The floor: the same 200 phones, at the same cadence and with the same conditional GETs,
polling a static file of the same app (no database work), straight afterwards.

    .venv/bin/python benchmarks/workshop.py
    .venv/bin/python benchmarks/workshop.py --dry-run   # 6 phones, 10 s, one worker

The load comes from Python threads (200 mostly sleeping, about 67 requests a second),
which share this machine's two cores with the server: the floor carries the same cost.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from codesign import service  # noqa: E402
from codesign.models import Workshop  # noqa: E402
from core.cli import upgrade_database  # noqa: E402
from core.demo import load_demo_data  # noqa: E402
from core.models import Place, Sector  # noqa: E402
from surveys.models import Construct  # noqa: E402

PARTICIPANTS, SECONDS, FLOOR_SECONDS, WORKERS = 200, 20, 12, 2
DRY_RUN = (6, 10, 4, 1)  # the shortest room in which every phone still posts an idea, then its dots
POLL_S = 3.0
JOIN_CONCURRENCY = 16
TARGET_P95_MS = 100
IDEAS = [
    "One shared calendar of every partnership meeting",
    "A monthly open meeting any organisation can come to",
    "Swap staff between organisations for a week a year",
    "Share the referral data we already collect, with consent",
    "A single contact in each organisation for joint work",
    "Funding that lasts longer than a year so staff can stay",
]
FLOOR_PATH = "/static/images/favicon.svg"
SETTINGS = {"SECRET_KEY": "bench", "PANEL_SECRET": "bench"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(url: str) -> tuple[str, int, list[int]]:
    """The demo data and an open workshop at the ideas stage with a few ideas."""
    app = create_app({**SETTINGS, "DATABASE_URL": url})
    upgrade_database(app.extensions["db_engine"])
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        session.flush()
        place = session.scalar(select(Place).order_by(Place.id))
        constructs = list(session.scalars(select(Construct).order_by(Construct.id).limit(2)))
        workshop = service.create_workshop(session, place, "Benchmark room", date.today(), constructs, 5,
                                           ["How might we keep meeting?"], None, None)
        code = service.open_workshop(session, workshop)
        service.move_to(session, workshop, "ideas")
        for number, text in enumerate(IDEAS):
            service.add_idea(session, workshop, None, text, f"bench-idea-{number}", paper=True)
        session.commit()
        sectors = list(session.scalars(select(Sector.id).order_by(Sector.position)))
        workshop_id = workshop.id
    app.extensions["db_engine"].dispose()
    return code, workshop_id, sectors


def move_stage(url: str, workshop_id: int, stage: str) -> None:
    """The facilitator's console moving the room on, as its route does."""
    app = create_app({**SETTINGS, "DATABASE_URL": url})
    with app.extensions["db_sessionmaker"]() as session:
        service.move_to(session, session.get(Workshop, workshop_id), stage)
        session.commit()
    app.extensions["db_engine"].dispose()


class Phone:
    """One participant's browser: a keep-alive connection and its own cookies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.page = ""  # the last participant page, for its forms

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
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
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def join(self, code: str, sector_id: int, channel: str) -> float:
        started = time.perf_counter()
        status, _, page = self.request("GET", f"/w/{code}")
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert status == 200 and csrf, status
        body = urlencode({"csrf_token": csrf.group(1), "display_name": "", "sector": sector_id, "channel": channel})
        status, headers, _ = self.request("POST", f"/w/{code}/join", body)
        assert status == 302 and headers.get("location", "").endswith(f"/w/{code}"), (status, headers)
        status, _, page = self.request("GET", f"/w/{code}")
        assert status == 200 and "data-state-url" in page, status
        self.page = page
        return time.perf_counter() - started

    def post_idea(self, code: str, number: int) -> tuple[float, int]:
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.page).group(1)
        body = urlencode({"csrf_token": csrf, "text": f"Idea {number}: meet where the work is",
                          "key": f"bench-{number}-{random.random()}"})
        started = time.perf_counter()
        status, _, _ = self.request("POST", f"/w/{code}/ideas", body)
        return time.perf_counter() - started, status

    def post_dots(self, code: str) -> tuple[float, int]:
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.page).group(1)
        ideas = re.findall(r'name="(idea_\d+)"', self.page)
        fields = {"csrf_token": csrf, **{name: 0 for name in ideas}}
        fields.update({name: 1 for name in random.sample(ideas, min(3, len(ideas)))})
        started = time.perf_counter()
        status, _, _ = self.request("POST", f"/w/{code}/dots", urlencode(fields))
        return time.perf_counter() - started, status


@dataclass
class Tally:
    polls: list[float] = field(default_factory=list)
    ideas: list[float] = field(default_factory=list)
    dots: list[float] = field(default_factory=list)
    not_modified: int = 0
    reloads: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def follow(phone: Phone, code: str, poll_path: str, page_path: str | None, first_delay: float,
           deadline: float, tally: Tally, number: int = 0, post_times: tuple[float, float] | None = None) -> None:
    """static/codesign.js's loop: poll every 3 s with If-None-Match; on a 200 for a new
    stage, reload the page (and poll again without an ETag, as the fresh page does). With
    `post_times`, post an idea after the first (at the ideas stage) and dots after the
    second (once the page shows the vote)."""
    etag: str | None = None
    stage: str | None = None
    next_poll = time.perf_counter() + first_delay
    idea_at, dots_at = post_times or (None, None)
    while True:
        now_time = time.perf_counter()
        if idea_at is not None and now_time >= idea_at and stage == "ideas":
            took, status = phone.post_idea(code, number)
            _posted(tally, tally.ideas, took, status, "idea")
            idea_at = None
        if dots_at is not None and now_time >= dots_at and stage == "vote" and "idea_" in phone.page:
            took, status = phone.post_dots(code)
            _posted(tally, tally.dots, took, status, "dots")
            dots_at = None
        waits = [next_poll] + [t for t in (idea_at, dots_at) if t is not None and t > now_time]
        time.sleep(max(0.0, min(waits) - time.perf_counter()))
        if time.perf_counter() >= deadline:
            return
        if time.perf_counter() < next_poll:
            continue  # woken for a post
        started = time.perf_counter()
        status, headers, text = phone.request("GET", poll_path, headers={"If-None-Match": etag} if etag else None)
        took = time.perf_counter() - started
        reload_took = None
        if status == 200:
            etag = headers.get("etag")
            if page_path is not None:
                now = re.search(r'"stage":\s*"([^"]+)"', text).group(1)
                if stage is not None and now != stage:
                    started = time.perf_counter()
                    reload_status, _, page = phone.request("GET", page_path)
                    reload_took = time.perf_counter() - started
                    if reload_status != 200 or f'data-stage="{now}"' not in page:
                        tally.failures.append(f"reload {reload_status}")
                    phone.page = page
                    etag = None
                stage = now
        elif status != 304:
            tally.failures.append(f"poll {status}")
        with tally.lock:
            tally.polls.append(took)
            tally.not_modified += status == 304
            if reload_took is not None:
                tally.reloads.append(reload_took)
        next_poll += POLL_S


def _posted(tally: Tally, into: list[float], took: float, status: int, what: str) -> None:
    with tally.lock:
        into.append(took)
        if status != 302:
            tally.failures.append(f"{what} post {status}")


def run_room(phones: list[Phone], code: str, poll_path: str, page_path: str | None, seconds: float,
             midway=None, posting: bool = False) -> Tally:
    tally = Tally()
    start = time.perf_counter()
    deadline = start + seconds
    rng = random.Random(12)
    half = seconds / 2

    def times() -> tuple[float, float] | None:
        # An idea in the first half (after the first poll has seen the stage), dots in the second.
        return (start + rng.uniform(POLL_S + 0.5, half - 0.5), start + rng.uniform(half + POLL_S + 0.5, seconds - 0.5)) \
            if posting else None

    threads = [threading.Thread(target=follow, args=(phone, code, poll_path, page_path, rng.uniform(0, POLL_S),
                                                     deadline, tally, number, times()))
               for number, phone in enumerate(phones)]
    for thread in threads:
        thread.start()
    if midway is not None:
        time.sleep(half)
        midway()
    for thread in threads:
        thread.join()
    return tally


def join_all(port: int, code: str, sectors: list[int], participants: int) -> tuple[list[Phone], list[float]]:
    phones = [Phone(port) for _ in range(participants)]
    took: list[float] = []
    errors: list[BaseException] = []
    queue = list(enumerate(phones))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                number, phone = queue.pop()
            try:
                seconds = phone.join(code, sectors[number % len(sectors)], "in-room" if number % 5 else "remote")
            except Exception as error:  # noqa: BLE001 - reported below, after the other joins
                errors.append(error)
                return
            with lock:
                took.append(seconds)

    threads = [threading.Thread(target=worker) for _ in range(JOIN_CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} joins failed, the first: {errors[0]!r}")
    return phones, took


def wait_until_serving(port: int) -> None:
    """Until a worker answers: the port opens before the workers have loaded the app, and
    joins timed against booting workers would measure their start-up."""
    for _ in range(300):
        try:
            phones = [Phone(port) for _ in range(4)]
            served = all(phone.request("GET", FLOOR_PATH)[0] == 200 for phone in phones)
            for phone in phones:
                phone.connection.close()
            if served:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="the same room, small and short")
    args = parser.parse_args(argv)
    participants, seconds, floor_seconds, workers = DRY_RUN if args.dry_run else (
        PARTICIPANTS, SECONDS, FLOOR_SECONDS, WORKERS)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        print("Preparing the demo data and an open workshop on SQLite (WAL) ...", flush=True)
        code, workshop_id, sectors = prepare(url)
        port = free_port()
        environment = os.environ | {"DATABASE_URL": url, **SETTINGS}
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(workers), "--worker-class", "gthread", "--threads", "16",
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "app:create_app()"],
            cwd=ROOT, env=environment,
        )
        try:
            wait_until_serving(port)
            joined_at = time.perf_counter()
            phones, joins = join_all(port, code, sectors, participants)
            join_seconds = time.perf_counter() - joined_at
            print(f"{len(phones)} participants joined in {join_seconds:.1f} s; polling for {seconds} s ...", flush=True)
            room = run_room(phones, code, f"/w/{code}/state", f"/w/{code}", seconds, posting=True,
                            midway=lambda: move_stage(url, workshop_id, "vote"))
            print(f"Floor: the same phones polling {FLOOR_PATH} for {floor_seconds} s ...", flush=True)
            floor = run_room(phones, code, FLOOR_PATH, None, floor_seconds)
            for phone in phones:
                phone.connection.close()
        finally:
            server.terminate()
            server.wait(timeout=30)

    def verdict(good: bool) -> str:
        return "OK" if good else "MISSED"

    def line(name: str, values: list[float], target: str = "") -> str:
        return (f"  {name:<22} p50 {ms(values, 50):6.1f} ms   p95 {ms(values, 95):6.1f} ms   "
                f"max {max(values) * 1000:6.1f} ms   {target}")

    poll_p95 = ms(room.polls, 95)
    print(f"\nWorkshop of {participants} participants on SQLite (WAL), gunicorn {workers} worker(s) × 16 threads, "
          f"polling every {POLL_S:.0f} s for {seconds} s, each posting an idea then its dots, the stage moved "
          "from ideas to the vote midway; load from Python threads")
    print(line("joins (3 requests)", joins))
    print(line("state polls", room.polls, f"target p95 < {TARGET_P95_MS} ms  {verdict(poll_p95 < TARGET_P95_MS)}"))
    print(f"  {'':<22} {len(room.polls)} polls, {room.not_modified / len(room.polls):.0%} answered 304")
    print(line("idea posts", room.ideas, f"target p95 < {TARGET_P95_MS} ms  "
                                          f"{verdict(ms(room.ideas, 95) < TARGET_P95_MS)}") + f"({len(room.ideas)})")
    print(line("dot posts", room.dots, f"target p95 < {TARGET_P95_MS} ms  "
                                        f"{verdict(ms(room.dots, 95) < TARGET_P95_MS)}") + f"({len(room.dots)})")
    if room.reloads:
        print(line("page reloads", room.reloads) + f"{len(room.reloads)} phones reloaded for the new stage")
    print(line("floor: static file", floor.polls))
    print(f"  {'':<22} {len(floor.polls)} polls, {floor.not_modified / len(floor.polls):.0%} answered 304")
    failures = room.failures + floor.failures
    print(f"  failed requests        {len(failures)}" + (f"  ({', '.join(sorted(set(failures)))})" if failures else ""))


if __name__ == "__main__":
    main()
