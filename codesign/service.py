"""Workshops: preparing and running them, what participants add, the room's tallies and
consensus, and the actions agreed. Functions take a Session and plain values; the caller
commits once.

Everything is in the database, nothing in process memory, so any number of workers can
serve one workshop. A participant's dots are checked in the transaction that writes them,
with the participant's row locked (FOR UPDATE on PostgreSQL; SQLite's write lock, taken
at BEGIN, serialises writers anyway)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from math import prod

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from codesign.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Cluster,
    ContributionChannel,
    Idea,
    PaperGroup,
    PaperVote,
    Participant,
    Prompt,
    Vote,
    Workshop,
)
from codesign.stages import ORDER, STAGES, stage_of
from core import outbox
from core.db import start_writing, utcnow
from core.models import Organisation, Place, Sector, User
from core.service import ServiceError
from surveys.models import Construct

# No 0/O, 1/I/L: read off a projector and typed on a phone.
JOIN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6
IDEA_MAX = 280
PROMPT_MAX = 300
MIN_SECTOR_SIZE = 3  # smaller sectors are pooled in tallies and the consensus score
OTHER_SECTORS = "Other sectors"
TOP_IDEAS = 5
IMPACT_EFFORT = range(1, 6)


# --- preparing ---------------------------------------------------------------------------


def workshops_for(session: Session, user: User) -> list[Workshop]:
    query = select(Workshop).order_by(Workshop.held_on.desc(), Workshop.id.desc())
    if user.role_enum.is_place_scoped:
        query = query.where(Workshop.place_id.in_([p.id for p in user.places]))
    return list(session.scalars(query))


def create_workshop(session: Session, place: Place, title: str, held_on: date, constructs: list[Construct],
                    dots: int, prompts: list[str], comparison: tuple[int, int, int] | None,
                    user: User | None) -> Workshop:
    """`comparison` is (survey, reference wave, current wave) ids the prompts came from."""
    survey_id, reference_id, current_id = comparison or (None, None, None)
    workshop = Workshop(place=place, title=title, held_on=held_on, constructs=constructs,
                        dots_per_participant=dots, survey_id=survey_id, reference_wave_id=reference_id,
                        current_wave_id=current_id, created_by_id=user.id if user else None)
    workshop.prompts = [Prompt(position=i, text=text) for i, text in enumerate(prompts)]
    session.add(workshop)
    session.flush()
    return workshop


def prompt_lines(text: str) -> list[str]:
    """One prompt a line, blank lines dropped."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if len(line) > PROMPT_MAX:
            raise ServiceError("prompts", f"Each prompt must be {PROMPT_MAX} characters or fewer")
    return lines


def set_prompts(session: Session, workshop: Workshop, lines: list[str]) -> None:
    workshop.prompts = [Prompt(position=i, text=text) for i, text in enumerate(lines)]
    _changed(session, workshop)


def _new_join_code() -> str:
    return "".join(secrets.choice(JOIN_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def open_workshop(session: Session, workshop: Workshop) -> str:
    """Give the workshop its join code and start the first stage. Opening twice keeps the code."""
    if workshop.join_code:
        return workshop.join_code
    for _ in range(10):
        code = _new_join_code()
        try:
            with session.begin_nested():
                workshop.join_code = code
                session.flush()
        except IntegrityError:  # another workshop has it: about one chance in 900 million per open one
            continue
        break
    else:
        raise ServiceError("submit", "Could not find a free join code. Try again.")
    workshop.stage = ORDER[1]
    _changed(session, workshop)
    return workshop.join_code


def normalise_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def workshop_by_code(session: Session, code: str) -> Workshop | None:
    code = normalise_code(code)
    if not code:
        return None
    return session.scalar(select(Workshop).where(Workshop.join_code == code))


# --- running: the console ----------------------------------------------------------------


def _changed(session: Session, workshop: Workshop) -> None:
    """Move the version participants' screens poll, in SQL so concurrent changes all count."""
    session.flush()
    session.execute(update(Workshop).where(Workshop.id == workshop.id).values(version=Workshop.version + 1))
    session.refresh(workshop, ["version"])


def move_to(session: Session, workshop: Workshop, stage: str) -> None:
    if stage not in STAGES or stage == ORDER[0]:
        raise ServiceError("stage", "Choose a stage from the list")
    if not workshop.join_code:
        raise ServiceError("stage", "Open the workshop before moving it to a stage")
    workshop.stage = stage
    workshop.stage_locked = False
    workshop.deadline_at = None
    _changed(session, workshop)


def set_locked(session: Session, workshop: Workshop, locked: bool) -> None:
    workshop.stage_locked = locked
    _changed(session, workshop)


def set_timer(session: Session, workshop: Workshop, minutes: int, now: datetime | None = None) -> None:
    workshop.deadline_at = (now or utcnow()) + timedelta(minutes=minutes) if minutes else None
    _changed(session, workshop)


def set_hidden(session: Session, workshop: Workshop, idea_id: int, hidden: bool) -> Idea:
    idea = session.scalar(select(Idea).where(Idea.id == idea_id, Idea.workshop_id == workshop.id))
    if idea is None:
        raise ServiceError("idea", "That idea is not in this workshop")
    idea.hidden = hidden
    _changed(session, workshop)
    return idea


# --- participants ------------------------------------------------------------------------


def join(session: Session, workshop: Workshop, display_name: str, sector_id: int | None,
         channel: ContributionChannel) -> Participant:
    if not stage_of(workshop.stage).is_open or workshop.stage == "finished":
        raise ServiceError("display_name", "This workshop is not taking part in new people now")
    if sector_id is not None and session.get(Sector, sector_id) is None:
        raise ServiceError("sector", "Select your sector from the list")
    if channel == ContributionChannel.PAPER:
        raise ServiceError("channel", "Select whether you are in the room or joining remotely")
    participant = Participant(workshop_id=workshop.id, display_name=display_name, sector_id=sector_id,
                              channel=channel.value)
    session.add(participant)
    session.flush()
    return participant


def participant_in(session: Session, workshop: Workshop, participant_id: int | None) -> Participant | None:
    if participant_id is None:
        return None
    return session.scalar(select(Participant).where(Participant.id == participant_id,
                                                    Participant.workshop_id == workshop.id))


def _require_open_stage(workshop: Workshop, what: str, field: str) -> None:
    stage = stage_of(workshop.stage)
    allowed = stage.takes_ideas if what == "ideas" else stage.takes_dots
    if not allowed:
        raise ServiceError(field, f"The workshop is not taking {what} now")
    if workshop.stage_locked:
        raise ServiceError(field, f"The facilitator has paused {what} for now")


def add_idea(session: Session, workshop: Workshop, participant: Participant | None, text: str, key: str,
             paper: bool = False) -> Idea:
    """Store an idea once, however often its form is sent (the key comes with the form).
    A facilitator's paper ideas may be added at any stage."""
    text = text.strip()
    if not text:
        raise ServiceError("text", "Enter your idea")
    if len(text) > IDEA_MAX:
        raise ServiceError("text", f"Your idea must be {IDEA_MAX} characters or fewer")
    if not paper:
        _require_open_stage(workshop, "ideas", "text")
    existing = session.scalar(select(Idea).where(Idea.idempotency_key == key))
    if existing is not None:
        if existing.workshop_id != workshop.id or existing.participant_id != (participant.id if participant else None):
            raise ServiceError("text", "That form has already been used. Reload the page and try again.")
        return existing
    channel = ContributionChannel.PAPER.value if paper or participant is None else participant.channel
    idea = Idea(workshop_id=workshop.id, participant_id=participant.id if participant else None, channel=channel,
                text=text, idempotency_key=key)
    try:
        with session.begin_nested():
            session.add(idea)
            session.flush()
    except IntegrityError:  # the same form sent twice at once: the other request stored it
        return session.scalar(select(Idea).where(Idea.idempotency_key == key))
    _changed(session, workshop)
    return idea


def delete_own_idea(session: Session, workshop: Workshop, participant: Participant, idea_id: int) -> None:
    _require_open_stage(workshop, "ideas", "text")
    idea = session.scalar(select(Idea).where(Idea.id == idea_id, Idea.workshop_id == workshop.id,
                                             Idea.participant_id == participant.id))
    if idea is None:
        raise ServiceError("text", "You can only remove your own ideas")
    session.delete(idea)
    _changed(session, workshop)


def visible_ideas(session: Session, workshop: Workshop) -> list[Idea]:
    """The ideas participants may see: never a hidden one."""
    return list(session.scalars(select(Idea).where(Idea.workshop_id == workshop.id, Idea.hidden.is_(False))
                                .order_by(Idea.id)))


def all_ideas(session: Session, workshop: Workshop) -> list[Idea]:
    """For the facilitator, hidden ones too."""
    return list(session.scalars(select(Idea).where(Idea.workshop_id == workshop.id).order_by(Idea.id)))


def dots_of(session: Session, participant: Participant) -> dict[int, int]:
    return dict(session.execute(select(Vote.idea_id, Vote.dots).where(Vote.participant_id == participant.id)).all())


def set_dots(session: Session, workshop: Workshop, participant: Participant, dots: dict[int, int]) -> None:
    """Replace the participant's dots with `dots` (idea id → dots). Sending the same
    choice twice leaves the same dots. Never more than the workshop allows: checked
    again in the transaction after writing, with the participant's row locked.

    The room's page and its form are built before this, outside SQLite's write lock; the
    stage is read again inside it."""
    start_writing(session)
    session.refresh(workshop)
    _require_open_stage(workshop, "dots", "dots")
    dots = {idea: n for idea, n in dots.items() if n}
    if any(n < 0 for n in dots.values()):
        raise ServiceError("dots", "Dots cannot be fewer than 0")
    allowed = workshop.dots_per_participant
    if sum(dots.values()) > allowed:
        raise ServiceError("dots", f"You have {allowed} dots. Take some off before adding more.")
    ideas = set(session.scalars(select(Idea.id).where(Idea.workshop_id == workshop.id, Idea.hidden.is_(False),
                                                      Idea.id.in_(list(dots)))))
    if set(dots) - ideas:
        raise ServiceError("dots", "One of those ideas is no longer shown. Reload the page and place your dots again.")
    session.scalar(select(Participant.id).where(Participant.id == participant.id).with_for_update())
    session.execute(delete(Vote).where(Vote.participant_id == participant.id))
    session.add_all(Vote(participant_id=participant.id, idea_id=idea, dots=n) for idea, n in dots.items())
    session.flush()
    placed = session.scalar(select(func.coalesce(func.sum(Vote.dots), 0)).where(Vote.participant_id == participant.id))
    if placed > allowed:  # cannot happen with the lock held; the database has the last word
        raise ServiceError("dots", f"You have {allowed} dots. Take some off before adding more.")
    _changed(session, workshop)


# --- clusters, paper votes, priorities ----------------------------------------------------


def clusters_of(session: Session, workshop: Workshop) -> list[Cluster]:
    return list(session.scalars(select(Cluster).where(Cluster.workshop_id == workshop.id).order_by(Cluster.id)))


def add_cluster(session: Session, workshop: Workshop, name: str) -> Cluster:
    name = name.strip()
    if not name:
        raise ServiceError("name", "Enter a name for the group")
    if any(c.name.casefold() == name.casefold() for c in clusters_of(session, workshop)):
        raise ServiceError("name", "There is already a group with that name")
    cluster = Cluster(workshop_id=workshop.id, name=name)
    session.add(cluster)
    _changed(session, workshop)
    return cluster


def rename_cluster(session: Session, workshop: Workshop, cluster_id: int, name: str) -> None:
    cluster = _cluster(session, workshop, cluster_id)
    name = name.strip()
    if not name:
        raise ServiceError("name", "Enter a name for the group")
    cluster.name = name
    _changed(session, workshop)


def _cluster(session: Session, workshop: Workshop, cluster_id: int) -> Cluster:
    cluster = session.scalar(select(Cluster).where(Cluster.id == cluster_id, Cluster.workshop_id == workshop.id))
    if cluster is None:
        raise ServiceError("cluster", "Choose a group from the list")
    return cluster


def assign_ideas(session: Session, workshop: Workshop, assignment: dict[int, int | None]) -> None:
    """Put ideas (id → group id, or None for no group) into groups."""
    clusters = {c.id for c in clusters_of(session, workshop)}
    ideas = {i.id: i for i in all_ideas(session, workshop)}
    for idea_id, cluster_id in assignment.items():
        if idea_id not in ideas:
            raise ServiceError("ideas", "One of those ideas is not in this workshop")
        if cluster_id is not None and cluster_id not in clusters:
            raise ServiceError("ideas", "Choose a group from the list")
        ideas[idea_id].cluster_id = cluster_id
    _changed(session, workshop)


def paper_counts(session: Session, workshop: Workshop) -> tuple[dict[int, int], dict[tuple[int, int], int]]:
    """(sector id → people voting on paper, (idea id, sector id) → votes)."""
    people = dict(session.execute(select(PaperGroup.sector_id, PaperGroup.people)
                                  .where(PaperGroup.workshop_id == workshop.id)).all())
    votes = {(idea, sector): n for idea, sector, n in session.execute(
        select(PaperVote.idea_id, PaperVote.sector_id, PaperVote.votes).join(Idea)
        .where(Idea.workshop_id == workshop.id))}
    return people, votes


def set_paper_counts(session: Session, workshop: Workshop, sector_id: int, people: int,
                     votes: dict[int, int]) -> None:
    """One sector's paper votes and shows of hands: how many people, and votes per idea.
    Setting them again replaces them, so a double click counts once."""
    if session.get(Sector, sector_id) is None:
        raise ServiceError("sector", "Select a sector from the list")
    if people < 0 or any(n < 0 for n in votes.values()):
        raise ServiceError("people", "Counts cannot be fewer than 0")
    if people == 0 and any(votes.values()):
        raise ServiceError("people", "Enter how many people from this sector voted on paper or by hands")
    ideas = {i.id for i in visible_ideas(session, workshop)}
    if set(votes) - ideas:
        raise ServiceError("people", "One of those ideas is not in this workshop")
    group = session.scalar(select(PaperGroup).where(PaperGroup.workshop_id == workshop.id,
                                                    PaperGroup.sector_id == sector_id))
    if group is None:
        group = PaperGroup(workshop_id=workshop.id, sector_id=sector_id, people=people)
        session.add(group)
    group.people = people
    session.execute(delete(PaperVote).where(PaperVote.sector_id == sector_id,
                                            PaperVote.idea_id.in_(select(Idea.id).where(Idea.workshop_id == workshop.id))))
    session.add_all(PaperVote(idea_id=idea, sector_id=sector_id, votes=n) for idea, n in votes.items() if n)
    _changed(session, workshop)


def set_priorities(session: Session, workshop: Workshop, priorities: dict[int, tuple[int | None, int | None]]) -> None:
    """Place groups on the impact/effort grid: group id → (impact, effort), each 1 to 5."""
    clusters = {c.id: c for c in clusters_of(session, workshop)}
    for cluster_id, (impact, effort) in priorities.items():
        if cluster_id not in clusters:
            raise ServiceError("clusters", "Choose a group from the list")
        if any(v is not None and v not in IMPACT_EFFORT for v in (impact, effort)):
            raise ServiceError("clusters", "Impact and effort are each from 1 to 5")
        clusters[cluster_id].impact, clusters[cluster_id].effort = impact, effort
    _changed(session, workshop)


# --- tallies and consensus ---------------------------------------------------------------


def consensus_score(groups: list[tuple[int, int]]) -> float:
    """Cross-sector consensus for one idea: the product over sector groups of
    (supporters + 1) / (participants + 2), as DESIGN.md defines it. High only when every
    group backs the idea; one group that does not pulls it down."""
    return prod((supporters + 1) / (participants + 2) for supporters, participants in groups)


def _pooled(sizes: dict[str, int], minimum: int, always: frozenset[str] = frozenset()) -> set[str]:
    """The groups counted together: those with fewer than `minimum` people (or in
    `always`), then, while the pool itself is smaller than `minimum`, the smallest of
    the rest, so the pool never singles anyone out either."""
    pooled = {name for name, n in sizes.items() if n < minimum or name in always}
    while 0 < sum(sizes[n] for n in pooled) < minimum and len(pooled) < len(sizes):
        pooled.add(min((n for n in sizes if n not in pooled), key=lambda n: (sizes[n], n)))
    return pooled


def pool_sectors(sizes: dict[str, int], minimum: int = MIN_SECTOR_SIZE,
                 always: frozenset[str] = frozenset()) -> dict[str, str]:
    """Each sector's group in tallies: itself, or "Other sectors" when fewer than
    `minimum` took part (or it is in `always`), pooled as `_pooled` says."""
    pooled = _pooled(sizes, minimum, always)
    return {name: OTHER_SECTORS if name in pooled else name for name in sizes}


def pool_channels(sizes: dict[ContributionChannel, int], minimum: int = MIN_SECTOR_SIZE) -> dict[str, str]:
    """Each channel's column in the tally by channel (stored code → label): its own
    label, or, when fewer than `minimum` people took part that way, one column with the
    channels it is pooled with, named after them all ("In the room or remote").

    Only phones are pooled. Paper votes and shows of hands are the facilitator's own
    counts, already on the paper page, so a pool with them would hide nobody: a lone
    remote participant's dots are the pool's less the paper votes."""
    phones = {channel: n for channel, n in sizes.items() if n and channel != ContributionChannel.PAPER}
    pooled = _pooled({channel.value: n for channel, n in phones.items()}, minimum)
    together = [channel for channel in ContributionChannel if channel.value in pooled]
    pool_name = " or ".join([together[0].label, *[c.label.lower() for c in together[1:]]]) if together else ""
    columns = {channel.value: pool_name if channel.value in pooled else channel.label for channel in phones}
    if sizes.get(ContributionChannel.PAPER):
        columns[ContributionChannel.PAPER.value] = ContributionChannel.PAPER.label
    return columns


@dataclass(frozen=True)
class IdeaTally:
    idea: Idea
    dots: int
    by_group: dict[str, int]  # dots (and paper votes) per sector group
    supporters: dict[str, int]  # people per sector group who put a dot on it or voted for it on paper
    by_channel: dict[str, int]  # dots per channel column (`pool_channels`)
    consensus: float


@dataclass(frozen=True)
class Tallies:
    groups: list[str]  # sector groups, "Other sectors" last
    group_sizes: dict[str, int]
    channels: list[str]  # channel columns, pooled as `pool_channels` says
    channel_sizes: dict[str, int]
    ideas: list[IdeaTally]  # most dots first

    @property
    def by_consensus(self) -> list[IdeaTally]:
        return sorted(self.ideas, key=lambda t: (-t.consensus, -t.dots, t.idea.id))


NOT_SAID = "Sector not given"


def tallies(session: Session, workshop: Workshop) -> Tallies:
    """Dots per idea by sector group and by channel, supporters and the consensus score;
    hidden ideas are left out."""
    ideas = visible_ideas(session, workshop)
    participants = list(session.scalars(select(Participant).where(Participant.workshop_id == workshop.id)))
    sector_of = {p.id: p.sector.name if p.sector else NOT_SAID for p in participants}
    channel_of = {p.id: p.channel for p in participants}
    paper_people, paper_votes = paper_counts(session, workshop)
    sector_names = dict(session.execute(select(Sector.id, Sector.name)).all())
    sizes: dict[str, int] = defaultdict(int)
    for name in sector_of.values():
        sizes[name] += 1
    for sector_id, n in paper_people.items():
        sizes[sector_names[sector_id]] += n
    sizes = {name: n for name, n in sizes.items() if n}
    group_of = pool_sectors(sizes, always=frozenset({NOT_SAID}))  # no sector to name: with the others
    group_sizes: dict[str, int] = defaultdict(int)
    for name, n in sizes.items():
        group_sizes[group_of[name]] += n
    channel_people = {channel: sum(1 for p in participants if p.channel == channel.value)
                      for channel in ContributionChannel}
    channel_people[ContributionChannel.PAPER] = sum(paper_people.values())
    column_of = pool_channels(channel_people)
    channel_sizes: dict[str, int] = defaultdict(int)
    for channel, n in channel_people.items():
        if channel.value in column_of:
            channel_sizes[column_of[channel.value]] += n
    votes = session.execute(select(Vote.participant_id, Vote.idea_id, Vote.dots).join(Idea)
                            .where(Idea.workshop_id == workshop.id, Idea.hidden.is_(False))).all()
    dots_by: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    supporters_by: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    channel_by: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for participant_id, idea_id, n in votes:
        group = group_of[sector_of[participant_id]]
        dots_by[idea_id][group] += n
        supporters_by[idea_id][group] += 1
        channel_by[idea_id][column_of[channel_of[participant_id]]] += n
    for (idea_id, sector_id), n in paper_votes.items():
        group = group_of[sector_names[sector_id]]
        dots_by[idea_id][group] += n
        # A show of hands counts people; a paper sheet may carry several dots from one
        # person, so paper supporters are capped at the people voting on paper.
        supporters_by[idea_id][group] += min(n, paper_people.get(sector_id, 0))
        channel_by[idea_id][column_of[ContributionChannel.PAPER.value]] += n
    groups = sorted((g for g in group_sizes if g != OTHER_SECTORS)) + (
        [OTHER_SECTORS] if OTHER_SECTORS in group_sizes else [])
    rows = []
    for idea in ideas:
        supporters = {g: min(supporters_by[idea.id][g], group_sizes[g]) for g in groups}
        rows.append(IdeaTally(
            idea=idea, dots=sum(dots_by[idea.id].values()), by_group={g: dots_by[idea.id][g] for g in groups},
            supporters=supporters, by_channel={c: channel_by[idea.id][c] for c in channel_sizes},
            consensus=consensus_score([(supporters[g], group_sizes[g]) for g in groups]),
        ))
    rows.sort(key=lambda t: (-t.dots, t.idea.id))
    return Tallies(groups, dict(group_sizes), list(channel_sizes), dict(channel_sizes), rows)


# --- actions -----------------------------------------------------------------------------


def organisations_of(session: Session, place_id: int) -> list[Organisation]:
    return list(session.scalars(select(Organisation).where(Organisation.place_id == place_id)
                                .order_by(Organisation.name)))


def add_action(session: Session, workshop: Workshop, title: str, organisation_id: int, owner_name: str,
               owner_email: str | None, due_on: date, construct_id: int, cluster_id: int | None) -> Action:
    if session.scalar(select(Organisation.id).where(Organisation.id == organisation_id,
                                                    Organisation.place_id == workshop.place_id)) is None:
        raise ServiceError("organisation", "Select the organisation that owns the action")
    if session.get(Construct, construct_id) is None:
        raise ServiceError("construct", "Select what the action aims to move")
    if cluster_id is not None:
        _cluster(session, workshop, cluster_id)
    action = Action(workshop_id=workshop.id, title=title, organisation_id=organisation_id, owner_name=owner_name,
                    owner_email=owner_email or None, due_on=due_on, construct_id=construct_id,
                    cluster_id=cluster_id, wave_id=workshop.current_wave_id, link_nonce=secrets.token_hex(16))
    session.add(action)
    _changed(session, workshop)
    return action


def actions_of(session: Session, workshop: Workshop) -> list[Action]:
    return list(session.scalars(select(Action).where(Action.workshop_id == workshop.id).order_by(Action.id)))


def open_actions_for_place(session: Session, place_id: int, before: Workshop | None = None) -> list[Action]:
    """Actions not yet done or dropped from the place's workshops (earlier than `before`)."""
    query = (select(Action).join(Workshop).where(Workshop.place_id == place_id,
                                                 Action.status.in_([s.value for s in ActionStatus if s.is_open]))
             .order_by(Action.due_on, Action.id))
    if before is not None:
        query = query.where(Workshop.id != before.id, Workshop.held_on <= before.held_on)
    return list(session.scalars(query))


def register(session: Session, user: User) -> list[Action]:
    """Every action of the user's places' workshops, soonest due first."""
    query = select(Action).join(Workshop).order_by(Action.due_on, Action.id)
    if user.role_enum.is_place_scoped:
        query = query.where(Workshop.place_id.in_([p.id for p in user.places]))
    return list(session.scalars(query))


def update_action(session: Session, action: Action, status: ActionStatus, note: str, by: str) -> ActionUpdate:
    action.status = status.value
    update_row = ActionUpdate(action_id=action.id, status=status.value, note=note.strip(), by=by)
    session.add(update_row)
    session.flush()
    return update_row


def action_token(secret: str, action: Action) -> str:
    """The owner's update link's token: derived, so the database holds no link."""
    message = f"workshop-action:{action.id}:{action.link_nonce}".encode()
    return f"{action.id}-{hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]}"


def action_by_token(session: Session, secret: str, token: str) -> Action | None:
    action_id, _, _ = token.partition("-")
    if not action_id.isdigit():
        return None
    action = session.get(Action, int(action_id))
    if action is None or not hmac.compare_digest(action_token(secret, action), token):
        return None
    return action


def queue_overdue_reminders(session: Session, today: date, link_for) -> int:
    """Queue one reminder through the outbox for each open action past its due date
    whose owner gave an email and has not been reminded; `link_for(action)` is the
    owner's update link. Returns how many were queued."""
    overdue = session.scalars(select(Action).where(
        Action.due_on < today, Action.owner_email.is_not(None), Action.reminded_at.is_(None),
        Action.status.in_([s.value for s in ActionStatus if s.is_open])).order_by(Action.id)
        # Locked, so two workers passing at once remind each owner once.
        .with_for_update(skip_locked=True, of=Action)).all()
    for action in overdue:
        outbox.queue(
            session, action.owner_email, f"Overdue: {action.title}",
            f"Dear {action.owner_name},\n\n"
            f"The action \"{action.title}\", agreed at the workshop \"{action.workshop.title}\" "
            f"for {action.workshop.place.name}, was due on {action.due_on.strftime('%-d %B %Y')}.\n\n"
            f"Say how it is going (no account needed):\n{link_for(action)}\n",
            kind="action-reminder",
        )
        action.reminded_at = utcnow()
    return len(overdue)


@dataclass(frozen=True)
class Summary:
    top_ideas: list[IdeaTally]
    actions: list[Action]


def summary(session: Session, workshop: Workshop) -> Summary:
    return Summary(tallies(session, workshop).ideas[:TOP_IDEAS], actions_of(session, workshop))


# --- export ------------------------------------------------------------------------------


def export_rows(session: Session, workshop: Workshop) -> tuple[list[str], list[list]]:
    """One table of everything the workshop made: ideas with their group, dots by sector
    group and by channel and consensus, then the actions. Hidden ideas are left out."""
    counted = tallies(session, workshop)
    clusters = {c.id: c for c in clusters_of(session, workshop)}
    columns = ["record", "id", "text", "group", "impact", "effort", "channel", "dots", "consensus",
               *[f"dots: {g}" for g in counted.groups], *[f"dots: {c}" for c in counted.channels],
               "owner organisation", "owner", "due", "construct", "status"]
    rows = []
    for tally in sorted(counted.ideas, key=lambda t: t.idea.id):
        cluster = clusters.get(tally.idea.cluster_id)
        rows.append(["idea", tally.idea.id, tally.idea.text, cluster.name if cluster else "",
                     cluster.impact if cluster else "", cluster.effort if cluster else "", tally.idea.channel,
                     tally.dots, f"{tally.consensus:.4f}", *[tally.by_group[g] for g in counted.groups],
                     *[tally.by_channel[c] for c in counted.channels], "", "", "", "", ""])
    for action in actions_of(session, workshop):
        cluster = clusters.get(action.cluster_id)
        rows.append(["action", action.id, action.title, cluster.name if cluster else "", "", "", "", "", "",
                     *[""] * (len(counted.groups) + len(counted.channels)), action.organisation.name,
                     action.owner_name, action.due_on.isoformat(), action.construct.name,
                     action.status_enum.label])
    return columns, rows


# --- for the briefing ("you said, we did") -----------------------------------------------


def actions_for_places(session: Session, place_ids: list[int]) -> list[Action]:
    """Every action of these places' workshops, by construct, then soonest due."""
    return list(session.scalars(select(Action).join(Workshop).join(Construct, Action.construct_id == Construct.id)
                                .where(Workshop.place_id.in_(place_ids))
                                .order_by(Construct.position, Action.due_on, Action.id)))


def actions_version(session: Session, place_ids: list[int]) -> list[tuple]:
    """What a briefing's actions section is built from, for its version digest."""
    return [(a.id, a.title, a.status, a.due_on.isoformat(), a.organisation_id, a.construct_id, a.wave_id)
            for a in actions_for_places(session, place_ids)]
