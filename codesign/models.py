"""Workshops and what a room makes in them: participants, prompts, ideas, clusters, dots,
paper counts, and the actions agreed with their updates."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.models import Organisation, Place, Sector
from surveys.models import Construct, Wave


class ContributionChannel(enum.StrEnum):
    """How a contribution reached the workshop. Stored codes: never rename one."""

    IN_ROOM = "in-room"
    REMOTE = "remote"
    PAPER = "paper"

    @property
    def label(self) -> str:
        return {"in-room": "In the room", "remote": "Remote", "paper": "On paper"}[self.value]


class ActionStatus(enum.StrEnum):
    """Stored codes: never rename one."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def is_open(self) -> bool:
        return self in (ActionStatus.NOT_STARTED, ActionStatus.IN_PROGRESS)


workshop_constructs = Table(
    "workshop_constructs",
    Base.metadata,
    Column("workshop_id", Integer, ForeignKey("workshops.id", ondelete="CASCADE"), primary_key=True),
    Column("construct_id", Integer, ForeignKey("constructs.id", ondelete="CASCADE"), primary_key=True),
)


class Workshop(Base):
    __tablename__ = "workshops"

    id: Mapped[int] = mapped_column(primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[date] = mapped_column(Date)
    # Given when the workshop opens; None while it is being prepared.
    join_code: Mapped[str | None] = mapped_column(String(8), unique=True)
    stage: Mapped[str] = mapped_column(String(20), default="preparing")
    stage_locked: Mapped[bool] = mapped_column(default=False)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dots_per_participant: Mapped[int] = mapped_column(default=5)
    # The comparison the workshop reviews (the Results page's defaults when it was made);
    # its actions are set against the current wave.
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id", ondelete="SET NULL"))
    reference_wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id", ondelete="SET NULL"))
    current_wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id", ondelete="SET NULL"))
    # Moves with every change a participant's screen shows: the polling ETag.
    version: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    place: Mapped[Place] = relationship(lazy="joined")
    constructs: Mapped[list[Construct]] = relationship(
        secondary=workshop_constructs, order_by="Construct.position", lazy="selectin"
    )
    prompts: Mapped[list[Prompt]] = relationship(
        order_by="Prompt.position", cascade="all, delete-orphan", back_populates="workshop"
    )
    reference_wave: Mapped[Wave | None] = relationship(foreign_keys=[reference_wave_id])
    current_wave: Mapped[Wave | None] = relationship(foreign_keys=[current_wave_id])


class Prompt(Base):
    """A "How might we…" question the room works on."""

    __tablename__ = "workshop_prompts"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(String(300))

    workshop: Mapped[Workshop] = relationship(back_populates="prompts")


class Participant(Base):
    """Someone in the room (or joining remotely) from a phone; no account. Who they are is
    the row's id, kept in a signed cookie on their phone."""

    __tablename__ = "workshop_participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(60), default="")
    # None: they chose not to say; counted with the other small sectors.
    sector_id: Mapped[int | None] = mapped_column(ForeignKey("sectors.id"))
    channel: Mapped[str] = mapped_column(String(10))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sector: Mapped[Sector | None] = relationship(lazy="joined")


class Cluster(Base):
    __tablename__ = "workshop_clusters"
    __table_args__ = (
        CheckConstraint("impact IS NULL OR (impact BETWEEN 1 AND 5)", name="impact_range"),
        CheckConstraint("effort IS NULL OR (effort BETWEEN 1 AND 5)", name="effort_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    impact: Mapped[int | None] = mapped_column()
    effort: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Idea(Base):
    __tablename__ = "workshop_ideas"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"), index=True)
    # None for an idea the facilitator typed in from paper.
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("workshop_participants.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(String(280))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("workshop_clusters.id", ondelete="SET NULL"))
    hidden: Mapped[bool] = mapped_column(default=False)
    # Sent with the form, so a double click stores the idea once.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    participant: Mapped[Participant | None] = relationship(lazy="joined")
    cluster: Mapped[Cluster | None] = relationship()


class Vote(Base):
    """A participant's dots on one idea."""

    __tablename__ = "workshop_votes"
    __table_args__ = (
        UniqueConstraint("participant_id", "idea_id"),
        CheckConstraint("dots > 0", name="dots_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("workshop_participants.id", ondelete="CASCADE"))
    idea_id: Mapped[int] = mapped_column(ForeignKey("workshop_ideas.id", ondelete="CASCADE"), index=True)
    dots: Mapped[int] = mapped_column()


class PaperGroup(Base):
    """How many people of a sector voted on paper or by a show of hands."""

    __tablename__ = "workshop_paper_groups"
    __table_args__ = (UniqueConstraint("workshop_id", "sector_id"), CheckConstraint("people >= 0", name="people"))

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"))
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"))
    people: Mapped[int] = mapped_column()

    sector: Mapped[Sector] = relationship(lazy="joined")


class PaperVote(Base):
    """Votes on paper (or hands raised) for one idea by one sector's paper group."""

    __tablename__ = "workshop_paper_votes"
    __table_args__ = (UniqueConstraint("idea_id", "sector_id"), CheckConstraint("votes >= 0", name="votes"))

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("workshop_ideas.id", ondelete="CASCADE"))
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"))
    votes: Mapped[int] = mapped_column()


class Action(Base):
    __tablename__ = "workshop_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"), index=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("workshop_clusters.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    owner_name: Mapped[str] = mapped_column(String(120))
    owner_email: Mapped[str | None] = mapped_column(String(254))
    due_on: Mapped[date] = mapped_column(Date)
    construct_id: Mapped[int] = mapped_column(ForeignKey("constructs.id"))
    # The wave whose results it was agreed against; later waves are compared with it.
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(15), default=ActionStatus.NOT_STARTED.value)
    # The owner's update link is derived from this and the app's secret, so reminders can
    # carry it while the database holds no link.
    link_nonce: Mapped[str] = mapped_column(String(32))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    workshop: Mapped[Workshop] = relationship(lazy="joined")
    organisation: Mapped[Organisation] = relationship(lazy="joined")
    construct: Mapped[Construct] = relationship(lazy="joined")
    wave: Mapped[Wave | None] = relationship()
    updates: Mapped[list[ActionUpdate]] = relationship(
        order_by=lambda: (ActionUpdate.created_at.desc(), ActionUpdate.id.desc()), cascade="all, delete-orphan"
    )

    @property
    def status_enum(self) -> ActionStatus:
        return ActionStatus(self.status)

    def overdue(self, today: date) -> bool:
        return self.status_enum.is_open and self.due_on < today


class ActionUpdate(Base):
    __tablename__ = "workshop_action_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("workshop_actions.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(15))
    note: Mapped[str] = mapped_column(Text, default="")
    # Who wrote it: a user's name, or "the owner" through their link.
    by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
