"""Fictional survey data for the demo: one survey per demo place, three closed waves.

Generated from a fixed seed, so later statistics tests can rely on these effects
(means on the 1–5 scale; wave 1 is the baseline, wave 2 the gain, wave 3 the follow-up):

- trust holds: 3.2 → 3.8 → 3.75 (a dip well inside the 0.25 margin); in the third
  place the sample's dip is −0.12, and judged with the other constructs the verdict is
  an honest "can't tell yet", pointing to a fall;
- momentum slips, materially: 3.3 → 3.9 → 3.4;
- shared focus is still improving: 3.0 → 3.4 → 3.8;
- the other constructs hold at their wave-2 level (see CONSTRUCT_MEANS);
- the Faith sector has only 3 respondents per wave in each place, too few to show;
- data sharing has too few answers in one sector: only 3 Housing respondents a wave
  answered its questions (the rest left them blank, as on paper forms typed up later);
- trust between two sectors falls: Local authority respondents' trust in the Voluntary
  and community sector drops from about 3.2 to 2.3 in wave 3, while other pairs hold;
- each construct's questions hang together (Cronbach's alpha above 0.7 in every wave);
- about 40% of each wave's responses come from a pseudonymous panel whose members
  answer every wave (same panel key), the rest from an open link.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.models import Organisation, Place, Sector
from core.service import hash_token
from surveys import service
from surveys import invitations
from surveys.instruments import QUOTE_CONSENT_CODE, QUOTE_CONSENT_YES
from surveys.models import (
    AnonymityMode,
    Answer,
    Invitation,
    InviteeIdentity,
    Response,
    Survey,
    TrustRating,
    WaveRole,
)
from surveys.question_types import TRUST_DIMENSIONS

SEED = 2026
RESPONSES_PER_WAVE = 250
PANEL_SHARE = 0.4
WAVE_STARTS = [datetime(2025, 3, 3, 9, tzinfo=timezone.utc), datetime(2025, 9, 1, 9, tzinfo=timezone.utc),
               datetime(2026, 3, 2, 9, tzinfo=timezone.utc)]
WAVE_DAYS = 21
WAVE_ROLES = [WaveRole.BASELINE, WaveRole.GAIN, WaveRole.FOLLOW_UP]

CONSTRUCT_MEANS = {
    "collaboration_speed": (3.1, 3.7, 3.7),
    "shared_focus": (3.0, 3.4, 3.8),
    "pooling": (3.0, 3.5, 3.5),
    "low_bureaucracy": (2.8, 3.3, 3.3),
    "open_boundaries": (3.0, 3.5, 3.5),
    "trust": (3.2, 3.8, 3.75),
    "momentum": (3.3, 3.9, 3.4),
    "capacity": (3.0, 3.3, 3.3),
    "responsiveness": (3.2, 3.6, 3.6),
    "participation": (2.9, 3.3, 3.3),
    "data_sharing": (2.7, 3.4, 3.4),
}
# Respondents per wave by sector; Faith is deliberately too small to show.
SECTOR_WEIGHTS = {
    "Voluntary and community": 70,
    "Local authority": 50,
    "Health and care": 40,
    "Mutual aid / community group": 30,
    "Housing": 20,
    "Funder": 15,
    "Education": 12,
    "Business": 10,
    "Faith": 3,
}
FALLING_PAIR = ("Local authority", "Voluntary and community")
SPARSE_CONSTRUCT, SPARSE_SECTOR, SPARSE_ANSWERS = "data_sharing", "Housing", 3
FALLING_PAIR_MEANS = (3.0, 3.2, 2.3)
TRUST_MATRIX_MEAN = 3.0
ONE_THING_ANSWERS = [
    "Keep the weekly partners' call going: Sarah Okafor runs it and it is where things get unstuck.",
    "A shared list of who does what, kept up to date: email me at j.patel@example.org or ring 07700 900123.",
    "Funding that lasts longer than a year so staff can stay.",
    "Less paperwork for small groups taking part in joint bids.",
    "Bring the council's front-line teams to community meetings again.",
    "Agree once how we share data about families, instead of every time.",
]


@dataclass(frozen=True)
class DemoPerson:
    panel_key: str | None
    sector: Sector
    organisation: Organisation | None
    person_effect: float


def load_demo_surveys(session: Session, panel_secret: str) -> list[Survey]:
    rng = np.random.default_rng(SEED)
    sectors = {s.name: s for s in session.scalars(select(Sector))}
    surveys = []
    for place in session.scalars(select(Place).order_by(Place.name)):
        survey = service.create_survey(
            session,
            f"Working together in {place.name}",
            f"{place.name} Partnership Board",
            "The Partnership Board uses the results to see whether the ways of working built "
            "during the pandemic are lasting, and to plan workshops on what to do next.",
            "coordination-and-trust",
            [place.id],
            AnonymityMode.PSEUDONYMOUS,
        )
        panel = _panel(rng, session, place, sectors, panel_secret)
        for number, role in enumerate(WAVE_ROLES):
            wave = survey.waves[0] if number == 0 else service.clone_wave(session, survey, f"Wave {number + 1}", role)
            service.open_wave(session, wave, actor=None)
            _respond(rng, session, wave, number, place, sectors, panel)
            service.close_wave(session, wave, actor=None)
            wave.opens_at = WAVE_STARTS[number]
            wave.closes_at = WAVE_STARTS[number] + timedelta(days=WAVE_DAYS)
        invitations.erase_identities(session, survey.waves[0], actor=None)
        surveys.append(survey)
    session.commit()
    return surveys


def _sector_counts(weights: dict[str, int], size: int) -> dict[str, int]:
    total = sum(weights.values())
    counts = {name: int(weight * size // total) for name, weight in weights.items()}
    first = next(iter(counts))
    counts[first] += size - sum(counts.values())
    return counts


WAVE_SECTOR_COUNTS = _sector_counts(SECTOR_WEIGHTS, RESPONSES_PER_WAVE)  # Faith: exactly 3
PANEL_SECTOR_COUNTS = _sector_counts(
    {name: weight for name, weight in SECTOR_WEIGHTS.items() if name != "Faith"},
    int(RESPONSES_PER_WAVE * PANEL_SHARE),
)
UNANSWERED_INVITATIONS = 25


PARTNERS_PER_SECTOR = 3  # invited organisations per sector and place, so the organisation rule can pass


def _partners(session, place, sector) -> list[Organisation]:
    """The sector's organisations in the place, topped up with fictional partners: the
    survey records organisations, so every group needs three of them (answers from the
    open link, with none named, count together as one more)."""
    own = list(session.scalars(select(Organisation).where(
        Organisation.place_id == place.id, Organisation.sector_id == sector.id).order_by(Organisation.id)))
    for number in range(len(own) + 1, PARTNERS_PER_SECTOR + 1):
        partner = Organisation(name=f"{place.name} {sector.name} partner {number}", sector=sector, place=place)
        session.add(partner)
        own.append(partner)
    session.flush()
    return own


def _panel(rng, session, place, sectors, panel_secret) -> list[DemoPerson]:
    panel_sectors = [sectors[name] for name, n in PANEL_SECTOR_COUNTS.items() for _ in range(n)]
    partners = {sector.id: _partners(session, place, sector) for sector in dict.fromkeys(panel_sectors)}
    people = []
    for index, sector in enumerate(panel_sectors):
        own = partners[sector.id]
        email = f"panel{index}.{place.id}@example.org"
        people.append(
            DemoPerson(invitations.panel_key(panel_secret, email), sector, own[index % len(own)], rng.normal(0, 0.4))
        )
    return people


def _respond(rng, session, wave, number, place, sectors, panel) -> None:
    others = [
        DemoPerson(None, sectors[name], None, rng.normal(0, 0.4))
        for name, n in WAVE_SECTOR_COUNTS.items()
        for _ in range(n - PANEL_SECTOR_COUNTS.get(name, 0))
    ]
    people = panel + others
    items = wave.instrument.items
    likert = [i for i in items if i.type == "likert" and i.construct]
    sector_list = [s for s in sectors.values()]
    start = WAVE_STARTS[number]
    responses, answers, ratings = [], [], []
    for index, person in enumerate(people):
        channel = "link" if person.panel_key else "open"
        day = min(int(rng.exponential(5)), WAVE_DAYS - 1)
        submitted = start + timedelta(days=day, minutes=int(rng.integers(0, 600)))
        row = {
            "wave_id": wave.id, "submitted_at": submitted, "sector_id": person.sector.id, "place_id": place.id,
            "organisation_id": person.organisation.id if person.organisation else None,
            "panel_key": person.panel_key, "channel": channel,
            "idempotency_key": f"demo-{wave.id}-{index}",
        }
        responses.append(row)
    ids = session.scalars(insert(Response).returning(Response.id, sort_by_parameter_order=True), responses).all()
    sparse_answered = 0
    for response_id, person in zip(ids, people):
        skips_sparse = person.sector.name == SPARSE_SECTOR and sparse_answered >= SPARSE_ANSWERS
        sparse_answered += person.sector.name == SPARSE_SECTOR
        # A person's view of each construct moves all its questions together, so the
        # questions hang together (Cronbach's alpha around 0.8) as in a real survey.
        views = {code: rng.normal(0, 0.5) for code in CONSTRUCT_MEANS}
        for item in likert:
            if skips_sparse and item.construct.code == SPARSE_CONSTRUCT:
                continue
            mean = CONSTRUCT_MEANS[item.construct.code][number] + views[item.construct.code]
            score = float(np.clip(np.rint(mean + person.person_effect + rng.normal(0, 0.5)), 1, 5))
            answers.append({"response_id": response_id, "item_code": item.code,
                            "numeric_value": 6 - score if item.reverse else score, "text_value": None})
        if rng.random() < 0.15:
            answers.append({"response_id": response_id, "item_code": "one_thing", "numeric_value": None,
                            "text_value": ONE_THING_ANSWERS[int(rng.integers(len(ONE_THING_ANSWERS)))]})
            # Two in three agree to be quoted (by response id, so the answers drawn stay as they were).
            answers.append({"response_id": response_id, "item_code": QUOTE_CONSENT_CODE,
                            "numeric_value": float(QUOTE_CONSENT_YES if response_id % 3 else 2), "text_value": None})
        targets = rng.choice([s for s in sector_list if s.id != person.sector.id], size=4, replace=False)
        for target in targets:
            falling = (person.sector.name, target.name) == FALLING_PAIR
            mean = FALLING_PAIR_MEANS[number] if falling else TRUST_MATRIX_MEAN
            for dimension in TRUST_DIMENSIONS:
                value = int(np.clip(np.rint(mean + rng.normal(0, 0.6)), 1, 4))
                ratings.append({"response_id": response_id, "target_sector_id": target.id,
                                "dimension": dimension, "value": value})
    session.execute(insert(Answer), answers)
    session.execute(insert(TrustRating), ratings)
    _invitations(session, wave, place, people, start)
    session.flush()


def _invitations(session, wave, place, people, start) -> None:
    """The panel were invited by link, with some invitees who never answered; the rest
    came by the open link. The demo links are random and never shown."""
    panel = [p for p in people if p.panel_key]
    invited = [(p, start) for p in panel] + [(p, None) for p in panel[:UNANSWERED_INVITATIONS]]
    for index, (person, used_at) in enumerate(invited):
        identity = InviteeIdentity(wave_id=wave.id, email=f"invitee{index}.{wave.id}@example.org")
        session.add(Invitation(
            wave_id=wave.id, token_hash=hash_token(secrets.token_urlsafe(24)), identity=identity,
            organisation_id=person.organisation.id if person.organisation else None,
            sector_id=person.sector.id, place_id=place.id,
            panel_key=person.panel_key if used_at else None, used_at=used_at,
        ))
