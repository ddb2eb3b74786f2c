"""Fictional demo data: three places, a dozen organisations and one user of each role.

Every name here is invented; the email addresses use the reserved example.org domain.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import service
from core.models import Organisation, Place, Role, Sector, User

DEMO_PASSWORD = "holdfast-demo-2026"

DEMO_PLACES = {
    "Brackenford": "A market town and its surrounding villages.",
    "Eastholme": "A coastal district with two larger towns.",
    "Wexcombe Borough": "An inner-city borough with a young, diverse population.",
}

DEMO_ORGANISATIONS = [
    ("Brackenford Community Action", "Voluntary and community", "Brackenford"),
    ("Brackenford District Council", "Local authority", "Brackenford"),
    ("Vale Primary Care Network", "Health and care", "Brackenford"),
    ("Bracken Valley Food Share", "Mutual aid / community group", "Brackenford"),
    ("Eastholme Council for Voluntary Service", "Voluntary and community", "Eastholme"),
    ("Eastholme Borough Council", "Local authority", "Eastholme"),
    ("Coastline Housing Trust", "Housing", "Eastholme"),
    ("Holme Churches Together", "Faith", "Eastholme"),
    ("Wexcombe Council", "Local authority", "Wexcombe Borough"),
    ("Wexcombe Together", "Voluntary and community", "Wexcombe Borough"),
    ("North Wexcombe Health Partnership", "Health and care", "Wexcombe Borough"),
    ("The Wexcombe Fund", "Funder", "Wexcombe Borough"),
]

DEMO_USERS = [
    ("admin@example.org", "Ada Admin", Role.ADMIN, []),
    ("coordinator@example.org", "Cora Coordinator", Role.COORDINATOR, ["Brackenford", "Eastholme"]),
    ("facilitator@example.org", "Femi Facilitator", Role.FACILITATOR, ["Wexcombe Borough"]),
    ("evaluator@example.org", "Eve Evaluator", Role.EVALUATOR, []),
]
DEMO_EMAILS = [email for email, *_ in DEMO_USERS]


def load_demo_data(session: Session) -> list[User]:
    places = {}
    for name, description in DEMO_PLACES.items():
        place = Place(name=name, description=description)
        session.add(place)
        places[name] = place
    sectors = {sector.name: sector for sector in session.scalars(select(Sector))}
    for name, sector_name, place_name in DEMO_ORGANISATIONS:
        if sector_name not in sectors:  # an admin may have renamed a standard sector
            sectors[sector_name] = Sector(name=sector_name, position=len(sectors) + 1)
        session.add(Organisation(name=name, sector=sectors[sector_name], place=places[place_name]))
    session.flush()
    # The demo workshop comes after the demo surveys (codesign.demo.load_demo_workshop), so
    # its actions are set against a wave.
    return [
        service.create_user(
            session,
            email,
            name,
            role,
            [places[place_name].id for place_name in place_names],
            password=DEMO_PASSWORD,
            actor=None,
        )
        for email, name, role, place_names in DEMO_USERS
    ]
