"""Submissions sent at the same moment, through the whole stack, on a real database."""

import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from benchmarks.journeys import walk_together
from core.db import utcnow
from core.demo import load_demo_data
from core.outbox import OutboxMessage
from surveys import respondent as journey, service
from surveys import invitations, schedule
from surveys.models import AnonymityMode, Invitation, Response, Wave
from tests.conftest import base_test_config
from tests.surveys.test_service import complete_answers

# Concurrency is where the databases differ most (SQLite's writer queue, PostgreSQL's row
# locks): every test here runs on both.
pytestmark = pytest.mark.both_backends

# Two journeys each: the second ones start while others are on every kind of page. The
# code before the fix stalled in 14 runs of 14 at this size, within 35-60 s (in about three
# runs of four with one journey each).
RESPONDENTS = 16
JOURNEYS = 32
REQUEST_TIMEOUT_S = 15
WALK_LIMIT_S = 90


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


class QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, *args) -> None:
        pass


def serve(config: dict, port_sender) -> None:
    """The child process: the app on werkzeug's threaded server, as `flask run` serves it."""
    server = make_server("127.0.0.1", 0, create_app(config), threaded=True, request_handler=QuietRequestHandler)
    port_sender.send(server.port)
    server.serve_forever()


@contextmanager
def threaded_server(config: dict) -> Iterator[int]:
    """A real threaded server in a forked child (no app import to wait for). A child, not
    a thread: threads that deadlock there, and the locks they hold, end with it rather
    than stalling every later test of the run."""
    context = multiprocessing.get_context("fork")
    port_receiver, port_sender = context.Pipe(duplex=False)
    child = context.Process(target=serve, args=(config, port_sender), daemon=True)
    child.start()
    try:
        assert port_receiver.poll(60), "the server did not start"
        yield port_receiver.recv()
    finally:
        child.kill()
        child.join(10)
        port_receiver.close()


def test_respondents_walking_whole_journeys_at_once_all_send_their_answers(committing_app):
    """Issue 28: respondents each walk the whole journey (start, every page's GET and POST
    with CSRF tokens, check, send, confirmation) at the same moment, through a threaded
    server. It stalled on SQLite: a first page POST waited for the writer queue inside the
    class-wide lock of a cached property of the journey, which another request holding
    the queue waited for. Every request has a timeout, so a stall fails the test."""
    app = committing_app
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        session.commit()
        survey = service.create_survey(session, "Journeys", "Board", "", "coordination-and-trust", [1],
                                       AnonymityMode.ANONYMOUS)
        wave = survey.waves[0]
        service.open_wave(session, wave, actor=None)
        emails = "\n".join(f"p{n}@example.org,,Funder" for n in range(JOURNEYS))
        links = invitations.create_invitations(
            session, wave, invitations.parse_invitees(session, survey.places, emails).invitees, "s", "link-secret")
        session.commit()
        tokens, wave_id = [link.token for link in links], wave.id
    # No connection crosses into the server's process.
    app.extensions["db_engine"].dispose()

    config = base_test_config(app.config["DATABASE_URL"], WTF_CSRF_ENABLED=True)
    with threaded_server(config) as port:
        walked = walk_together(port, tokens, RESPONDENTS, REQUEST_TIMEOUT_S, seconds=WALK_LIMIT_S)

    assert walked.failures == []
    assert sorted(walked.sent) == sorted(tokens)
    # Each journey answered every page it was shown, besides the start, check and confirmation.
    assert len(walked.latencies.gets) == len(walked.latencies.page_posts) + 3 * JOURNEYS
    assert len(walked.latencies.sends) == JOURNEYS
    with app.extensions["db_sessionmaker"]() as session:
        stored = session.scalar(select(func.count()).select_from(Response).where(Response.wave_id == wave_id))
        spent = session.scalar(select(func.count()).select_from(Invitation).where(
            Invitation.wave_id == wave_id, Invitation.used_at.is_not(None)))
    assert (stored, spent) == (JOURNEYS, JOURNEYS)
