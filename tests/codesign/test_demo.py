"""The demo data carries one finished workshop for the demo facilitator's place."""

from sqlalchemy import select

from codesign import service
from codesign.demo import DEMO_PLACE
from codesign.models import Workshop
from core.demo import load_demo_data


def test_the_demo_has_a_finished_workshop_with_actions(db_session):
    load_demo_data(db_session)
    workshop = db_session.scalar(select(Workshop).join(Workshop.place).where(Workshop.place.has(name=DEMO_PLACE)))
    assert workshop.stage == "finished" and workshop.join_code
    counted = service.tallies(db_session, workshop)
    assert counted.ideas[0].idea.text == "One shared calendar of every partnership meeting"
    assert counted.ideas[0].dots == 18 and len(counted.groups) == 3
    actions = service.actions_of(db_session, workshop)
    assert [a.status for a in actions] == ["in_progress", "not_started"]
    assert actions[1].overdue(workshop.held_on + (actions[1].due_on - workshop.held_on) * 2)
