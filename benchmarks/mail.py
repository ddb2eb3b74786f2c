"""Invitations by email: 5,000 addresses queued from the coordinator's page, then delivered
by the worker to a local SMTP server (aiosmtpd), against a floor measured in the same run.

- queueing: the invitation form's POST with 5,000 bare addresses and a default sector, as a
  coordinator sends it (parsing, 5,000 invitations with their hashed links, 5,000 outbox
  messages, one transaction, the page of links);
- delivering: `outbox.run_once` in batches of 50, as `flask --app app worker` does, until the
  outbox is empty; messages per second;
- the floor: the same number of messages of the same size sent from a bare loop over one
  smtplib connection, with no database: what the SMTP server and the network stack allow.

DESIGN.md sets no target for mail; the issue asks for the figures beside the floor.

    .venv/bin/python benchmarks/mail.py [--count 5000] [--dry-run]
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from core import outbox  # noqa: E402
from core.cli import upgrade_database  # noqa: E402
from core.demo import DEMO_PASSWORD, load_demo_data  # noqa: E402
from core.models import Sector  # noqa: E402
from surveys import service  # noqa: E402
from surveys.models import AnonymityMode  # noqa: E402


DRY_RUN_COUNT = 50


class Counting:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        self.received += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--dry-run", action="store_true", help=f"{DRY_RUN_COUNT} invitations")
    args = parser.parse_args(argv)
    count = DRY_RUN_COUNT if args.dry_run else args.count
    with tempfile.TemporaryDirectory(prefix="holdfast-mail-") as folder:
        measure(count, folder)


def measure(count: int, folder: str) -> None:
    inbox = Counting()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = create_app({
            "SECRET_KEY": "bench", "PANEL_SECRET": "bench-panel", "DATABASE_URL": f"sqlite:///{folder}/bench.db",
            "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "CACHE_DIR": f"{folder}/cache",
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "MAIL_SENDER": "holdfast@example.org",
        })
        upgrade_database(app.extensions["db_engine"])
        with app.extensions["db_sessionmaker"]() as session:
            load_demo_data(session)
            session.commit()
            survey = service.create_survey(session, "Mail", "Board", "", "coordination-and-trust", [1],
                                           AnonymityMode.ANONYMOUS)
            wave = survey.waves[0]
            service.open_wave(session, wave, actor=None)
            wave_id = wave.id
            funder = session.scalar(select(Sector.id).where(Sector.name == "Funder"))

        client = app.test_client()
        client.post("/sign-in", data={"email": "coordinator@example.org", "password": DEMO_PASSWORD})
        addresses = "\n".join(f"person{n}@example.org" for n in range(count))
        started = time.perf_counter()
        page = client.post(f"/waves/{wave_id}/invitations", data={"invitees": addresses, "default_sector": str(funder)})
        queued_in = time.perf_counter() - started
        assert page.status_code == 200, page.status_code

        settings = outbox.MailSettings.from_config(app.config)
        started = time.perf_counter()
        with app.extensions["db_sessionmaker"]() as session:
            sent = 0
            while True:
                done, failed = outbox.run_once(session, settings, batch=50)
                if not done and not failed:
                    break
                sent += done
            left = session.scalar(select(func.count()).select_from(outbox.OutboxMessage)
                                  .where(outbox.OutboxMessage.state != outbox.MessageState.SENT.value))
        delivered_in = time.perf_counter() - started
        assert sent == count and left == 0 and inbox.received == count, (sent, left, inbox.received)

        body = "x" * 600  # about an invitation's length
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for n in range(count):
                message = EmailMessage()
                message["From"], message["To"], message["Subject"] = "holdfast@example.org", f"p{n}@example.org", "Floor"
                message.set_content(body)
                smtp.send_message(message)
        floor_in = time.perf_counter() - started
        app.extensions["db_engine"].dispose()
    finally:
        controller.stop()

    print(f"{count} invitations")
    print(f"  coordinator's page, queueing them all: {queued_in:6.2f} s  ({count / queued_in:7.0f} invitations/s)")
    print(f"  worker, delivering them:               {delivered_in:6.2f} s  ({count / delivered_in:7.0f} messages/s)")
    print(f"  floor, a bare smtplib loop:            {floor_in:6.2f} s  ({count / floor_in:7.0f} messages/s)")
    print(f"  worker / floor: {delivered_in / floor_in:.1f}x")


if __name__ == "__main__":
    main()
