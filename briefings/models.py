"""What a briefing keeps: free-text answers reviewed as quotes, and briefings issued."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.models import Place, User
from surveys.models import Response, Survey, Wave


class QuoteStatus(enum.StrEnum):
    """Stored codes: never rename one."""

    APPROVED = "approved"
    REJECTED = "rejected"


class Quote(Base):
    """A reviewed free-text answer. An answer nobody has reviewed yet has no row.

    The answer itself is never changed: `original` is a copy of it as reviewed, `text` is
    what a briefing may print (the original, or an edit of it), and every decision is kept
    in `QuoteDecision`."""

    __tablename__ = "quotes"
    __table_args__ = (UniqueConstraint("response_id", "item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    item_code: Mapped[str] = mapped_column(String(40))
    original: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    # Chosen by a coordinator to appear in the wave's briefings (approved quotes only).
    in_briefings: Mapped[bool] = mapped_column(default=False)

    wave: Mapped[Wave] = relationship()
    response: Mapped[Response] = relationship()
    decisions: Mapped[list[QuoteDecision]] = relationship(
        back_populates="quote", order_by="QuoteDecision.id", cascade="all, delete-orphan")

    @property
    def edited(self) -> bool:
        return self.text != self.original


class QuoteDecision(Base):
    """One review of a quote: approved as written, edited and approved, or rejected."""

    __tablename__ = "quote_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Copied at the time, so the history still says who after the account is erased.
    user_email: Mapped[str | None] = mapped_column(String(254))

    quote: Mapped[Quote] = relationship(back_populates="decisions")


class IssuedBriefing(Base):
    """A briefing as it was issued: its PDF, kept byte for byte, and what it was built from."""

    __tablename__ = "issued_briefings"
    __table_args__ = (Index("ix_issued_briefings_survey_id_issued_at", "survey_id", "issued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))  # None: all places
    reference_wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    current_wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    baseline_wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id"))
    foreword: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(255))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    # analysis.routes.data_version of the survey when issued: a preview built from another
    # version shows different data.
    data_version: Mapped[str] = mapped_column(String(64))
    # Construct name → verdict as issued, so a preview can say which verdicts have moved.
    verdicts: Mapped[Any] = mapped_column(JSON, default=dict)
    headline: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    issued_by_email: Mapped[str | None] = mapped_column(String(254))

    survey: Mapped[Survey] = relationship()
    place: Mapped[Place | None] = relationship()
    reference: Mapped[Wave] = relationship(foreign_keys=[reference_wave_id])
    current: Mapped[Wave] = relationship(foreign_keys=[current_wave_id])
    baseline: Mapped[Wave | None] = relationship(foreign_keys=[baseline_wave_id])
    issued_by: Mapped[User | None] = relationship()
