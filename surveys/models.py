"""Instruments and their items, surveys, waves, invitations, drafts and responses."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.models import Organisation, Place, Sector


class ConstructGroup(enum.StrEnum):
    GAIN = "gain"
    THREAT = "threat"
    THEME = "theme"


class AnonymityMode(enum.StrEnum):
    ANONYMOUS = "anonymous"
    PSEUDONYMOUS = "pseudonymous"


class WaveStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class WaveRole(enum.StrEnum):
    BASELINE = "baseline"
    GAIN = "gain"
    FOLLOW_UP = "follow-up"


class Channel(enum.StrEnum):
    LINK = "link"
    OPEN = "open"
    IMPORT = "import"
    PAPER = "paper"


class Construct(Base):
    """Something the survey measures, scored so that higher is better."""

    __tablename__ = "constructs"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(String(10))
    scale_min: Mapped[int] = mapped_column(default=1)
    scale_max: Mapped[int] = mapped_column(default=5)
    default_margin: Mapped[float] = mapped_column(Float, default=0.25)
    position: Mapped[int] = mapped_column(default=0)


class Instrument(Base):
    """A versioned questionnaire. Once published (a wave opened on it) it never changes."""

    __tablename__ = "instruments"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(default=1)
    description: Mapped[str] = mapped_column(Text, default="")
    builtin: Mapped[bool] = mapped_column(default=False)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list[Item]] = relationship(
        back_populates="instrument", order_by="Item.position", cascade="all, delete-orphan"
    )
    previous: Mapped[Instrument | None] = relationship(remote_side=[id])

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("instrument_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(String(40))
    section: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(20))
    # Per type: choices [{"value": 1, "label": "..."}], or {"min":, "max":}, or {"max_length":}.
    options: Mapped[Any] = mapped_column(JSON, default=dict)
    construct_id: Mapped[int | None] = mapped_column(ForeignKey("constructs.id"))
    reverse: Mapped[bool] = mapped_column(default=False)
    required: Mapped[bool] = mapped_column(default=True)
    # Set when the wording or scale differs from the same item in the previous version.
    breaks_trend: Mapped[bool] = mapped_column(default=False)

    instrument: Mapped[Instrument] = relationship(back_populates="items")
    construct: Mapped[Construct | None] = relationship(lazy="joined")


survey_places = Table(
    "survey_places",
    Base.metadata,
    Column("survey_id", Integer, ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True),
    Column("place_id", Integer, ForeignKey("places.id", ondelete="CASCADE"), primary_key=True),
)


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    run_by: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str] = mapped_column(String(60))
    anonymity: Mapped[str] = mapped_column(String(20), default=AnonymityMode.ANONYMOUS.value)
    k_internal: Mapped[int] = mapped_column(default=5)
    k_briefing: Mapped[int] = mapped_column(default=10)
    min_organisations: Mapped[int] = mapped_column(default=3)
    # Shown in the privacy notice: where respondents can ask about their answers.
    contact_email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    # How earlier imports matched file headings and answer labels, offered again next time.
    import_mapping: Mapped[Any] = mapped_column(JSON, default=dict)
    # Agreement questions offer "Don't know" (stored as its own value, counted as no
    # answer). On for surveys made since the setting existed; older ones keep without it.
    offer_dont_know: Mapped[bool] = mapped_column(default=True, server_default=false())
    # The sectors the trust matrix asks about, as sector ids; None asks about the sectors
    # with organisations in the respondent's place.
    trust_sector_ids: Mapped[Any | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    places: Mapped[list[Place]] = relationship(secondary=survey_places, order_by="Place.name", lazy="selectin")
    waves: Mapped[list[Wave]] = relationship(back_populates="survey", order_by="Wave.number")
    margins: Mapped[list[SurveyMargin]] = relationship(back_populates="survey", cascade="all, delete-orphan")

    @property
    def has_opened(self) -> bool:
        return any(wave.status != WaveStatus.DRAFT for wave in self.waves)


class SurveyMargin(Base):
    """The margin Δ for one construct: how far a fall may go and still count as holding."""

    __tablename__ = "survey_margins"
    __table_args__ = (UniqueConstraint("survey_id", "construct_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    construct_id: Mapped[int] = mapped_column(ForeignKey("constructs.id"))
    margin: Mapped[float] = mapped_column(Float)

    survey: Mapped[Survey] = relationship(back_populates="margins")
    construct: Mapped[Construct] = relationship(lazy="joined")


class MarginChange(Base):
    """A margin changed after a wave opened: kept so briefings can say so."""

    __tablename__ = "margin_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    construct_id: Mapped[int] = mapped_column(ForeignKey("constructs.id"))
    old_margin: Mapped[float] = mapped_column(Float)
    new_margin: Mapped[float] = mapped_column(Float)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    construct: Mapped[Construct] = relationship(lazy="joined")


class Wave(Base):
    __tablename__ = "waves"
    __table_args__ = (UniqueConstraint("survey_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    label: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(20), default=WaveRole.FOLLOW_UP.value)
    status: Mapped[str] = mapped_column(String(10), default=WaveStatus.DRAFT.value)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"))
    # Set ahead, these open and close the wave by themselves (the worker does it); an
    # open or close by hand records the moment here instead.
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Someone part-way through when the wave closes may still send for this long; results wait for it.
    grace_minutes: Mapped[int] = mapped_column(default=60, server_default="60")
    reminders_automatic: Mapped[bool] = mapped_column(default=False, server_default=false())
    reminder_delay_days: Mapped[int] = mapped_column(default=7, server_default="7")
    reminder_limit: Mapped[int] = mapped_column(default=2, server_default="2")
    # Invitees' addresses and the wave's email are erased this long after it closes.
    erase_after_days: Mapped[int] = mapped_column(default=30, server_default="30")
    # The open link's address part: public by design, so stored as it is.
    open_link_slug: Mapped[str] = mapped_column(String(40), unique=True)
    identities_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whether this wave offers "Don't know": None follows the survey's setting until the
    # wave opens (surveys.respondent.offers_dont_know); fixed once it has opened, so a
    # wave's questions never change under its respondents.
    offer_dont_know: Mapped[bool | None] = mapped_column()

    survey: Mapped[Survey] = relationship(back_populates="waves")
    instrument: Mapped[Instrument] = relationship(lazy="joined")

    @property
    def grace_ends(self) -> datetime | None:
        """When people part-way through may no longer send: the close plus the grace period."""
        return self.closes_at + timedelta(minutes=self.grace_minutes or 0) if self.closes_at else None

    @property
    def results_from(self) -> datetime | None:
        """When a closed wave's results may be shown: once its grace period has ended
        (None: not closed)."""
        return self.grace_ends if self.status == WaveStatus.CLOSED else None

    def results_ready(self, now: datetime) -> bool:
        return self.status == WaveStatus.CLOSED and (self.results_from is None or self.results_from <= now)


class InviteeIdentity(Base):
    """Who was invited. Kept apart from invitations so it can be erased after a wave."""

    __tablename__ = "invitee_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitee_identities.id", ondelete="SET NULL")
    )
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"))
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"))
    panel_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The link is derived from this and the app's secret (see surveys.invitations), so a
    # reminder can carry the same link while the database holds only the token's hash.
    token_nonce: Mapped[str | None] = mapped_column(String(32))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_sent: Mapped[int] = mapped_column(default=0, server_default="0")
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    wave: Mapped[Wave] = relationship()
    identity: Mapped[InviteeIdentity | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
    sector: Mapped[Sector] = relationship()
    place: Mapped[Place] = relationship()


class ReplacedLink(Base):
    """A link that a reissued one replaced: kept (as a hash) so it can say so."""

    __tablename__ = "replaced_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Draft(Base):
    """Answers saved part-way through the journey, so the respondent can come back.

    A token link's draft belongs to its invitation; an open link's draft is found by a
    random key kept in the respondent's signed session cookie (answers stay server-side,
    so long text answers never overflow a cookie).
    """

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), unique=True
    )
    open_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    sector_id: Mapped[int | None] = mapped_column(ForeignKey("sectors.id"))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    # The idempotency key the final submission will carry.
    submission_key: Mapped[str] = mapped_column(String(64), unique=True)
    answers: Mapped[Any] = mapped_column(JSON, default=dict)
    section: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_wave_id_submitted_at", "wave_id", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"))
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    panel_key: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)

    answers: Mapped[list[Answer]] = relationship(cascade="all, delete-orphan")
    trust_ratings: Mapped[list[TrustRating]] = relationship(cascade="all, delete-orphan")


class Answer(Base):
    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    item_code: Mapped[str] = mapped_column(String(40))
    numeric_value: Mapped[float | None] = mapped_column(Float)
    text_value: Mapped[str | None] = mapped_column(Text)


class TrustRating(Base):
    __tablename__ = "trust_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    target_sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"))
    dimension: Mapped[str] = mapped_column(String(20))
    value: Mapped[int] = mapped_column()


class ResponseImport(Base):
    """A CSV from another survey tool, kept between the mapping screens until imported."""

    __tablename__ = "response_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    # Column name → "sector" / "place" / "organisation" / an item code; missing = not imported.
    columns: Mapped[Any] = mapped_column(JSON, default=dict)
    # Column name → {text in the file → number or id}.
    values: Mapped[Any] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    imported_count: Mapped[int | None] = mapped_column()

    wave: Mapped[Wave] = relationship()
