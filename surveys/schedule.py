"""A wave's timetable: when it opens and closes by itself, reminders on its schedule and
erasing who was invited once it has been closed long enough.

The worker calls `run_due` on every pass. Nothing is kept in memory between passes:
what is due is read from the waves each time, and each change locks its wave's row (the
writer queue on SQLite) and checks again, so two workers never open, close or remind twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.audit import AuditAction
from core.db import utcnow, writing
from core.models import User
from core.service import ServiceError
from surveys import invitations, service
from surveys.models import Wave, WaveStatus

UK = ZoneInfo("Europe/London")
TIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H.%M", "%d/%m/%Y")


def parse_uk_time(text: str, field: str, end_of_day: bool = False) -> datetime | None:
    """‘31/3/2027 17:00’ in UK time, as UTC. A date alone means the start of that day, or
    its last minute for a closing time."""
    if not text:
        return None
    for layout in TIME_FORMATS:
        try:
            local = datetime.strptime(text, layout)
        except ValueError:
            continue
        if layout == "%d/%m/%Y" and end_of_day:
            local = local.replace(hour=23, minute=59)
        return local.replace(tzinfo=UK).astimezone(ZoneInfo("UTC"))
    raise ServiceError(field, "Enter a date and time like 31/3/2027 17:00")


def uk_time_text(moment: datetime | None) -> str:
    return moment.astimezone(UK).strftime("%-d/%-m/%Y %H:%M") if moment else ""


@dataclass(frozen=True)
class ScheduleChoices:
    opens_at: datetime | None
    closes_at: datetime | None
    grace_minutes: int
    reminders_automatic: bool
    reminder_delay_days: int
    reminder_limit: int
    erase_after_days: int


def set_schedule(session: Session, wave: Wave, choices: ScheduleChoices, *, actor: User | None,
                 now: datetime | None = None) -> None:
    now = now or utcnow()
    if wave.status == WaveStatus.CLOSED:
        raise ServiceError("closes_at", "This wave is closed: its times can no longer change")
    if wave.status == WaveStatus.OPEN and choices.opens_at != wave.opens_at:
        raise ServiceError("opens_at", "This wave is already open: leave its opening time as it is")
    if wave.status == WaveStatus.DRAFT and choices.opens_at is not None and choices.opens_at <= now:
        raise ServiceError("opens_at", "Enter an opening time in the future, or open the wave now from its page")
    if choices.closes_at is not None:
        if choices.closes_at <= now:
            raise ServiceError("closes_at", "Enter a closing time in the future")
        if choices.opens_at is not None and choices.closes_at <= choices.opens_at:
            raise ServiceError("closes_at", "Enter a closing time after the opening time")
    before = _described(wave)
    for name, value in vars(choices).items():
        setattr(wave, name, value)
    after = _described(wave)
    changed = {name: [before[name], value] for name, value in after.items() if before[name] != value}
    if changed:
        audit.record(session, actor, AuditAction.WAVE_SCHEDULED, wave=wave,
                     detail=f"Schedule of {wave.label}: " + "; ".join(
                         f"{name.replace('_', ' ')} {old or 'none'} → {new or 'none'}"
                         for name, (old, new) in changed.items()),
                     data={"changed": changed})
    session.commit()


def _described(wave: Wave) -> dict:
    return {
        "opens_at": uk_time_text(wave.opens_at),
        "closes_at": uk_time_text(wave.closes_at),
        "grace_minutes": wave.grace_minutes, "reminders_automatic": wave.reminders_automatic,
        "reminder_delay_days": wave.reminder_delay_days, "reminder_limit": wave.reminder_limit,
        "erase_after_days": wave.erase_after_days,
    }


@dataclass(frozen=True)
class Pass:
    opened: int = 0
    closed: int = 0
    erased: int = 0
    reminded: int = 0


def _locked_wave(session: Session, wave_id: int) -> Wave | None:
    return session.scalar(select(Wave).where(Wave.id == wave_id).with_for_update(skip_locked=True, of=Wave))


def run_due(session: Session, link_secret: str, email_link: invitations.LinkBuilder | None,
            stop_link: invitations.LinkBuilder | None, now: datetime | None = None) -> Pass:
    """Everything the timetable says is due now. `email_link` is None without mail: then
    no reminders are queued."""
    now = now or utcnow()
    opened = closed = erased = reminded = 0
    with writing(session):
        for wave_id in session.scalars(select(Wave.id).where(
                Wave.status == WaveStatus.DRAFT.value, Wave.opens_at <= now)).all():
            wave = _locked_wave(session, wave_id)
            if wave is not None and wave.status == WaveStatus.DRAFT and wave.opens_at <= now:
                try:
                    service.open_wave(session, wave, actor=None, at=wave.opens_at)
                    opened += 1
                except ServiceError as error:
                    _not_done(session, wave, f"{wave.label} did not open at its set time: {error.message}")
            session.commit()
        for wave_id in session.scalars(select(Wave.id).where(
                Wave.status == WaveStatus.OPEN.value, Wave.closes_at <= now)).all():
            wave = _locked_wave(session, wave_id)
            if wave is not None and wave.status == WaveStatus.OPEN and wave.closes_at <= now:
                service.close_wave(session, wave, actor=None, at=wave.closes_at)
                closed += 1
            session.commit()
        for wave in session.scalars(select(Wave).where(
                Wave.status == WaveStatus.CLOSED.value, Wave.identities_erased_at.is_(None),
                Wave.closes_at.is_not(None))).all():
            if wave.closes_at + timedelta(days=wave.erase_after_days) > now:
                continue
            locked = _locked_wave(session, wave.id)
            if locked is not None and locked.identities_erased_at is None:
                invitations.erase_identities(session, locked, actor=None)
                erased += 1
            session.commit()
    if email_link is not None and stop_link is not None:
        for wave in session.scalars(select(Wave).where(
                Wave.status == WaveStatus.OPEN.value, Wave.reminders_automatic.is_(True))).all():
            reminded += invitations.send_reminders(session, wave, link_secret, email_link, stop_link,
                                                   on_demand=False, now=now)
    return Pass(opened, closed, erased, reminded)


def _not_done(session: Session, wave: Wave, detail: str) -> None:
    # Said in the survey's log, where its coordinators look, since nobody is there to see a message.
    wave.opens_at = None
    audit.record(session, None, AuditAction.WAVE_SCHEDULED, wave=wave, detail=detail, data={"failed": "open"})
