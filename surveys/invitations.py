"""Inviting people to a wave and keeping in touch with them: parsing the addresses,
single-use links, the invitation and reminder email, the invitee list, reissuing and
revoking links, "stop reminding me", and erasing who was invited.

A link's token is derived from a random nonce stored on the invitation and the app's
secret: the database holds only the token's hash (and the nonce, useless without the
secret), yet a reminder can carry the very link the invitation did. Should the secret
change, a reminder reissues the link instead (the old one then says it was replaced).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core import audit, outbox
from core.audit import AuditAction
from core.db import utcnow, writing
from core.models import Organisation, Place, Sector, User, normalise_email
from core.service import ServiceError, hash_token
from surveys.models import (
    AnonymityMode,
    Draft,
    Invitation,
    InviteeIdentity,
    ReplacedLink,
    Wave,
    WaveStatus,
)

INVITEE_MAX_ROWS = 5000
# A reminder asked for by hand still waits this long after the last message to that person,
# so pressing the button twice (or two coordinators at once) sends one reminder.
ON_DEMAND_GAP = timedelta(days=1)

LinkBuilder = Callable[[str], str]


def erase_identities(session: Session, wave: Wave, *, actor: User | None) -> int:
    """Delete who was invited to a closed wave, and the wave's email (which names them).
    Invitations and responses stay."""
    if wave.status != WaveStatus.CLOSED:
        raise ServiceError("wave", "Close the wave before erasing who was invited")
    identities = list(session.scalars(select(InviteeIdentity).where(InviteeIdentity.wave_id == wave.id)))
    session.execute(update(Invitation).where(Invitation.wave_id == wave.id).values(identity_id=None))
    for identity in identities:
        session.delete(identity)
    session.execute(delete(outbox.OutboxMessage).where(outbox.OutboxMessage.wave_id == wave.id))
    wave.identities_erased_at = utcnow()
    audit.record(
        session, actor, AuditAction.INVITEES_ERASED, wave=wave,
        detail=f"Who was invited to {wave.label} erased ({audit.count_of(len(identities), 'email address', 'email addresses')})",
        data={"erased": len(identities)},
    )
    session.commit()
    return len(identities)


def panel_key(secret: str, email: str) -> str:
    """Pseudonymous panel key: links one person's answers across waves without storing who."""
    return hmac.new(secret.encode(), normalise_email(email).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Invitee:
    email: str
    organisation_id: int | None
    sector_id: int
    place_id: int


@dataclass(frozen=True)
class InviteeParse:
    invitees: list[Invitee]
    errors: list[tuple[int, str]]


def invited_emails(session: Session, wave: Wave) -> set[str]:
    return set(session.scalars(select(InviteeIdentity.email).where(InviteeIdentity.wave_id == wave.id)))


def parse_invitees(
    session: Session, places: list[Place], text: str, already_invited: set[str] = frozenset(),
    default_organisation_id: int | None = None, default_sector_id: int | None = None,
) -> InviteeParse:
    """Lines of `email, organisation, sector, place`: a bare address takes the defaults
    chosen on the form (an organisation gives its sector and place); a value on the line
    overrides them. The place may be left out when `places`, the survey's places the person
    inviting covers, are just one. Someone already invited to the wave (`already_invited`,
    from every place: one person, one link) is not invited again: their link can be reissued."""
    by_name = {p.name.lower(): p for p in places}
    organisations = {
        (o.name.lower()): o
        for o in session.scalars(select(Organisation).where(Organisation.place_id.in_([p.id for p in places])))
    }
    sectors = {s.name.lower(): s for s in session.scalars(select(Sector))}
    default_organisation = next((o for o in organisations.values() if o.id == default_organisation_id), None)
    default_sector = next((s for s in sectors.values() if s.id == default_sector_id), None)
    invitees, errors, seen = [], [], set()
    rows = list(csv.reader(io.StringIO(text.strip())))
    if rows and rows[0] and rows[0][0].strip().lower() == "email":
        rows = [None] + rows[1:]  # keep line numbers, skip the header
    if len(rows) > INVITEE_MAX_ROWS:
        return InviteeParse([], [(0, f"Invite at most {INVITEE_MAX_ROWS} people at a time")])
    for line, row in enumerate(rows, start=1):
        if row is None or not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row] + [""] * 4
        email, organisation_name, sector_name, place_name = cells[:4]
        problems = []
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            problems.append(f"‘{email}’ is not an email address")
        elif normalise_email(email) in seen:
            problems.append(f"{email} is listed twice")
        elif normalise_email(email) in already_invited:
            problems.append(f"{email} has already been invited to this wave: give them a new link from the invitee list")
        if organisation_name:
            organisation = organisations.get(organisation_name.lower())
            if organisation is None:
                problems.append(f"organisation ‘{organisation_name}’ is not in the places you can invite people to")
        else:
            organisation = default_organisation if not (sector_name or place_name) else None
        if sector_name:
            sector = sectors.get(sector_name.lower())
        else:
            sector = organisation.sector if organisation else default_sector
        if sector is None:
            problems.append(f"sector ‘{sector_name}’ is not known" if sector_name
                            else "give a sector or a known organisation, or choose a default sector above")
        place = organisation.place if organisation else by_name.get(place_name.lower()) if place_name else (
            places[0] if len(places) == 1 else None
        )
        if place is None and place_name:
            problems.append(f"place ‘{place_name}’ is not one you can invite people to")
        elif place is None:
            problems.append("give the place (fourth column) or an organisation, as you can invite people to several places")
        if problems:
            message = "; ".join(problems)
            errors.append((line, message[0].upper() + message[1:]))
            continue
        seen.add(normalise_email(email))
        invitees.append(Invitee(normalise_email(email), organisation.id if organisation else None, sector.id, place.id))
    if not invitees and not errors:
        errors.append((0, "Enter at least one email address"))
    return InviteeParse(invitees, errors)


@dataclass(frozen=True)
class IssuedLink:
    invitation: Invitation
    email: str | None
    token: str


def link_token(secret: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), f"invitation-link:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def _new_link(invitation: Invitation, link_secret: str) -> str:
    invitation.token_nonce = secrets.token_urlsafe(16)
    token = link_token(link_secret, invitation.token_nonce)
    invitation.token_hash = hash_token(token)
    return token


def current_token(session: Session, invitation: Invitation, link_secret: str) -> str:
    """The invitation's link as issued; reissued (the old one kept as replaced) where it
    cannot be derived: made before links were derived, or the secret has changed since."""
    if invitation.token_nonce:
        token = link_token(link_secret, invitation.token_nonce)
        if hash_token(token) == invitation.token_hash:
            return token
    session.add(ReplacedLink(invitation_id=invitation.id, token_hash=invitation.token_hash))
    return _new_link(invitation, link_secret)


def create_invitations(
    session: Session, wave: Wave, invitees: Iterable[Invitee], panel_secret: str, link_secret: str,
    email_link: LinkBuilder | None = None, *, actor: User | None = None,
) -> list[IssuedLink]:
    """Single-use links, each token stored only as its hash. The tokens are returned once.
    With `email_link` (mail is configured), each link is also queued as an email in the
    same transaction, so an invitation and its email are written together or not at all."""
    if wave.status == WaveStatus.CLOSED:
        raise ServiceError("invitees", "This wave is closed")
    pseudonymous = wave.survey.anonymity == AnonymityMode.PSEUDONYMOUS
    issued = []
    for invitee in invitees:
        identity = InviteeIdentity(wave_id=wave.id, email=invitee.email)
        invitation = Invitation(
            wave_id=wave.id,
            identity=identity,
            organisation_id=invitee.organisation_id,
            sector_id=invitee.sector_id,
            place_id=invitee.place_id,
            panel_key=panel_key(panel_secret, invitee.email) if pseudonymous else None,
        )
        token = _new_link(invitation, link_secret)
        session.add(invitation)
        issued.append(IssuedLink(invitation, invitee.email, token))
        if email_link is not None:
            session.flush()  # the invitation's id, for the message
            outbox.queue(session, invitee.email, f"Your invitation: {wave.survey.name}",
                         invitation_email(wave, email_link(token)), "invitation", wave_id=wave.id,
                         invitation_id=invitation.id)
    audit.record(
        session, actor, AuditAction.INVITATIONS_CREATED, wave=wave,
        detail=f"{audit.count_of(len(issued), 'person', 'people')} invited to {wave.label}"
               + (" by email" if email_link is not None else " (links shown to copy)"),
        data={"invited": len(issued), "emailed": email_link is not None},
    )
    session.commit()
    return issued


def wave_messages(session: Session, wave: Wave, places: list[Place]) -> list[outbox.OutboxMessage]:
    """The wave's email to invitees in these places, newest first."""
    return list(session.scalars(
        select(outbox.OutboxMessage).join(Invitation, Invitation.id == outbox.OutboxMessage.invitation_id)
        .where(outbox.OutboxMessage.wave_id == wave.id, Invitation.place_id.in_([p.id for p in places]))
        .order_by(outbox.OutboxMessage.id.desc())))


def invitation_email(wave: Wave, link: str, replaced: bool = False) -> str:
    survey = wave.survey
    closing = (f"Please answer by {wave.closes_at:%-d %B %Y}.\n\n" if wave.closes_at else "")
    opening = (f"{survey.run_by} has sent you a new link for {survey.name} ({wave.label}). "
               "Your earlier link no longer works; any answers you saved are kept."
               if replaced else f"{survey.run_by} invites you to answer {survey.name} ({wave.label}).")
    return (
        f"{opening}\n\n"
        f"{survey.purpose + chr(10) + chr(10) if survey.purpose else ''}"
        f"Your personal link (please do not share it: it can be used once):\n{link}\n\n"
        f"{closing}"
        "Your answers are reported only for groups large enough that nobody can be picked out.\n"
    )


def links_for_tokens(session: Session, wave: Wave, tokens: Iterable[str], places: list[Place]) -> list[IssuedLink]:
    """Invitations of this wave, in these places, matching tokens the coordinator was just
    shown (for the CSV)."""
    hashes = {hash_token(token): token for token in tokens}
    found = session.scalars(
        select(Invitation).where(
            Invitation.wave_id == wave.id,
            Invitation.token_hash.in_(hashes),
            Invitation.place_id.in_([place.id for place in places]),
        )
    )
    return [
        IssuedLink(inv, inv.identity.email if inv.identity else None, hashes[inv.token_hash]) for inv in found
    ]




# --- the invitee list -----------------------------------------------------------------


@dataclass(frozen=True)
class InviteeRow:
    """One person invited, as far as reaching them goes: never linked to their answers."""

    invitation_id: int
    email: str | None  # None once erased
    organisation: str | None
    sector: str
    place: str
    status: str
    reminders_sent: int
    reminders_stopped: bool
    may_reissue: bool
    may_revoke: bool


def _status(invitation: Invitation, started: bool, latest: outbox.OutboxMessage | None) -> str:
    if invitation.revoked_at:
        return "Revoked"
    if invitation.used_at:
        return "Answered"
    if started:
        return "Started"
    if latest is None:
        return "Link given"
    return {"queued": "Email queued", "sending": "Email queued", "sent": "Email sent",
            "failed": "Email failed"}[latest.state]


def invitee_rows(session: Session, wave: Wave, places: list[Place]) -> list[InviteeRow]:
    invitations = list(session.scalars(
        select(Invitation).where(Invitation.wave_id == wave.id, Invitation.place_id.in_([p.id for p in places]))
        .order_by(Invitation.id)))
    ids = [invitation.id for invitation in invitations]
    started = set(session.scalars(select(Draft.invitation_id).where(Draft.invitation_id.in_(ids))))
    latest = {}
    for message in session.scalars(select(outbox.OutboxMessage).where(outbox.OutboxMessage.invitation_id.in_(ids))
                                   .order_by(outbox.OutboxMessage.id)):
        latest[message.invitation_id] = message
    open_wave = wave.status != WaveStatus.CLOSED
    return [
        InviteeRow(
            invitation_id=inv.id, email=inv.identity.email if inv.identity else None,
            organisation=inv.organisation.name if inv.organisation else None, sector=inv.sector.name,
            place=inv.place.name, status=_status(inv, inv.id in started, latest.get(inv.id)),
            reminders_sent=inv.reminders_sent, reminders_stopped=inv.reminders_stopped_at is not None,
            may_reissue=open_wave and not inv.used_at and not inv.revoked_at,
            may_revoke=open_wave and not inv.used_at and not inv.revoked_at,
        )
        for inv in invitations
    ]


def invitation_in(session: Session, wave: Wave, invitation_id: int, places: list[Place]) -> Invitation | None:
    """The wave's invitation, only if it is in one of these places (the user's)."""
    return session.scalar(select(Invitation).where(
        Invitation.id == invitation_id, Invitation.wave_id == wave.id,
        Invitation.place_id.in_([p.id for p in places])))


def _where(invitation: Invitation) -> str:
    # The audit log outlives the addresses, so it never names the person.
    return f"an invitation in {invitation.place.name} ({invitation.sector.name})"


def reissue(session: Session, invitation: Invitation, link_secret: str, email_link: LinkBuilder | None,
            *, actor: User | None) -> str:
    """A new link for someone who lost theirs. The old link then says it was replaced;
    answers saved part-way stay with the invitation, so the new link finds them."""
    if invitation.wave.status == WaveStatus.CLOSED:
        raise ServiceError("invitation", "This wave is closed")
    if invitation.used_at:
        raise ServiceError("invitation", "This person has already answered")
    if invitation.revoked_at:
        raise ServiceError("invitation", "This invitation was revoked")
    session.add(ReplacedLink(invitation_id=invitation.id, token_hash=invitation.token_hash))
    _cancel_queued(session, invitation)
    token = _new_link(invitation, link_secret)
    if email_link is not None and invitation.identity is not None:
        outbox.queue(session, invitation.identity.email, f"Your new link: {invitation.wave.survey.name}",
                     invitation_email(invitation.wave, email_link(token), replaced=True), "reissue",
                     wave_id=invitation.wave_id, invitation_id=invitation.id)
    audit.record(session, actor, AuditAction.INVITATION_REISSUED, wave=invitation.wave,
                 detail=f"New link for {_where(invitation)} in {invitation.wave.label}",
                 data={"invitation_id": invitation.id, "emailed": email_link is not None})
    session.commit()
    return token


def revoke(session: Session, invitation: Invitation, *, actor: User | None) -> None:
    """The link stops working and nothing more is sent to this person."""
    if invitation.used_at:
        raise ServiceError("invitation", "This person has already answered: their answers are kept")
    if invitation.revoked_at:
        raise ServiceError("invitation", "This invitation was already revoked")
    invitation.revoked_at = utcnow()
    _cancel_queued(session, invitation)
    audit.record(session, actor, AuditAction.INVITATION_REVOKED, wave=invitation.wave,
                 detail=f"Revoked {_where(invitation)} in {invitation.wave.label}",
                 data={"invitation_id": invitation.id})
    session.commit()


def _cancel_queued(session: Session, invitation: Invitation) -> None:
    # Not yet claimed by a worker: it would carry a link that no longer works.
    session.execute(delete(outbox.OutboxMessage).where(
        outbox.OutboxMessage.invitation_id == invitation.id,
        outbox.OutboxMessage.state == outbox.MessageState.QUEUED.value))


def stop_reminders(session: Session, invitation: Invitation) -> None:
    """The respondent asked not to be reminded. Asking twice changes nothing."""
    if invitation.reminders_stopped_at is None:
        invitation.reminders_stopped_at = utcnow()
        session.commit()


# --- reminders ------------------------------------------------------------------------


def _remindable(wave: Wave, waited_since: datetime):
    """Invitations of an open wave that may get a reminder now: not answered, revoked or
    stopped, an address still kept, under the limit, and nothing sent to them since `waited_since`."""
    return (
        Invitation.wave_id == wave.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None),
        Invitation.reminders_stopped_at.is_(None), Invitation.identity_id.is_not(None),
        Invitation.reminders_sent < wave.reminder_limit,
        func.coalesce(Invitation.last_reminded_at, Invitation.created_at) <= waited_since,
    )


def _waited_since(wave: Wave, now: datetime, on_demand: bool) -> datetime:
    return now - (ON_DEMAND_GAP if on_demand else timedelta(days=wave.reminder_delay_days))


def reminders_due(session: Session, wave: Wave, places: list[Place], now: datetime | None = None) -> int:
    """How many people a reminder asked for now would reach (for the confirmation page)."""
    if wave.status != WaveStatus.OPEN:
        return 0
    return session.scalar(select(func.count()).select_from(Invitation).where(
        *_remindable(wave, _waited_since(wave, now or utcnow(), True)),
        Invitation.place_id.in_([p.id for p in places])))


def send_reminders(
    session: Session, wave: Wave, link_secret: str, email_link: LinkBuilder, stop_link: LinkBuilder,
    *, places: list[Place] | None = None, on_demand: bool = True, actor: User | None = None,
    now: datetime | None = None,
) -> int:
    """Queue a reminder to everyone the rules allow, and count each one on its invitation in
    the same transaction. The rows are locked while this runs, so two workers, or a worker
    and a coordinator, never remind the same person twice."""
    now = now or utcnow()
    if wave.status != WaveStatus.OPEN or (wave.closes_at is not None and wave.closes_at <= now):
        return 0
    conditions = list(_remindable(wave, _waited_since(wave, now, on_demand)))
    if places is not None:
        conditions.append(Invitation.place_id.in_([p.id for p in places]))
    with writing(session):
        due = list(session.scalars(select(Invitation).where(*conditions).order_by(Invitation.id)
                                   .with_for_update(skip_locked=True, of=Invitation)))
        for invitation in due:
            token = current_token(session, invitation, link_secret)
            invitation.reminders_sent += 1
            invitation.last_reminded_at = now
            outbox.queue(session, invitation.identity.email, f"A reminder: {wave.survey.name}",
                         reminder_email(wave, email_link(token), stop_link(token)), "reminder",
                         wave_id=wave.id, invitation_id=invitation.id)
        if due:
            audit.record(session, actor, AuditAction.REMINDERS_QUEUED, wave=wave,
                         detail=f"Reminders to {audit.count_of(len(due), 'person', 'people')} in {wave.label}"
                                + ("" if on_demand else " (on the wave's schedule)"),
                         data={"reminded": len(due), "on_demand": on_demand})
        session.commit()
    return len(due)


def reminder_email(wave: Wave, link: str, stop_link: str) -> str:
    survey = wave.survey
    closing = f"It closes on {wave.closes_at:%-d %B %Y}.\n\n" if wave.closes_at else ""
    return (
        f"A reminder from {survey.run_by}: you are invited to answer {survey.name} ({wave.label}), "
        "and we have not had your answers yet.\n\n"
        f"Your personal link (the same one as before; please do not share it):\n{link}\n\n"
        f"{closing}"
        "If you would rather not be reminded again, use this link:\n"
        f"{stop_link}\n"
    )
