"""A finished demo workshop for Wexcombe Borough (the demo facilitator's place): its ideas,
groups, dots and the actions it agreed, one overdue. Every name is invented.

Loaded after the demo surveys (seed-demo: core.demo, then surveys.demo, then this): the
workshop is held a few weeks after the place's second-to-last wave closed, against that
wave and the one before it, so its actions are set against the wave current at the
workshop and the register shows what each construct did by the later wave. Loaded with
no survey for the place, it is held 60 days ago against no wave ("No later wave yet")."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from codesign import service
from codesign.models import ActionStatus, ContributionChannel
from core.models import Organisation, Place, Sector
from surveys.instruments import ensure_builtin_instruments
from surveys.models import Construct, Survey, Wave, WaveStatus, survey_places

DEMO_PLACE = "Wexcombe Borough"
# (idea, group, dots from each of the nine participants' sectors in turn)
IDEAS = [
    ("One shared calendar of every partnership meeting", "Knowing what is on", 2),
    ("A monthly open meeting any organisation can come to", "Knowing what is on", 1),
    ("Swap staff between organisations for a week a year", "Knowing each other", 1),
    ("Share the referral data we already collect, with consent", "Sharing data", 1),
]
SECTORS = ["Local authority", "Voluntary and community", "Health and care"]
WEEKS_AFTER_WAVE = 4


def _waves_at_workshop(session: Session, place: Place) -> tuple[Survey, Wave, Wave] | None:
    """The place's survey with at least three closed waves: its second-to-last closed wave
    (current at the workshop) and the one before it (the reference), so a later wave exists."""
    for survey in session.scalars(select(Survey).join(survey_places).where(survey_places.c.place_id == place.id)
                                  .order_by(Survey.id)):
        closed = [w for w in sorted(survey.waves, key=lambda w: w.number)
                  if w.status == WaveStatus.CLOSED and w.closes_at is not None]
        if len(closed) >= 3:
            return survey, closed[-3], closed[-2]
    return None


def load_demo_workshop(session: Session) -> None:
    place = session.scalar(select(Place).where(Place.name == DEMO_PLACE))
    sectors = [session.scalar(select(Sector).where(Sector.name == name)) for name in SECTORS]
    if place is None or None in sectors:
        return  # an admin renamed the demo place or a sector: nothing to attach it to
    ensure_builtin_instruments(session)  # the constructs, before any survey is made
    session.flush()
    constructs = {c.code: c for c in session.scalars(select(Construct))}
    today = date.today()
    waves = _waves_at_workshop(session, place)
    if waves is None:
        held_on, comparison = today - timedelta(days=60), None
    else:
        survey, reference, current = waves
        held_on = current.closes_at.date() + timedelta(weeks=WEEKS_AFTER_WAVE)
        comparison = (survey.id, reference.id, current.id)
    workshop = service.create_workshop(
        session, place, "Keeping the momentum going", held_on,
        [c for code, c in constructs.items() if code in ("momentum", "data_sharing")], 5,
        ["How might we keep meeting now the emergency is over?", "How might we share data safely?"], comparison, None)
    service.open_workshop(session, workshop)
    people = [service.join(session, workshop, "", sectors[n % 3].id,
                           ContributionChannel.IN_ROOM if n < 7 else ContributionChannel.REMOTE) for n in range(9)]
    service.move_to(session, workshop, "ideas")
    groups: dict[str, int] = {}
    ideas = []
    for number, (text, group, _) in enumerate(IDEAS):
        idea = service.add_idea(session, workshop, people[number], text, f"demo-workshop-idea-{number}")
        if group not in groups:
            groups[group] = service.add_cluster(session, workshop, group).id
            session.flush()
        ideas.append((idea, groups[group]))
    service.assign_ideas(session, workshop, {idea.id: group for idea, group in ideas})
    service.move_to(session, workshop, "vote")
    for person in people:
        service.set_dots(session, workshop, person, {idea.id: dots for (idea, _), (_, _, dots) in zip(ideas, IDEAS)})
    service.move_to(session, workshop, "prioritise")
    service.set_priorities(session, workshop, {groups["Knowing what is on"]: (5, 2), groups["Knowing each other"]: (4, 4),
                                               groups["Sharing data"]: (5, 5)})
    organisations = {o.name: o for o in session.scalars(select(Organisation).where(Organisation.place_id == place.id))}
    service.move_to(session, workshop, "actions")
    calendar = service.add_action(
        session, workshop, "Publish one calendar of partnership meetings", organisations["Wexcombe Together"].id,
        "Priya Shah", None, today + timedelta(days=30), constructs["momentum"].id, groups["Knowing what is on"])
    sharing = service.add_action(
        session, workshop, "Agree a data-sharing template for referrals", organisations["Wexcombe Council"].id,
        "Tom Ellis", None, today - timedelta(days=7), constructs["data_sharing"].id, groups["Sharing data"])
    session.flush()
    service.update_action(session, calendar, ActionStatus.IN_PROGRESS, "First version shared with the board.",
                          "Priya Shah (owner)")
    service.update_action(session, sharing, ActionStatus.NOT_STARTED, "Waiting for legal advice.", "Tom Ellis (owner)")
    service.move_to(session, workshop, "finished")
