"""The respondent journey: finding the wave from a link, the pages (steps) of questions,
drafts saved on the way, checking answers and sending them once.

This is the hot path under load (see benchmarks/submissions.py): a GET never writes, and
a submission is one short transaction. Storing the response itself is
`surveys.service.insert_response`, shared with importing.
"""

from __future__ import annotations

import math
import secrets
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from core.db import start_writing, utcnow
from core.models import Organisation, Sector
from core.service import ServiceError, hash_token
from surveys.models import Draft, Invitation, Item, ReplacedLink, Response, Survey, Wave, WaveStatus
from surveys.question_types import (
    DONT_KNOW, TRUST_DIMENSIONS, TrustMatrixQuestion, agree_that, question_type, short_text,
)
from surveys.service import Respondent, insert_response

# --- finding the wave from a link ---------------------------------------------------------


# Every respondent page needs the wave's survey: read with the wave (and a link's wave with
# the link), in one statement. The survey's places only when asked for (a send never needs them).
SURVEY_WITHOUT_PLACES = joinedload(Wave.survey).lazyload(Survey.places)
WAVE_AND_SURVEY = joinedload(Invitation.wave).options(SURVEY_WITHOUT_PLACES)


def invitation_for_token(session: Session, token: str) -> Invitation | None:
    return session.scalar(select(Invitation).options(WAVE_AND_SURVEY).where(Invitation.token_hash == hash_token(token)))


def replaced_link(session: Session, token: str) -> ReplacedLink | None:
    """The record of a link that a newer one replaced (its invitation was reissued)."""
    return session.scalar(select(ReplacedLink).where(ReplacedLink.token_hash == hash_token(token)))


def wave_for_open_link(session: Session, slug: str) -> Wave | None:
    return session.scalar(select(Wave).options(SURVEY_WITHOUT_PLACES).where(Wave.open_link_slug == slug))


# --- what the wave asks, and until when -------------------------------------------------------

TRUST_SECTORS_PER_PAGE = 3
# A sector with this name is never rated in the trust matrix: it is no one in particular.
OTHER_SECTOR = "other"


def offers_dont_know(wave: Wave) -> bool:
    """Whether agreement questions in this wave offer "Don't know": fixed on the wave once
    it has opened (surveys.service.update_settings does that), else the survey's setting."""
    return wave.offer_dont_know if wave.offer_dont_know is not None else wave.survey.offer_dont_know


def sectors_to_rate(session: Session, survey, place_id: int | None, own_sector_id: int | None) -> list[Sector]:
    """The sectors the trust matrix asks this respondent about: the survey's own list when
    the coordinator set one, else the sectors with organisations in the respondent's place
    (in any of the survey's places while the place is not known); never "Other" and never
    the respondent's own sector."""
    if survey.trust_sector_ids:
        query = select(Sector).where(Sector.id.in_([int(i) for i in survey.trust_sector_ids]))
    else:
        places = [place_id] if place_id is not None else [place.id for place in survey.places]
        query = select(Sector).where(
            Sector.id.in_(select(Organisation.sector_id).where(Organisation.place_id.in_(places)))
        )
    sectors = session.scalars(query.order_by(Sector.position, Sector.name))
    return [s for s in sectors if s.id != own_sector_id and s.name.strip().casefold() != OTHER_SECTOR]


def may_still_send(wave: Wave, draft: Draft | None, now: datetime) -> bool:
    """The one rule for who may send answers to a wave: anyone while it is open; after it
    closes, only someone who had saved answers (a draft) before it closed, until the grace
    period (wave.grace_minutes, from wave.closes_at) ends. No draft is made after a wave
    closes, so a saved draft means they started in time."""
    if wave.status == WaveStatus.OPEN:
        return True
    if wave.status != WaveStatus.CLOSED or draft is None or draft.id is None:
        return False
    ends = wave.grace_ends
    return ends is not None and now <= ends


def in_grace(wave: Wave, now: datetime) -> bool:
    """Closed, with the grace period still running: results wait until it ends."""
    ends = wave.grace_ends
    return wave.status == WaveStatus.CLOSED and ends is not None and now <= ends


def opens_later(wave: Wave, now: datetime) -> bool:
    return wave.status == WaveStatus.DRAFT and wave.opens_at is not None and wave.opens_at > now


# --- pages, drafts and sending ---------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One page of the journey: a section's questions, or a few sectors of the trust matrix
    (`sectors`: (id, name) pairs)."""

    title: str
    items: tuple[Item, ...]
    sectors: tuple[tuple[int, str], ...] = ()

    @property
    def is_trust(self) -> bool:
        return bool(self.sectors)


def _pages_of(sectors: list[Sector]) -> list[list[Sector]]:
    """Sectors in order, split evenly into pages of at most TRUST_SECTORS_PER_PAGE (5 → 3 + 2)."""
    pages = math.ceil(len(sectors) / TRUST_SECTORS_PER_PAGE)
    bounds = [math.ceil(i * len(sectors) / pages) for i in range(pages + 1)] if pages else []
    return [sectors[bounds[i]:bounds[i + 1]] for i in range(pages)]


# Each database's published questionnaires' questions, by (instrument id, published at).
_published_questions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
PUBLISHED_QUESTIONS_KEPT = 64


def questions(session: Session, wave: Wave) -> tuple[Item, ...]:
    """The wave's questions, in order. A published questionnaire never changes (an open
    or closed wave's), so its questions are read from the database once per process and
    kept, detached from every session and only ever read (every respondent page needs
    them); a draft wave's are read each time. Kept per database (the session's engine),
    and keyed by when the questionnaire was published as well as its id, so a database
    made again (tests) never gets another's questions."""
    instrument = wave.instrument
    if instrument.published_at is None:
        return tuple(instrument.items)
    kept = _published_questions.setdefault(session.get_bind(), {})
    key = (instrument.id, instrument.published_at)
    if key not in kept:
        items = tuple(session.scalars(
            select(Item).where(Item.instrument_id == instrument.id).order_by(Item.position)))
        for item in items:
            session.expunge(item)
        if len(kept) >= PUBLISHED_QUESTIONS_KEPT:
            kept.clear()
        kept[key] = items
    return kept[key]


def journey_steps(items: Sequence[Item], sectors: list[Sector]) -> list[Step]:
    """The pages: each section's questions (`questions`) together, and the trust matrix
    over the sectors to rate (`sectors_to_rate`), a few to a page."""
    steps: list[Step] = []
    for item in items:
        if item.type == TrustMatrixQuestion.name:
            pages = _pages_of(sorted(sectors, key=lambda s: (s.position, s.name)))
            for number, page in enumerate(pages, start=1):
                title = item.section if len(pages) == 1 else f"{item.section} ({number} of {len(pages)})"
                steps.append(Step(title, (item,), tuple((s.id, s.name) for s in page)))
        elif steps and not steps[-1].is_trust and steps[-1].title == item.section:
            steps[-1] = Step(item.section, steps[-1].items + (item,))
        else:
            steps.append(Step(item.section, (item,)))
    return steps


# Rough seconds to answer, by question type; the trust matrix takes this long per sector.
SECONDS_TO_ANSWER = {"likert": 10, "single": 12, "multi": 20, "number": 15, "text": 60}
SECONDS_PER_SECTOR = 20


def seconds_for(step: Step) -> int:
    return sum(
        SECONDS_PER_SECTOR * len(step.sectors) if item.type == TrustMatrixQuestion.name else SECONDS_TO_ANSWER[item.type]
        for item in step.items
    )


def minutes_to_complete(steps: list[Step], start: int = 0) -> int:
    """Minutes to answer the pages from `start` on, from the questions actually asked."""
    return max(1, math.ceil(sum(seconds_for(step) for step in steps[start:]) / 60))


def answer_error(item: Item, value: Any, dont_know: bool) -> str | None:
    """Why a draft value is not acceptable, given whether the wave offers "Don't know"
    (naming the question), or None."""
    if value == DONT_KNOW and item.type == "likert" and not dont_know:
        return agree_that(item)
    kind = question_type(item.type)
    error = kind.error(item, value)
    return kind.named_error(item, error) if error else None


def apply_step(step: Step, answers: dict[str, Any], form, dont_know: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge one page's posted answers into the draft; errors by field id."""
    updated, errors = dict(answers), {}
    for item in step.items:
        kind = question_type(item.type)
        if item.type == TrustMatrixQuestion.name:
            scope = [sector_id for sector_id, _ in step.sectors]
            value, error = kind.parse(item, form, scope=scope)
            merged = dict(updated.get(item.code) or {})
            for sector_id in scope:
                merged.pop(str(sector_id), None)
            merged.update(value or {})
            updated[item.code] = merged
            if error:
                names = " and ".join(name for _, name in step.sectors)
                errors[f"{item.code}-{scope[0]}-reliable"] = f"{error} for {names}"
            continue
        value, error = kind.parse(item, form)
        if value == DONT_KNOW and not dont_know:
            value, error = None, agree_that(item)
        updated[item.code] = value
        if error:
            errors[item.code] = kind.named_error(item, error)
    return updated, errors


def clear_answer(step: Step, answers: dict[str, Any], target: str) -> dict[str, Any]:
    """The draft without one optional answer on this page: `target` is an item code, or
    "<item code>-<sector id>" for one sector of the trust matrix. Required questions
    cannot be cleared (they need an answer anyway)."""
    updated = dict(answers)
    for item in step.items:
        if item.type == TrustMatrixQuestion.name:
            for sector_id, _ in step.sectors:
                if target == f"{item.code}-{sector_id}":
                    ratings = dict(updated.get(item.code) or {})
                    ratings.pop(str(sector_id), None)
                    updated[item.code] = ratings
        elif target == item.code and not item.required:
            updated[item.code] = None
    return updated


def first_incomplete_step(steps: list[Step], answers: Mapping[str, Any], dont_know: bool = False) -> int | None:
    """The first page with a missing or invalid answer, or None if everything is fine."""
    for index, step in enumerate(steps):
        for item in step.items:
            if answer_error(item, answers.get(item.code), dont_know):
                return index
    return None


def existing_draft(session: Session, invitation: Invitation) -> Draft | None:
    return session.scalar(select(Draft).where(Draft.invitation_id == invitation.id))


def draft_for_invitation(session: Session, invitation: Invitation) -> Draft:
    draft = existing_draft(session, invitation)
    if draft is None:
        if invitation.wave.status != WaveStatus.OPEN:
            raise ServiceError("wave", "This survey is not open")
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
    if wave.status != WaveStatus.OPEN:
        raise ServiceError("wave", "This survey is not open")
    if session.get(Sector, sector_id) is None or place_id not in {p.id for p in wave.survey.places}:
        raise ServiceError("sector", "Select your sector and place from the lists")
    start_writing(session)
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
    start_writing(session)
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
    draft: Draft | None = None,
) -> int:
    """Store a response and its answers in one transaction; return the response's id.

    The same idempotency key stored twice (a double click, a replayed POST) gives back the
    response already stored. An invitation is spent in the same transaction, so a link
    cannot be used for two responses. After the wave closes, only a respondent with a
    `draft` saved in time may still send, within the grace period (`may_still_send`).
    """
    existing = session.scalar(select(Response.id).where(Response.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    if respondent.channel in ("link", "open") and not may_still_send(wave, draft, utcnow()):
        raise ServiceError("wave", "This survey is not open")
    dont_know = offers_dont_know(wave)
    items = questions(session, wave)
    for item in items:
        error = answer_error(item, answers.get(item.code), dont_know)
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
            # Known to be stored: the object is told so, and no second UPDATE follows.
            set_committed_value(invitation, "used_at", now)
        response_id = insert_response(session, wave, respondent, answers, idempotency_key, submitted_at, items)
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


# Short names of the trust questions, for the one-line summary of a sector.
TRUST_SHORT = {
    "reliable": "Do what they say",
    "shared_mission": "Support shared goals",
    "open": "Open to talking",
    "intensity": "How closely",
}


@dataclass(frozen=True)
class CheckSection:
    """One page's answers on the check-your-answers page, changed together."""

    index: int
    title: str
    rows: list[tuple[str, str]]


def check_answers_rows(steps: list[Step], answers: Mapping[str, Any]) -> list[CheckSection]:
    """For the check-your-answers page: a compact summary of each page, the trust matrix
    one line per sector."""
    sections = []
    for index, step in enumerate(steps):
        rows = []
        for item in step.items:
            kind = question_type(item.type)
            if item.type == TrustMatrixQuestion.name:
                given = answers.get(item.code) or {}
                for sector_id, sector_name in step.sectors:
                    ratings = given.get(str(sector_id)) or {}
                    summary = "; ".join(
                        f"{TRUST_SHORT[dimension]}: {levels[ratings[dimension] - 1]}"
                        for dimension, (_, levels) in TRUST_DIMENSIONS.items()
                        if dimension in ratings
                    )
                    rows.append((sector_name, summary or "Not answered"))
            else:
                rows.append((short_text(item.text), kind.describe(item, answers.get(item.code))))
        sections.append(CheckSection(index, step.title, rows))
    return sections


def drafts_in_progress(session: Session, wave: Wave) -> int:
    """How many people have saved answers in this wave and not yet sent them: what
    closing it would cut short (a count of who is answering, not an answer)."""
    return session.scalar(select(func.count()).select_from(Draft).where(Draft.wave_id == wave.id))
