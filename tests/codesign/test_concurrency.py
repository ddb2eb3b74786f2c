"""Fifty phones voting at the same moment through two app workers on one database: the
dot totals are exact and nobody places more dots than allowed."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import func, select

from app import create_app
from codesign import service
from codesign.models import Idea, Participant, Vote
from core.demo import load_demo_data
from core.models import Place, Sector
from tests.conftest import base_test_config

# Concurrency is where the databases differ most (SQLite's writer queue, PostgreSQL's row
# locks): every test here runs on both.
pytestmark = pytest.mark.both_backends

PHONES = 50
DOTS = 5


def test_fifty_participants_vote_at_once_on_two_workers(committing_app):
    first = committing_app
    second = create_app(base_test_config(first.config["DATABASE_URL"]))  # another worker, same database
    try:
        with first.extensions["db_sessionmaker"]() as session:
            load_demo_data(session)
            place = session.scalars(select(Place)).first()
            workshop = service.create_workshop(session, place, "Busy room", date(2027, 3, 27), [], DOTS, [], None, None)
            code = service.open_workshop(session, workshop)
            service.move_to(session, workshop, "ideas")
            ideas = [service.add_idea(session, workshop, None, f"Idea {n}", f"idea-{n}", paper=True) for n in range(3)]
            service.move_to(session, workshop, "vote")
            sector_id = session.scalars(select(Sector.id)).first()
            session.commit()
            a, b, c = (idea.id for idea in ideas)
            workshop_id = workshop.id

        phones = []
        for n in range(PHONES):
            client = (first if n % 2 else second).test_client()
            assert client.post(f"/w/{code}/join", data={"sector": sector_id, "channel": "in-room"}).status_code == 302
            phones.append(client)

        # Each phone sends its dots three times at once: twice a valid choice (a double
        # click) and once a different valid choice (moved dots); whichever lands last wins,
        # and each is at most DOTS. Plus one choice over the allowance, which must be refused.
        choices = [{a: 3, b: 2}, {a: 3, b: 2}, {a: 1, c: 4}, {a: 4, b: 4}]
        barrier = threading.Barrier(PHONES * len(choices))
        statuses = []

        def vote(job):
            client, choice = job
            barrier.wait()
            response = client.post(f"/w/{code}/dots", data={f"idea_{idea}": choice.get(idea, 0) for idea in (a, b, c)})
            statuses.append((sum(choice.values()), response.status_code))

        jobs = [(client, choice) for client in phones for choice in choices]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            list(pool.map(vote, jobs))

        assert sorted(set(statuses)) == [(5, 302), (8, 200)]  # every valid choice saved, every excess refused
        with first.extensions["db_sessionmaker"]() as session:
            here = Vote.idea_id.in_([a, b, c])  # the demo data has a workshop of its own
            per_person = session.execute(select(Vote.participant_id, func.sum(Vote.dots)).where(here)
                                         .group_by(Vote.participant_id)).all()
            assert len(per_person) == PHONES and all(total == DOTS for _, total in per_person)
            totals = dict(session.execute(select(Vote.idea_id, func.sum(Vote.dots)).where(here)
                                          .group_by(Vote.idea_id)).all())
            on_a = {pid: dots for pid, dots in session.execute(select(Vote.participant_id, Vote.dots).where(Vote.idea_id == a))}
            first_choice = sum(1 for dots in on_a.values() if dots == 3)
            assert totals[a] == 3 * first_choice + 1 * (PHONES - first_choice)
            assert totals.get(b, 0) == 2 * first_choice and totals.get(c, 0) == 4 * (PHONES - first_choice)
            assert session.scalar(select(func.count()).select_from(Participant)
                                  .where(Participant.workshop_id == workshop_id)) == PHONES
            assert session.scalar(select(func.count()).select_from(Idea).where(Idea.workshop_id == workshop_id)) == 3
    finally:
        second.extensions["db_engine"].dispose()
