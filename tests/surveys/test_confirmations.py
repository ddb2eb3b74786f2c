"""Open wave, Close wave, Erase who was invited and Remove question each show a page
saying exactly what will happen (GET, which changes nothing); its button does it (POST)."""

import pytest
from bs4 import BeautifulSoup

from core.models import Role
from surveys import respondent, service
from surveys import invitations
from surveys.models import Draft, WaveRole, WaveStatus
from tests.conftest import count
from tests.surveys.test_service import complete_answers


@pytest.fixture
def coordinator(make_user, make_place, login):
    user = make_user(Role.COORDINATOR, places=[make_place()])
    login(user)
    return user


def page(response) -> BeautifulSoup:
    assert response.status_code == 200
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def said(response) -> str:
    return " ".join(page(response).select_one("#what-happens").get_text().split())


def test_open_says_the_questions_freeze(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places).waves[0]
    items = len(wave.instrument.items)
    confirmation = client.get(f"/waves/{wave.id}/open")
    assert page(confirmation).h1.get_text() == "Open Wave 1?"
    assert said(confirmation).startswith(
        f"Opening Wave 1 freezes its {items} questions (version 1): after that they cannot be changed")
    form = page(confirmation).select_one("main form[method=post]")
    assert form.select_one("button").get_text() == "Open Wave 1" and form.get("action") is None  # posts to itself
    db_session.refresh(wave)
    assert wave.status == WaveStatus.DRAFT  # a GET changes nothing
    assert client.post(f"/waves/{wave.id}/open").status_code == 302
    db_session.refresh(wave)
    assert wave.status == WaveStatus.OPEN
    # Asked again once it is open: back to the wave, saying why.
    response = client.get(f"/waves/{wave.id}/open", follow_redirects=True)
    assert "Only a draft wave can be opened" in response.get_data(as_text=True)


def test_close_says_how_many_answered_and_who_is_part_way(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    for n in range(3):
        respondent.submit_response(db_session, wave, service.Respondent(2, wave.survey.places[0].id),
                                   complete_answers(wave), f"close-{n}")
    respondent.start_open_draft(db_session, wave, 2, wave.survey.places[0].id)
    assert count(db_session, Draft) == 1
    confirmation = client.get(f"/waves/{wave.id}/close")
    text = said(confirmation)
    assert text.startswith("Wave 1 has 3 responses. Closing it stops every invitation link and the open link: nobody else can start")
    assert "1 person has started answering and not sent their answers yet. They have 60 minutes after closing to send them." in text
    assert "A closed wave cannot be opened again." in text
    db_session.refresh(wave)
    assert wave.status == WaveStatus.OPEN
    client.post(f"/waves/{wave.id}/close")
    db_session.refresh(wave)
    assert wave.status == WaveStatus.CLOSED


def test_erase_says_how_many_addresses_go_and_what_stays(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    assert "Close the wave before erasing" in client.get(
        f"/waves/{wave.id}/erase-identities", follow_redirects=True).get_data(as_text=True)
    parsed = invitations.parse_invitees(db_session, wave.survey.places, "a@example.org,,Funder\nb@example.org,,Faith")
    invitations.create_invitations(db_session, wave, parsed.invitees, "secret", "link-secret")
    service.close_wave(db_session, wave, actor=None)
    text = said(client.get(f"/waves/{wave.id}/erase-identities"))
    assert text.startswith("This deletes the 2 email addresses of the people invited to Wave 1, in every place")
    assert "every response are kept, so the wave’s counts and results do not change" in text
    assert invitations.invited_emails(db_session, wave) == {"a@example.org", "b@example.org"}
    client.post(f"/waves/{wave.id}/erase-identities")
    assert invitations.invited_emails(db_session, wave) == set()
    assert "was erased on" in client.get(f"/waves/{wave.id}/erase-identities", follow_redirects=True).get_data(
        as_text=True)


def test_remove_question_names_it_and_its_trend(client, db_session, make_survey, coordinator):
    survey = make_survey(places=coordinator.places, open_first_wave=True)
    service.close_wave(db_session, survey.waves[0], actor=None)
    second = service.clone_wave(db_session, survey, "Wave 2", WaveRole.FOLLOW_UP)
    item = second.instrument.items[0]
    code = item.code
    confirmation = client.get(f"/waves/{second.id}/questions/{item.id}/delete")
    assert page(confirmation).h1.get_text() == f"Remove question {item.code}?"
    text = said(confirmation)
    assert text.startswith(f"This removes ‘{item.text}’ ({item.code}, in section {item.section}) from the questions")
    assert "It was in the last wave, so its trend stops here" in text
    db_session.refresh(second.instrument)
    assert item in second.instrument.items
    client.post(f"/waves/{second.id}/questions/{item.id}/delete")
    db_session.refresh(second.instrument)
    assert code not in [other.code for other in second.instrument.items]
    # The first wave's questions are frozen: no removing them, and no page offering to.
    first = survey.waves[0]
    response = client.get(f"/waves/{first.id}/questions/{first.instrument.items[0].id}/delete", follow_redirects=True)
    assert "The questions of an opened wave cannot change" in response.get_data(as_text=True)


def test_the_wave_page_links_to_the_confirmations(client, make_survey, coordinator):
    wave = make_survey(places=coordinator.places).waves[0]
    links = {a.get_text(strip=True): a["href"] for a in page(client.get(f"/waves/{wave.id}")).select("main a")}
    assert links["Open Wave 1"] == f"/waves/{wave.id}/open"
    item = wave.instrument.items[0]
    assert links[f"Remove{item.code}"] == f"/waves/{wave.id}/questions/{item.id}/delete"
