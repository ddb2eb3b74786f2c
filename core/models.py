"""Accounts and places: users and their roles, places, sectors, organisations."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.db import Base, UTCDateTime, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    FACILITATOR = "facilitator"
    EVALUATOR = "evaluator"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def is_place_scoped(self) -> bool:
        return self in (Role.COORDINATOR, Role.FACILITATOR)


def normalise_email(email: str) -> str:
    return email.strip().lower()


user_places = Table(
    "user_places",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("place_id", Integer, ForeignKey("places.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    # None until the invited person sets a password through their one-time link.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the id kept in the session cookie; changing it ends every signed-in session.
    session_token: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    places: Mapped[list[Place]] = relationship(
        secondary=user_places, order_by="Place.name", lazy="selectin"
    )

    @validates("email")
    def _normalise_email(self, _key: str, email: str) -> str:
        return normalise_email(email)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def end_sessions(self) -> None:
        self.session_token = secrets.token_hex(16)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def can_access_place(self, place_id: int) -> bool:
        if not self.role_enum.is_place_scoped:
            return True
        return any(place.id == place_id for place in self.places)


class SetPasswordToken(Base):
    """A one-time link to set a password. Only the SHA-256 of the token is stored."""

    __tablename__ = "set_password_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Place(Base):
    __tablename__ = "places"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")

    organisations: Mapped[list[Organisation]] = relationship(
        back_populates="place", order_by="Organisation.name"
    )


class Sector(Base):
    __tablename__ = "sectors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    position: Mapped[int] = mapped_column(default=0)


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (UniqueConstraint("place_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"), index=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"), index=True)

    sector: Mapped[Sector] = relationship(lazy="joined")
    place: Mapped[Place] = relationship(back_populates="organisations", lazy="joined")
