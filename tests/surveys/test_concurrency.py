"""Submissions sent at the same moment, through the whole stack, on a real database."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from core.demo import load_demo_data
from surveys import respondent as journey, service
from surveys import invitations
from surveys.models import AnonymityMode, Invitation, Response
from tests.surveys.test_service import complete_answers


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
