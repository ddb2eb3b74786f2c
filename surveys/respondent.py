"""The respondent journey: finding the wave from a link, the pages (steps) of questions,
drafts saved on the way, checking answers and sending them once.

This is the hot path under load (see benchmarks/submissions.py): a GET never writes, and
a submission is one short transaction. Storing the response itself is
`surveys.service.insert_response`, shared with importing.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import start_writing, utcnow
from core.models import Sector
from core.service import ServiceError, hash_token
from surveys.models import Draft, Instrument, Invitation, Item, Response, Wave, WaveStatus
from surveys.question_types import TrustMatrixQuestion, question_type
from surveys.service import Respondent, insert_response

# --- finding the wave from a link ---------------------------------------------------------


def invitation_for_token(session: Session, token: str) -> Invitation | None:
    return session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))


def wave_for_open_link(session: Session, slug: str) -> Wave | None:
    return session.scalar(select(Wave).where(Wave.open_link_slug == slug))


# --- pages, drafts and sending ---------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One page of the journey: a section's questions, or one sector of the trust matrix."""

    title: str
    items: tuple[Item, ...]
    sector_id: int | None = None
    sector_name: str | None = None


def journey_steps(instrument: Instrument, own_sector_id: int, sectors: list[Sector]) -> list[Step]:
    steps: list[Step] = []
    for item in instrument.items:
        if item.type == TrustMatrixQuestion.name:
            for sector in sectors:
                if sector.id != own_sector_id:
                    steps.append(Step(f"{item.section}: {sector.name}", (item,), sector.id, sector.name))
        elif steps and steps[-1].sector_id is None and steps[-1].title == item.section:
            steps[-1] = Step(item.section, steps[-1].items + (item,))
        else:
            steps.append(Step(item.section, (item,)))
    return steps


# Rough seconds to answer, by question type (a trust-matrix page per sector rated).
SECONDS_TO_ANSWER = {"likert": 12, "single": 15, "multi": 20, "number": 15, "text": 60, "trust_matrix": 25}


def minutes_to_complete(steps: list[Step]) -> int:
    seconds = sum(SECONDS_TO_ANSWER[item.type] for step in steps for item in step.items)
    return max(2, math.ceil(seconds / 60))


def apply_step(step: Step, answers: dict[str, Any], form) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge one page's posted answers into the draft; errors by field id."""
    updated, errors = dict(answers), {}
    for item in step.items:
        kind = question_type(item.type)
        if item.type == TrustMatrixQuestion.name:
            value, error = kind.parse(item, form, scope=[step.sector_id])
            merged = dict(updated.get(item.code) or {})
            merged.pop(str(step.sector_id), None)
            merged.update(value or {})
            updated[item.code] = merged
        else:
            value, error = kind.parse(item, form)
            updated[item.code] = value
        if error:
            errors[item.code if step.sector_id is None else f"{item.code}-{step.sector_id}-reliable"] = error
    return updated, errors


def first_incomplete_step(steps: list[Step], answers: Mapping[str, Any]) -> int | None:
    """The first page with a missing or invalid answer, or None if everything is fine."""
    for index, step in enumerate(steps):
        for item in step.items:
            if question_type(item.type).error(item, answers.get(item.code)):
                return index
    return None


def existing_draft(session: Session, invitation: Invitation) -> Draft | None:
    return session.scalar(select(Draft).where(Draft.invitation_id == invitation.id))


def draft_for_invitation(session: Session, invitation: Invitation) -> Draft:
    draft = existing_draft(session, invitation)
    if draft is None:
        start_writing(session)
        draft = Draft(
            wave_id=invitation.wave_id,
            invitation_id=invitation.id,
            sector_id=invitation.sector_id,
            place_id=invitation.place_id,
            submission_key=secrets.token_urlsafe(24),
            answers={},
        )
        session.add(draft)
        try:
            session.commit()
        except IntegrityError:
            # The same link opened twice at once: use the draft the other request made.
            session.rollback()
            draft = existing_draft(session, invitation)
    return draft


def open_draft(session: Session, wave: Wave, open_key: str | None) -> Draft | None:
    if not open_key:
        return None
    return session.scalar(select(Draft).where(Draft.open_key == open_key, Draft.wave_id == wave.id))


def start_open_draft(session: Session, wave: Wave, sector_id: int, place_id: int) -> Draft:
    if session.get(Sector, sector_id) is None or place_id not in {p.id for p in wave.survey.places}:
        raise ServiceError("sector", "Select your sector and place from the lists")
    draft = Draft(
        wave_id=wave.id,
        open_key=secrets.token_urlsafe(32),
        sector_id=sector_id,
        place_id=place_id,
        submission_key=secrets.token_urlsafe(24),
        answers={},
    )
    session.add(draft)
    session.commit()
    return draft


def save_draft(session: Session, draft: Draft, answers: dict[str, Any], section: int) -> None:
    draft.answers = answers
    draft.section = section
    session.commit()


class AlreadySubmitted(Exception):
    pass


def submit_response(
    session: Session,
    wave: Wave,
    respondent: Respondent,
    answers: Mapping[str, Any],
    idempotency_key: str,
    invitation: Invitation | None = None,
    submitted_at=None,
) -> int:
    """Store a response and its answers in one transaction; return the response's id.

    The same idempotency key stored twice (a double click, a replayed POST) gives back the
    response already stored. An invitation is spent in the same transaction, so a link
    cannot be used for two responses.
    """
    existing = session.scalar(select(Response.id).where(Response.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    if wave.status != WaveStatus.OPEN and respondent.channel in ("link", "open"):
        raise ServiceError("wave", "This survey is not open")
    items = wave.instrument.items
    for item in items:
        error = question_type(item.type).error(item, answers.get(item.code))
        if error:
            raise ServiceError(item.code, error)
    start_writing(session)
    try:
        if invitation is not None:
            now = utcnow()
            spent = session.execute(
                update(Invitation)
                .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if spent.rowcount != 1:
                raise AlreadySubmitted()
            invitation.used_at = now
        response_id = insert_response(session, wave, respondent, answers, idempotency_key, submitted_at)
        session.execute(Draft.__table__.delete().where(Draft.submission_key == idempotency_key))
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = session.scalar(select(Response.id).where(Response.idempotency_key == idempotency_key))
        if existing is None:
            raise
        return existing
    except AlreadySubmitted:
        session.rollback()
        raise
    return response_id


def response_for_key(session: Session, idempotency_key: str) -> Response | None:
    if not idempotency_key:
        return None
    return session.scalar(select(Response).where(Response.idempotency_key == idempotency_key))


def check_answers_rows(
    steps: list[Step], answers: Mapping[str, Any]
) -> list[tuple[int, Step, list[tuple[str, str]]]]:
    """For the check-your-answers page: each step with (question, answer) pairs."""
    rows = []
    for index, step in enumerate(steps):
        pairs = []
        for item in step.items:
            kind = question_type(item.type)
            if item.type == TrustMatrixQuestion.name:
                ratings = kind.describe_sector((answers.get(item.code) or {}).get(str(step.sector_id)))
                pairs.append((step.sector_name, "; ".join(f"{q}: {a}" for q, a in ratings)))
            else:
                pairs.append((item.text, kind.describe(item, answers.get(item.code))))
        rows.append((index, step, pairs))
    return rows



def drafts_in_progress(session: Session, wave: Wave) -> int:
    """How many people have saved answers in this wave and not yet sent them: what
    closing it would cut short (a count of who is answering, not an answer)."""
    return session.scalar(select(func.count()).select_from(Draft).where(Draft.wave_id == wave.id))
