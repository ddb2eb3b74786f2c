"""Submissions sent at the same moment, through the whole stack, on a real database."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.db import utcnow
from core.demo import load_demo_data
from core.outbox import OutboxMessage
from surveys import respondent as journey, service
from surveys import invitations, schedule
from surveys.models import AnonymityMode, Invitation, Response, Wave
from tests.surveys.test_service import complete_answers

# Concurrency is where the databases differ most (SQLite's writer queue, PostgreSQL's row
# locks): every test here runs on both.
pytestmark = pytest.mark.both_backends


def test_double_clicks_and_parallel_submissions_store_one_response_each(committing_app):
    app = committing_app
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        session.commit()
        survey = service.create_survey(session, "Concurrency", "Board", "", "coordination-and-trust", [1], AnonymityMode.ANONYMOUS)
        wave = survey.waves[0]
        service.open_wave(session, wave, actor=None)
        emails = "\n".join(f"p{n}@example.org,,Funder" for n in range(12))
        links = invitations.create_invitations(session, wave, invitations.parse_invitees(session, survey.places, emails).invitees, "s", "link-secret")
        answers = complete_answers(wave)
        for link in links:
            draft = journey.draft_for_invitation(session, link.invitation)
            journey.save_draft(session, draft, answers, 0)
        tokens, wave_id = [link.token for link in links], wave.id

    barrier = threading.Barrier(len(tokens) * 3)
    outcomes = []

    def submit(token: str) -> None:
        client = app.test_client()
        barrier.wait()  # every click lands together: three per respondent
        outcomes.append(client.post(f"/s/{token}/check").location)

    with ThreadPoolExecutor(max_workers=len(tokens) * 3) as pool:
        list(pool.map(submit, tokens * 3))

    assert all(location.endswith("/done") for location in outcomes), [o for o in outcomes if not o.endswith("/done")]
    with app.extensions["db_sessionmaker"]() as session:
        stored = session.scalar(select(func.count()).select_from(Response).where(Response.wave_id == wave_id))
        spent = session.scalar(select(func.count()).select_from(Invitation).where(Invitation.used_at.is_not(None)))
    assert (stored, spent) == (len(tokens), len(tokens))



def test_two_workers_at_once_remind_each_person_once_and_open_a_wave_once(committing_app):
    """The timetable run by two workers at the same moment (a second host, or a coordinator
    pressing Send reminders as the worker passes): one reminder each, one opening."""
    app = committing_app
    later = utcnow() + timedelta(days=8)
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        session.commit()
        survey = service.create_survey(session, "Reminders", "Board", "", "coordination-and-trust", [1],
                                       AnonymityMode.ANONYMOUS)
        wave = survey.waves[0]
        service.open_wave(session, wave, actor=None)
        wave.reminders_automatic = True
        emails = "\n".join(f"p{n}@example.org,,Funder" for n in range(30))
        invitations.create_invitations(session, wave, invitations.parse_invitees(session, survey.places, emails).invitees,
                                       "s", "link-secret")
        due_to_open = service.create_survey(session, "Opening", "Board", "", "coordination-and-trust", [1],
                                            AnonymityMode.ANONYMOUS).waves[0]
        due_to_open.opens_at = later - timedelta(days=1)
        session.commit()
        wave_id, due_id = wave.id, due_to_open.id

    barrier = threading.Barrier(2)

    def pass_of_the_timetable(_):
        with app.extensions["db_sessionmaker"]() as session:
            barrier.wait()
            return schedule.run_due(session, "link-secret", "http://h/s/{}".format, "http://h/s/{}/stop".format,
                                    now=later)

    with ThreadPoolExecutor(max_workers=2) as pool:
        passes = list(pool.map(pass_of_the_timetable, range(2)))

    assert sum(p.reminded for p in passes) == 30 and sum(p.opened for p in passes) == 1
    with app.extensions["db_sessionmaker"]() as session:
        reminded = session.scalars(select(OutboxMessage.invitation_id).where(
            OutboxMessage.wave_id == wave_id, OutboxMessage.kind == "reminder")).all()
        assert len(reminded) == len(set(reminded)) == 30
        assert set(session.scalars(select(Invitation.reminders_sent).where(Invitation.wave_id == wave_id))) == {1}
        assert session.get(Wave, due_id).status == "open"
