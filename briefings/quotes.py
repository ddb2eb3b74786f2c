"""Free-text answers reviewed as quotes for briefings.

Only answers from respondents who said yes to the quote question of their wave are
candidates. A reviewer approves one as written, edits and approves it (to take out a
name, say), or rejects it; every decision is kept, and the answer itself never changes.
A coordinator then chooses which approved quotes a briefing prints. Likely names, email
addresses and phone numbers are flagged for the reviewer, who decides: the flags are a
prompt to look, not a filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from core import audit
from core.audit import AuditAction
from core.db import utcnow
from core.models import Organisation, Place, Sector, User
from core.service import ServiceError
from briefings.models import Quote, QuoteDecision, QuoteStatus
from surveys.instruments import QUOTE_CONSENT_CODE, QUOTE_CONSENT_YES
from surveys.models import Answer, Response, Wave
from surveys.question_types import TEXT_MAX_LENGTH

FIRST_NAMES_FILE = Path(__file__).resolve().parent / "first_names.txt"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# UK numbers as people write them: 07700 900123, 0117 496 0000, +44 (0)20 7946 0000.
PHONE = re.compile(r"(?<![\w])(?:\+44\s?(?:\(0\)\s?)?|0)\d(?:[\s-]?\d){8,9}(?!\d)")
TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Cllr|Councillor|Rev|Revd|Sister|Father)\.?\s+[A-Z][\w'-]+")
WORD = re.compile(r"[A-Z][a-z'-]+|[A-Za-z'-]+")
SENTENCE_END = re.compile(r"[.!?:;]\s*$")
# Capitalised words that are not names wherever they appear in a sentence.
COMMON_CAPITALISED = frozenset("""
I I'm I've I'd I'll Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March
April May June July August September October November December Christmas Easter England English
Britain British UK NHS GP GPs Council Councils County Borough City Trust Foundation Charity Charities
ICB ICS CVS VCSE VCS Covid COVID Zoom Teams WhatsApp Facebook Holdfast
""".split())


@dataclass(frozen=True)
class Flag:
    kind: str  # "name", "email" or "phone"
    text: str

    @property
    def label(self) -> str:
        return {"name": "May be a name", "email": "Email address", "phone": "Phone number"}[self.kind]


@cache
def first_names() -> frozenset[str]:
    return frozenset(line.strip() for line in FIRST_NAMES_FILE.read_text().splitlines()
                     if line.strip() and not line.startswith("#"))


def flags(text: str, known: frozenset[str] = frozenset()) -> tuple[Flag, ...]:
    """What in `text` may identify someone. `known` holds the words of the place's own
    names (places, sectors, organisations), which are capitalised without being a person's."""
    found = [Flag("email", m.group()) for m in EMAIL.finditer(text)]
    without_emails = EMAIL.sub(" ", text)
    found += [Flag("phone", m.group().strip()) for m in PHONE.finditer(without_emails)]
    found += [Flag("name", m.group()) for m in TITLED.finditer(without_emails)]
    names = first_names()
    run: list[str] = []

    def end_run():
        # Two or more capitalised words in a row (Sarah Okafor), or one known first name.
        if len(run) >= 2 or (run and run[0] in names):
            phrase = " ".join(run)
            if not any(phrase in flag.text for flag in found):
                found.append(Flag("name", phrase))
        run.clear()

    for match in WORD.finditer(without_emails):
        word = match.group()
        starts_sentence = match.start() == 0 or bool(SENTENCE_END.search(without_emails[:match.start()]))
        capitalised = word[0].isupper() and not word.isupper()
        ordinary = word in COMMON_CAPITALISED or word in known
        if capitalised and not ordinary and (not starts_sentence or word in names or run):
            if run and without_emails[match.start() - 1] != " ":
                end_run()
            run.append(word)
        else:
            end_run()
    end_run()
    return tuple(found)


def known_words(session: Session) -> frozenset[str]:
    names = [*session.scalars(select(Place.name)), *session.scalars(select(Sector.name)),
             *session.scalars(select(Organisation.name))]
    return frozenset(word for name in names for word in WORD.findall(name))


@dataclass(frozen=True)
class Candidate:
    """A free-text answer of a respondent who agreed to be quoted, with its review so far."""

    response_id: int
    item_code: str
    question: str
    answer: str
    sector: str
    place: str
    flags: tuple[Flag, ...]
    status: str | None  # a QuoteStatus, or None while nobody has reviewed it
    text: str  # what a briefing would print: the answer, or its approved edit
    in_briefings: bool
    history: tuple[tuple[datetime, str, str, str], ...]  # (when, who, decision, text)

    @property
    def key(self) -> str:
        return f"{self.response_id}-{self.item_code}"


def candidates(session: Session, wave: Wave, places: list[Place]) -> list[Candidate]:
    """The free-text answers to `wave` from `places` whose respondents opted in, oldest first."""
    questions = {item.code: item.text for item in wave.instrument.items if item.type == "text"}
    if not questions or not places:
        return []
    consent = aliased(Answer)
    rows = session.execute(
        select(Response.id, Answer.item_code, Answer.text_value, Sector.name, Place.name)
        .join(Answer, Answer.response_id == Response.id)
        .join(consent, (consent.response_id == Response.id) & (consent.item_code == QUOTE_CONSENT_CODE))
        .join(Sector, Sector.id == Response.sector_id).join(Place, Place.id == Response.place_id)
        .where(Response.wave_id == wave.id, Response.place_id.in_([p.id for p in places]),
               Answer.item_code.in_(list(questions)), Answer.text_value.is_not(None),
               consent.numeric_value == QUOTE_CONSENT_YES)
        .order_by(Response.id, Answer.item_code)
    ).all()
    reviewed = {(q.response_id, q.item_code): q for q in session.scalars(
        select(Quote).where(Quote.wave_id == wave.id, Quote.response_id.in_([r[0] for r in rows])))}
    known = known_words(session)
    found = []
    for response_id, code, answer, sector, place in rows:
        if not answer.strip():
            continue
        quote = reviewed.get((response_id, code))
        found.append(Candidate(
            response_id=response_id, item_code=code, question=questions[code], answer=answer,
            sector=sector, place=place, flags=flags(answer, known),
            status=quote.status if quote else None, text=quote.text if quote else answer,
            in_briefings=bool(quote and quote.in_briefings),
            history=tuple((d.at, d.user_email or "an account since erased", d.status, d.text)
                          for d in quote.decisions) if quote else (),
        ))
    return found


def candidate(session: Session, wave: Wave, places: list[Place], response_id: int, item_code: str) -> Candidate | None:
    return next((c for c in candidates(session, wave, places)
                 if c.response_id == response_id and c.item_code == item_code), None)


def review(session: Session, wave: Wave, found: Candidate, decision: QuoteStatus, text: str, user: User) -> Quote:
    """Approve `text` (the answer as written, or an edit of it) or reject the answer. The
    same decision sent twice (a double click) is kept once."""
    text = text.strip()
    if decision == QuoteStatus.APPROVED and not text:
        raise ServiceError("text", "Enter the quote as it should appear")
    if len(text) > TEXT_MAX_LENGTH:
        raise ServiceError("text", f"The quote must be {TEXT_MAX_LENGTH} characters or fewer")
    quote = session.scalar(select(Quote).where(Quote.response_id == found.response_id,
                                               Quote.item_code == found.item_code))
    if quote is None:
        quote = Quote(wave_id=wave.id, response_id=found.response_id, item_code=found.item_code,
                      original=found.answer, text=found.answer, status=decision.value)
        session.add(quote)
    new_text = text if decision == QuoteStatus.APPROVED else quote.text
    latest = quote.decisions[-1] if quote.decisions else None
    if latest is None or (latest.status, latest.text) != (decision.value, new_text):
        quote.status, quote.text = decision.value, new_text
        quote.in_briefings = quote.in_briefings and decision == QuoteStatus.APPROVED
        quote.decisions.append(QuoteDecision(status=decision.value, text=new_text, at=utcnow(),
                                             user_id=user.id, user_email=user.email))
        words = "rejected" if decision == QuoteStatus.REJECTED else (
            "edited and approved" if new_text != quote.original else "approved as written")
        audit.record(session, user, AuditAction.QUOTE_REVIEWED, wave=wave,
                     detail=f"A quote from {wave.label} {words}",
                     data={"response": found.response_id, "question": found.item_code, "decision": decision.value})
    session.commit()
    return quote


def choose(session: Session, found: Candidate, in_briefings: bool) -> None:
    """Put an approved quote in the wave's briefings, or take it out."""
    quote = session.scalar(select(Quote).where(Quote.response_id == found.response_id,
                                               Quote.item_code == found.item_code))
    if quote is None or quote.status != QuoteStatus.APPROVED:
        raise ServiceError("quote", "Approve the quote before choosing it for briefings")
    quote.in_briefings = in_briefings
    session.commit()


@dataclass(frozen=True)
class ChosenQuote:
    text: str
    sector: str
    place: str


def chosen(session: Session, wave: Wave, place: Place | None) -> list[ChosenQuote]:
    """The approved quotes chosen for the wave's briefings, from one place or all, from
    respondents who opted in (checked again: an answer imported later cannot change a
    reviewed quote's consent, but this keeps the rule in one query)."""
    consent = aliased(Answer)
    query = (
        select(Quote.text, Sector.name, Place.name)
        .join(Response, Response.id == Quote.response_id)
        .join(consent, (consent.response_id == Response.id) & (consent.item_code == QUOTE_CONSENT_CODE))
        .join(Sector, Sector.id == Response.sector_id).join(Place, Place.id == Response.place_id)
        .where(Quote.wave_id == wave.id, Quote.status == QuoteStatus.APPROVED.value, Quote.in_briefings,
               consent.numeric_value == QUOTE_CONSENT_YES)
        .order_by(Quote.id)
    )
    if place is not None:
        query = query.where(Response.place_id == place.id)
    return [ChosenQuote(text, sector, where) for text, sector, where in session.execute(query)]
