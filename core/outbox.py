"""The outbox: email written in the same transaction as what it tells someone about, and
sent later by the worker (`flask --app app worker`), so a message is never lost with a
rolled-back change, nor sent for a change that did not happen.

Delivery is at least once. A worker claims a batch by giving each message a lease; a
message is marked sent only after the SMTP server has accepted it, so a worker that dies
mid-send leaves its leased messages to be claimed again once the lease runs out. Each
message keeps the Message-ID it was given when queued, so the one or two a dying worker
had in flight, if sent twice, arrive as the same message. Nothing is kept in process
memory: two workers (or a worker restarted) share the table. On PostgreSQL claims lock
rows (FOR UPDATE SKIP LOCKED); on SQLite a claim is one write transaction, taken in turn
through the writer queue (core.db).
"""

from __future__ import annotations

import enum
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import ForeignKey, Index, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime, utcnow, writing

SENT_BODY = "(Not kept once sent.)"
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
# SMTP replies that will not change on a retry: the address or the message is refused.
PERMANENT = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


class MessageState(enum.StrEnum):
    """Stored codes: never rename one."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    # The worker asks for what is due, oldest first.
    __table_args__ = (Index("ix_outbox_messages_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the message is about, for the pages that list a wave's messages (None: not a wave's).
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    # The invitation it carries a link for, if any: its place says who may see the message.
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(10), default=MessageState.QUEUED.value)
    attempts: Mapped[int] = mapped_column(default=0)
    # When it may next be tried: now when queued, later after a failure, the end of the
    # lease while a worker is sending it.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class MailSettings:
    server: str
    port: int
    sender: str
    use_tls: bool = False  # STARTTLS after connecting
    use_ssl: bool = False  # TLS from the start (port 465)
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config) -> MailSettings | None:
        """The app's mail settings, or None where no mail server is configured."""
        if not config.get("MAIL_SERVER"):
            return None
        return cls(
            server=config["MAIL_SERVER"], port=int(config.get("MAIL_PORT") or 25),
            sender=config.get("MAIL_SENDER") or "holdfast@localhost",
            use_tls=_flag(config.get("MAIL_USE_TLS")), use_ssl=_flag(config.get("MAIL_USE_SSL")),
            username=config.get("MAIL_USERNAME") or None, password=config.get("MAIL_PASSWORD") or None,
        )


def _flag(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on") if value is not None else False


def header_text(text: str, length: int) -> str:
    """`text` fit for an email header: on one line (a header cannot hold a line break, and
    the email library refuses one rather than let it add a header of its own), and cut
    to `length` characters."""
    text = " ".join(text.split())
    return text if len(text) <= length else text[:length - 1] + "…"


def queue(session: Session, to_address: str, subject: str, body: str, kind: str, wave_id: int | None = None,
          invitation_id: int | None = None, domain: str = "holdfast.invalid") -> OutboxMessage:
    """Add a message to the caller's transaction: it is sent only if that commits.

    The subject is made of names people typed (a survey's, an action's). Forms refuse
    line breaks in them, but one stored before they did must not stop the mail, nor a
    long name overflow the column, so the subject is folded and cut here."""
    subject = header_text(subject, OutboxMessage.subject.type.length)
    message = OutboxMessage(to_address=to_address, subject=subject, body=body, kind=kind, wave_id=wave_id,
                            invitation_id=invitation_id, message_id=make_msgid(domain=domain), due_at=utcnow())
    session.add(message)
    return message


def claim(session: Session, limit: int, now: datetime | None = None) -> list[OutboxMessage]:
    """Lease up to `limit` due messages to this worker and commit the lease."""
    now = now or utcnow()
    due = or_(OutboxMessage.state == MessageState.QUEUED.value, OutboxMessage.state == MessageState.SENDING.value)
    with writing(session):
        ids = list(session.scalars(
            select(OutboxMessage.id).where(due, OutboxMessage.due_at <= now)
            .order_by(OutboxMessage.due_at, OutboxMessage.id).limit(limit)
            .with_for_update(skip_locked=True)))
        if ids:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(
                state=MessageState.SENDING.value, due_at=now + LEASE, attempts=OutboxMessage.attempts + 1))
        session.commit()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)))


def email_of(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email.set_content(message.body)
    return email


def connect(settings: MailSettings) -> smtplib.SMTP:
    if settings.use_ssl:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.server, settings.port, timeout=settings.timeout,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
        if settings.use_tls:
            smtp.starttls(context=ssl.create_default_context())
    if settings.username:
        smtp.login(settings.username, settings.password or "")
    return smtp


def deliver(session: Session, messages: list[OutboxMessage], settings: MailSettings) -> tuple[int, int]:
    """Send leased messages over one connection; record each outcome as it happens.
    One message never stops the others: whatever goes wrong with it is recorded on it,
    with the reason, and the next one is sent. Returns (sent, not sent)."""
    sent = failed = 0
    smtp = None
    try:
        for message in messages:
            try:
                email = email_of(message, settings.sender)
            except Exception as error:
                # A header the email library will not write, such as a subject with a line
                # break queued before subjects were folded: no retry would change it.
                _failed(session, message, f"The message could not be written as an email: {error}", permanent=True)
                failed += 1
                continue
            try:
                if smtp is None:
                    smtp = connect(settings)
            except Exception as error:  # the server or its settings, not this message: try again later
                _failed(session, message, reason_of(error), permanent=False)
                failed += 1
                continue
            try:
                smtp.send_message(email)
            except PERMANENT as error:
                _failed(session, message, reason_of(error), permanent=True)
                failed += 1
            except (smtplib.SMTPException, OSError) as error:
                _failed(session, message, reason_of(error), permanent=False)
                failed += 1
                smtp = _close(smtp)  # the connection may be broken: the next message opens a new one
            except Exception as error:
                # Something about this message alone that nobody foresaw: retrying it
                # would fail the same way. Where the connection was left is unknown.
                _failed(session, message, f"The message could not be sent: {error}", permanent=True)
                failed += 1
                smtp = _close(smtp)
            else:
                with writing(session):
                    message.state, message.sent_at, message.last_error = MessageState.SENT.value, utcnow(), None
                    # The body may hold a single-use link, which Holdfast otherwise keeps
                    # only as a hash: once delivered, it is not kept.
                    message.body = SENT_BODY
                    session.commit()
                sent += 1
    finally:
        _close(smtp)
    return sent, failed


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return None


def reason_of(error: Exception) -> str:
    """Why a message was not sent, in words a coordinator can act on, with the server's reply."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(f"{code} {text.decode(errors='replace')}" for code, text in error.recipients.values())
        return f"The mail server refused the address: {replies}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"The mail server refused the message: {error.smtp_code} {error.smtp_error.decode(errors='replace')}"
    if isinstance(error, OSError):
        return f"Could not reach the mail server: {error.strerror or error}"
    return f"The mail server failed: {error}"


def _failed(session: Session, message: OutboxMessage, reason: str, permanent: bool) -> None:
    with writing(session):
        message.last_error = reason[:1000]
        if permanent or message.attempts >= MAX_ATTEMPTS:
            message.state = MessageState.FAILED.value
        else:
            message.state = MessageState.QUEUED.value
            message.due_at = utcnow() + min(FIRST_RETRY * 2 ** (message.attempts - 1), LONGEST_RETRY)
        session.commit()


def run_once(session: Session, settings: MailSettings, batch: int = 50) -> tuple[int, int]:
    """Claim and send one batch. Returns (sent, not sent)."""
    messages = claim(session, batch)
    return deliver(session, messages, settings) if messages else (0, 0)
