"""The outbox and its worker, against a real SMTP server (aiosmtpd) and a real database:
messages are sent once the change they belong to commits, retried with backoff, failed
with the reason, never claimed by two workers at once, and a worker killed mid-batch loses
nothing (what it had in flight may arrive twice, with the same Message-ID)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from core import outbox
from core.db import utcnow
from core.outbox import MessageState, OutboxMessage

ROOT = Path(__file__).resolve().parent.parent.parent
REFUSED = "refused@example.org"


class Inbox:
    """An aiosmtpd handler keeping what it receives; refuses one address for good."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list = []
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED:
            return "550 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            time.sleep(self.delay)  # a slow server, so a worker can be killed mid-batch
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted"


@pytest.fixture
def smtp():
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


def settings(port: int) -> outbox.MailSettings:
    return outbox.MailSettings(server="127.0.0.1", port=port, sender="Holdfast <holdfast@example.org>", timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.both_backends
def test_a_message_is_sent_only_if_its_change_commits(committing_app, smtp):
    with committing_app.extensions["db_sessionmaker"]() as session:
        outbox.queue(session, "a@example.org", "Your survey link", "Hello A", "invitation")
        outbox.queue(session, "b@example.org", "Your survey link", "Hello B", "invitation")
        session.commit()
        outbox.queue(session, "rolled-back@example.org", "Never", "Never sent", "invitation")
        session.rollback()
        assert outbox.run_once(session, settings(smtp.port)) == (2, 0)
        stored = {m.to_address: m for m in session.scalars(select(OutboxMessage))}
    assert {m["To"] for m in smtp.messages} == {"a@example.org", "b@example.org"}
    assert all(m.state == MessageState.SENT and m.sent_at and m.attempts == 1 for m in stored.values())
    received = {m["To"]: m for m in smtp.messages}
    assert received["a@example.org"]["Message-ID"] == stored["a@example.org"].message_id
    assert received["a@example.org"].get_payload().strip() == "Hello A"
    assert received["a@example.org"]["From"] == "Holdfast <holdfast@example.org>"


@pytest.mark.both_backends
def test_an_unreachable_server_is_retried_with_backoff_then_failed_with_the_reason(committing_app):
    with committing_app.extensions["db_sessionmaker"]() as session:
        message = outbox.queue(session, "a@example.org", "Link", "Hello", "invitation")
        session.commit()
        down = settings(free_port())  # nothing listens there
        waits = []
        for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
            message.due_at = utcnow() - timedelta(seconds=1)  # its retry is due
            session.commit()
            before = utcnow()
            assert outbox.run_once(session, down) == (0, 1)
            session.refresh(message)
            assert message.attempts == attempt and message.last_error == "Could not reach the mail server: Connection refused"
            if attempt < outbox.MAX_ATTEMPTS:
                assert message.state == MessageState.QUEUED
                waits.append(message.due_at - before)
        assert message.state == MessageState.FAILED and message.sent_at is None
    assert all(later > earlier for earlier, later in zip(waits, waits[1:]))  # backing off
    assert waits[0] >= outbox.FIRST_RETRY - timedelta(seconds=1)


@pytest.mark.both_backends
def test_a_refused_address_fails_at_once_and_the_rest_are_sent(committing_app, smtp):
    with committing_app.extensions["db_sessionmaker"]() as session:
        for address in ("a@example.org", REFUSED, "b@example.org"):
            outbox.queue(session, address, "Link", "Hello", "invitation")
        session.commit()
        assert outbox.run_once(session, settings(smtp.port)) == (2, 1)
        refused = session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == REFUSED))
    assert refused.state == MessageState.FAILED and refused.attempts == 1
    assert refused.last_error == "The mail server refused the address: 550 No such mailbox"
    assert sorted(m["To"] for m in smtp.messages) == ["a@example.org", "b@example.org"]


@pytest.mark.both_backends
def test_two_workers_never_claim_the_same_message_and_a_lapsed_lease_is_claimed_again(committing_app):
    sessions = committing_app.extensions["db_sessionmaker"]
    with sessions() as session:
        for n in range(40):
            outbox.queue(session, f"p{n}@example.org", "Link", "Hello", "invitation")
        session.commit()
    claimed: list[list[int]] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        with sessions() as session:
            barrier.wait()
            claimed.append([m.id for m in outbox.claim(session, 15)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for batch in claimed for i in batch]
    assert len(every) == len(set(every)) == 40  # each message once, and all of them
    with sessions() as session:
        assert outbox.claim(session, 50) == []  # all leased
        later = utcnow() + outbox.LEASE + timedelta(seconds=1)  # the workers died: their leases lapse
        again = outbox.claim(session, 50, now=later)
        assert len(again) == 40 and {m.attempts for m in again} == {2}


@pytest.mark.both_backends
def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_only_what_was_in_flight(committing_app, tmp_path):
    """The worker as a real process: 500 messages, kill -9 half-way, start it again."""
    inbox = Inbox(delay=0.004)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with committing_app.extensions["db_sessionmaker"]() as session:
            for n in range(500):
                outbox.queue(session, f"p{n}@example.org", "Your survey link", f"Hello {n}", "invitation")
            session.commit()
        env = {**os.environ, "DATABASE_URL": committing_app.config["DATABASE_URL"], "SECRET_KEY": "worker-test",
               "PANEL_SECRET": "worker-test", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port),
               "MAIL_SENDER": "holdfast@example.org"}
        command = [sys.executable, "-m", "flask", "--app", "app", "worker", "--batch", "25", "--poll", "0.2"]
        log = tmp_path / "worker.log"
        with log.open("w") as output:
            first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
        deadline = time.monotonic() + 120
        while len(inbox.messages) < 250 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert 250 <= len(inbox.messages) < 500, log.read_text()
        with committing_app.extensions["db_sessionmaker"]() as session:
            # The killed worker's lease would lapse in minutes; the test moves it on now.
            session.execute(update(OutboxMessage).where(OutboxMessage.state == MessageState.SENDING)
                            .values(due_at=utcnow()))
            session.commit()
        with log.open("a") as output:
            second = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
        deadline = time.monotonic() + 120
        with committing_app.extensions["db_sessionmaker"]() as session:
            while time.monotonic() < deadline:
                left = session.scalar(select(func.count()).select_from(OutboxMessage)
                                      .where(OutboxMessage.state != MessageState.SENT))
                session.commit()
                if left == 0:
                    break
                time.sleep(0.1)
        second.terminate()
        second.wait()
        assert left == 0, log.read_text()
    finally:
        controller.stop()
    ids = Counter(m["Message-ID"] for m in inbox.messages)
    assert len(ids) == 500  # every message delivered
    repeated = [message_id for message_id, n in ids.items() if n > 1]
    assert all(ids[message_id] == 2 for message_id in repeated)
    assert len(repeated) <= 25  # at most the batch the killed worker had in flight
