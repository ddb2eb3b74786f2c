"""Opening a page of the respondent journey by invitation link never writes: the draft is
made by the first POST, so link checkers and prefetching leave nothing behind."""

import re

import pytest
from bs4 import BeautifulSoup

from surveys import invitations
from surveys.models import Draft
from tests.conftest import count, statements_during

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@pytest.fixture
def token(db_session, make_survey) -> str:
    survey = make_survey(open_first_wave=True)
    parsed = invitations.parse_invitees(db_session, survey.places, "r@example.org,,Funder")
    [link] = invitations.create_invitations(db_session, survey.waves[0], parsed.invitees, "secret", "link-secret")
    return link.token


def writes_during(app, request):
    """The response to `request()` and the writing SQL statements run meanwhile."""
    response, statements = statements_during(app, request)
    return response, [statement for statement in statements if WRITES.match(statement)]


def checked(response) -> list[str]:
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    return [field["name"] for field in page.select("input[checked]")]


@pytest.mark.parametrize("index", [0, 1])
def test_a_get_of_any_page_writes_nothing_and_shows_empty_answers(app, client, db_session, token, index):
    before = count(db_session, Draft)
    response, writes = writes_during(app, lambda: client.get(f"/s/{token}/{index}"))
    assert response.status_code == 200
    assert f"Section {index + 1} of" in response.get_data(as_text=True)
    assert checked(response) == []
    assert writes == []
    assert count(db_session, Draft) == before


def test_the_first_post_makes_the_draft_and_later_gets_show_its_answers(app, client, db_session, token):
    before = count(db_session, Draft)
    client.get(f"/s/{token}/0")
    saved = client.post(f"/s/{token}/0", data={"cs_1": "4", "action": "save"})
    assert "have been saved" in saved.get_data(as_text=True)
    assert count(db_session, Draft) == before + 1
    response, writes = writes_during(app, lambda: app.test_client().get(f"/s/{token}/0"))
    assert checked(response) == ["cs_1"] and writes == []
    assert count(db_session, Draft) == before + 1



@pytest.mark.parametrize("page", ["", "/privacy", "/check"])
def test_the_start_privacy_and_check_pages_write_nothing(app, client, db_session, token, page):
    before = count(db_session, Draft)
    response, writes = writes_during(app, lambda: client.get(f"/s/{token}{page}"))
    assert response.status_code in (200, 302)
    assert writes == [] and count(db_session, Draft) == before
