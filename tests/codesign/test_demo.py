"""The demo data carries one finished workshop for the demo facilitator's place, loaded
after the demo surveys (as seed-demo loads it), its actions set against a wave."""

import pytest
from sqlalchemy import select

from codesign import service
from codesign.demo import DEMO_PLACE, load_demo_workshop
from codesign.models import Workshop
from core.demo import load_demo_data
from tests.conftest import demo_surveys


def demo_workshop(db_session) -> Workshop:
    return db_session.scalar(select(Workshop).join(Workshop.place).where(Workshop.place.has(name=DEMO_PLACE)))


@pytest.mark.dataset.with_args(demo_surveys)
def test_the_demo_has_a_finished_workshop_with_actions(db_session, demo):
    load_demo_workshop(db_session)
    workshop = demo_workshop(db_session)
    assert workshop.stage == "finished" and workshop.join_code
    counted = service.tallies(db_session, workshop)
    assert counted.ideas[0].idea.text == "One shared calendar of every partnership meeting"
    assert counted.ideas[0].dots == 18 and len(counted.groups) == 3
    actions = service.actions_of(db_session, workshop)
    assert [a.status for a in actions] == ["in_progress", "not_started"]
    assert actions[1].overdue(workshop.held_on + (actions[1].due_on - workshop.held_on) * 2)
    # Held between Wave 2 and Wave 3, against Wave 2 (the wave current at the workshop).
    assert (workshop.reference_wave.label, workshop.current_wave.label) == ("Wave 1", "Wave 2")
    assert workshop.current_wave.closes_at.date() < workshop.held_on
    assert [a.wave.label for a in actions] == ["Wave 2", "Wave 2"]


def test_without_demo_surveys_the_workshop_is_set_against_no_wave(db_session):
    load_demo_data(db_session)
    assert demo_workshop(db_session) is None  # the workshop waits for the surveys
    load_demo_workshop(db_session)
    workshop = demo_workshop(db_session)
    assert workshop.stage == "finished" and workshop.current_wave is None
    assert all(a.wave is None for a in service.actions_of(db_session, workshop))
