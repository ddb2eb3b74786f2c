"""Workshop fixtures: a facilitator's workshop in their place, opened, and phones to join it."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient

from codesign import service
from codesign.models import ContributionChannel
from core.models import Role, Sector
from sqlalchemy import select


@pytest.fixture
def place(make_place):
    return make_place()


@pytest.fixture
def facilitator(make_user, place):
    return make_user(Role.FACILITATOR, places=[place])


@pytest.fixture
def sectors(db_session):
    return list(db_session.scalars(select(Sector).order_by(Sector.position)))[:4]


@pytest.fixture
def make_workshop(db_session, place, facilitator):
    def make(stage: str | None = "review", dots: int = 5, prompts=("How might we keep meeting?",), at=None):
        workshop = service.create_workshop(db_session, at or place, "Spring workshop", date(2027, 3, 27), [], dots,
                                           list(prompts), None, facilitator)
        if stage is not None:
            service.open_workshop(db_session, workshop)
            if stage != "review":
                service.move_to(db_session, workshop, stage)
        db_session.flush()
        return workshop

    return make


@pytest.fixture
def join_as(db_session):
    def join(workshop, sector=None, channel=ContributionChannel.IN_ROOM, name=""):
        return service.join(db_session, workshop, name, sector.id if sector else None, channel)

    return join


@pytest.fixture
def phone(app):
    """A participant's phone: a client of its own, joined through the real form."""

    def make(workshop, sector_id: int, channel: str = "in-room", name: str = "") -> FlaskClient:
        client = app.test_client()
        response = client.post(f"/w/{workshop.join_code}/join",
                               data={"display_name": name, "sector": sector_id, "channel": channel})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def construct(db_session):
    from surveys.models import Construct

    found = Construct(code=f"test_construct_{id(db_session)}", name="Trust between organisations", group="threat")
    db_session.add(found)
    db_session.flush()
    return found
