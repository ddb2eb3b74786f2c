"""Mail never stops for one message: a survey name or an action title that cannot go in
a header as it stands (a line break, stored before such names were refused, or too long)
is folded and cut where the message is queued; a message that still cannot be written
or sent fails with the reason while the rest of the batch goes; the worker never exits on
a message; and under honcho the web app does not stop with the worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select, update

from codesign import service as codesign_service
from core import outbox
from core.models import Sector
from core.outbox import MessageState, OutboxMessage
from surveys import invitations
from surveys.models import Construct
from tests.core.test_outbox import settings, smtp  # noqa: F401 - the SMTP server fixture

ROOT = Path(__file__).resolve().parent.parent.parent
INJECTED = "Partnership survey\r\nBcc: everyone@example.org"


def invite(db_session, survey, email: str) -> OutboxMessage:
    wave = survey.waves[0]
    invitee = invitations.Invitee(email, None, db_session.scalar(select(Sector.id)), survey.places[0].id)
    invitations.create_invitations(db_session, wave, [invitee], "panel-secret", "link-secret",
                                   lambda token: f"https://holdfast.example.org/s/{token}")
    return db_session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == email)).one()


def mailing_app(make_app, smtp):  # noqa: F811
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp.port), MAIL_SENDER="holdfast@example.org",
                    PUBLIC_URL="https://holdfast.example.org")


def test_a_survey_name_with_a_line_break_stops_no_mail(make_app, db_session, make_survey, smtp):  # noqa: F811
    """The issue's case: the name's invitation, then another survey's queued after it."""
    survey = make_survey(open_first_wave=True)
    survey.name = INJECTED  # as it could be stored before names with line breaks were refused
    first = invite(db_session, survey, "ana@example.org")
    after = invite(db_session, make_survey(open_first_wave=True), "bo@example.org")
    result = mailing_app(make_app, smtp).test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    db_session.refresh(first)
    db_session.refresh(after)
    assert (first.state, after.state) == (MessageState.SENT, MessageState.SENT)
    received = {m["To"]: m for m in smtp.messages}
    assert received["ana@example.org"]["Subject"] == "Your invitation: Partnership survey Bcc: everyone@example.org"
    assert all(m["Bcc"] is None for m in smtp.messages)
    assert "bo@example.org" in received


def test_an_action_title_with_a_line_break_reaches_its_reminder_folded(make_app, db_session, make_organisation,
                                                                       smtp):  # noqa: F811
    organisation = make_organisation()
    construct = Construct(code="resilience_trust", name="Trust between organisations", group="threat")
    db_session.add(construct)
    workshop = codesign_service.create_workshop(db_session, organisation.place, "Spring workshop", date(2020, 1, 1),
                                                [], 5, [], None, None)
    # Stored before titles with line breaks were refused.
    codesign_service.add_action(db_session, workshop, "Call weekly\nBcc: everyone@example.org", organisation.id,
                                "Sam", "sam@example.org", date(2020, 1, 1), construct.id, None)
    db_session.flush()
    result = mailing_app(make_app, smtp).test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    [email] = smtp.messages
    assert email["Subject"] == "Overdue: Call weekly Bcc: everyone@example.org" and email["Bcc"] is None


def test_a_subject_is_cut_to_fit_its_column(db_session):
    message = outbox.queue(db_session, "a@example.org", "Your invitation: " + "A" * 200, "Hello", "invitation")
    assert len(message.subject) == OutboxMessage.subject.type.length
    assert message.subject.endswith("A…")


def test_a_message_that_cannot_be_written_fails_with_the_reason_and_the_rest_are_sent(db_session,
                                                                                       smtp):  # noqa: F811
    queued = [outbox.queue(db_session, f"{name}@example.org", "Your link", "Hello", "invitation")
              for name in ("ana", "bo", "cy")]
    db_session.flush()
    # Queued before subjects were folded: a line break the email library refuses to write.
    db_session.execute(update(OutboxMessage).where(OutboxMessage.id == queued[1].id)
                       .values(subject="Your link\nBcc: everyone@example.org"))
    db_session.commit()
    assert outbox.run_once(db_session, settings(smtp.port)) == (2, 1)
    for message in queued:
        db_session.refresh(message)
    assert [m.state for m in queued] == [MessageState.SENT, MessageState.FAILED, MessageState.SENT]
    assert queued[1].attempts == 1
    assert queued[1].last_error.startswith("The message could not be written as an email: ")
    assert sorted(m["To"] for m in smtp.messages) == ["ana@example.org", "cy@example.org"]


def test_an_unexpected_error_sending_one_message_fails_it_and_the_rest_are_sent(db_session, smtp,  # noqa: F811
                                                                              monkeypatch):
    queued = [outbox.queue(db_session, f"{name}@example.org", "Your link", "Hello", "invitation")
              for name in ("ana", "bo", "cy")]
    db_session.commit()
    send = outbox.smtplib.SMTP.send_message

    def fussy(smtp_connection, email, *args, **kwargs):
        if email["To"] == "bo@example.org":
            raise UnicodeError("a fault nobody foresaw")
        return send(smtp_connection, email, *args, **kwargs)

    monkeypatch.setattr(outbox.smtplib.SMTP, "send_message", fussy)
    assert outbox.run_once(db_session, settings(smtp.port)) == (2, 1)
    for message in queued:
        db_session.refresh(message)
    assert [m.state for m in queued] == [MessageState.SENT, MessageState.FAILED, MessageState.SENT]
    assert queued[1].last_error == "The message could not be sent: a fault nobody foresaw"


def test_the_worker_does_not_exit_on_a_message(make_app, db_session, smtp):  # noqa: F811
    queued = [outbox.queue(db_session, f"{name}@example.org", "Your link", "Hello", "invitation")
              for name in ("ana", "bo")]
    db_session.flush()
    db_session.execute(update(OutboxMessage).where(OutboxMessage.id == queued[0].id)
                       .values(subject="Your link\r\nBcc: everyone@example.org"))
    db_session.commit()
    result = mailing_app(make_app, smtp).test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0 and "1 sent, 1 not sent" in result.output, result.output
    assert [m["To"] for m in smtp.messages] == ["bo@example.org"]


def test_honcho_keeps_the_web_app_running_when_the_worker_stops(tmp_path):
    """`make run` starts the Procfile's processes with honcho, which stops them all when any
    one exits. The worker's line starts it again instead, so the web app stays up. Here the
    worker cannot open its database, so it exits at once."""
    worker_line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"web: sleep 60\n{worker_line}\n")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'no such folder' / 'holdfast.db'}",
           "SECRET_KEY": "honcho-test", "PANEL_SECRET": "honcho-test"}
    log = tmp_path / "honcho.log"
    with log.open("w") as output:
        honcho = subprocess.Popen([sys.executable, "-m", "honcho", "start", "--no-colour", "-f", str(procfile)],
                                  cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                said in log.read_text() for said in ("worker.1 stopped", "starts again")):
            time.sleep(0.1)
        time.sleep(0.5)  # whatever honcho does next, it does at once
        text = log.read_text()
        assert "Traceback" in text and "starts again" in text, text  # the worker failed, and is started again
        assert honcho.poll() is None and "sending SIGTERM to web" not in text, text
    finally:
        honcho.send_signal(signal.SIGTERM)
        honcho.wait(timeout=30)
