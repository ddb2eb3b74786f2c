"""The audit log: who did what to which survey, wave, response set or setting, and when.

A service that makes such a change calls `record` before it commits, so the entry is
written in the same transaction as the change: both are kept, or neither is.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import JSON, ForeignKey, Index, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from analysis.disclosure import disclose
from core.db import Base, UTCDateTime, utcnow
from core.models import User

if TYPE_CHECKING:
    from surveys.models import Survey, Wave

PER_PAGE = 50


class AuditAction(enum.StrEnum):
    """The fixed vocabulary of what can be done. Codes are stored: never rename one."""

    WAVE_OPENED = "wave.opened"
    WAVE_CLOSED = "wave.closed"
    RESPONSES_IMPORTED = "responses.imported"
    IMPORT_UNDONE = "responses.import_undone"
    IMPORT_REPLACED = "responses.import_replaced"
    MARGIN_CHANGED = "margin.changed"
    THRESHOLD_CHANGED = "threshold.changed"
    SURVEY_SETTINGS_CHANGED = "survey.settings_changed"
    INVITEES_ERASED = "invitees.erased"
    USER_CREATED = "user.created"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_PLACES_CHANGED = "user.places_changed"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    QUOTE_REVIEWED = "quote.reviewed"
    BRIEFING_ISSUED = "briefing.issued"
    INVITATIONS_CREATED = "invitations.created"
    INVITATION_REISSUED = "invitation.reissued"
    INVITATION_REVOKED = "invitation.revoked"
    REMINDERS_QUEUED = "reminders.queued"
    WAVE_SCHEDULED = "wave.scheduled"
    USER_DETAILS_CHANGED = "user.details_changed"
    ORGANISATIONS_MERGED = "organisations.merged"
    ORGANISATION_DELETED = "organisation.deleted"
    PLACE_DELETED = "place.deleted"
    SECTOR_DELETED = "sector.deleted"


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    # A survey's log is read newest first; the admins' log of everything by time alone.
    __table_args__ = (Index("ix_audit_entries_survey_id_at", "survey_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # None when Holdfast itself acted (the command line, the demo data, a worker).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Copied at the time, so the entry still says who after the account is renamed or erased.
    user_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40))
    # SET NULL rather than CASCADE: deleting a survey must not delete the record of it.
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id", ondelete="SET NULL"))
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id", ondelete="SET NULL"))
    # Written at the time in plain English, as names and values then stood.
    detail: Mapped[str] = mapped_column(Text)
    # The same facts for machines: old and new values, counts, ids.
    data: Mapped[Any] = mapped_column(JSON, default=dict)

    # Named, not imported: surveys depends on core. The admins' log shows each survey's name.
    survey: Mapped[Survey | None] = relationship(lazy="selectin")


def record(
    session: Session,
    user: User | None,
    action: AuditAction,
    *,
    survey: Survey | None = None,
    wave: Wave | None = None,
    detail: str,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry to the session; the caller's transaction writes it with the change."""
    entry = AuditEntry(
        user_id=user.id if user is not None else None,
        user_email=user.email if user is not None else None,
        action=AuditAction(action).value,
        survey_id=survey.id if survey is not None else wave.survey_id if wave is not None else None,
        wave_id=wave.id if wave is not None else None,
        detail=detail,
        data=data or {},
    )
    session.add(entry)
    return entry


def count_of(number: int, noun: str, plural: str | None = None) -> str:
    """‘1 response’, ‘2 responses’: for details, which are read as sentences."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def count_of_responses(number: int, k: int) -> str:
    """‘12 responses’, or ‘Fewer than 5 responses’ where the disclosure rules withhold the
    number: more people read the log than the one who knew it (`data` keeps it exact)."""
    shown = disclose(pd.DataFrame([[number]]), k).grand_total()
    return count_of(shown, "response") if isinstance(shown, int) else f"{shown.capitalize()} responses"


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    number: int
    total: int  # entries in the whole log, not just this page

    @property
    def pages(self) -> int:
        return _page_count(self.total)

    @property
    def first(self) -> int:
        """Where this page's first entry stands in the whole log, counting from 1."""
        return (self.number - 1) * PER_PAGE + 1

    @property
    def last(self) -> int:
        return self.first + len(self.entries) - 1


def _page_count(total: int) -> int:
    return max(1, math.ceil(total / PER_PAGE))  # an empty log still has its first page


def entries(session: Session, number: int, survey_id: int | None = None) -> AuditPage | None:
    """One page of the log, newest first: a survey's, or everything. None past the end."""
    where = [AuditEntry.survey_id == survey_id] if survey_id is not None else []
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where))
    if not 1 <= number <= _page_count(total):
        return None
    found = session.scalars(
        select(AuditEntry)
        .where(*where)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(PER_PAGE)
        .offset((number - 1) * PER_PAGE)
    )
    return AuditPage(list(found), number, total)
