"""Names people type that end up in headers: one-line fields refuse line breaks (a survey
name reaches invitation subjects, an action title reminder subjects, a wave's names a
download's file name), and a download named after them carries a safe ASCII file name
with the exact one beside it (RFC 6266), whatever the name holds."""

from __future__ import annotations

import re
from datetime import date

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from werkzeug.http import parse_options_header

from codesign import service as codesign_service
from core.models import Role
from surveys.models import Construct, Survey
from tests.conftest import sign_in

LINE_BREAKS = ["\r\n", "\n", "\r", "\u2028"]


def error_summary(response) -> list[str]:
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    return [item.get_text(strip=True) for item in page.select(".govuk-error-summary__list li")]


@pytest.mark.parametrize("line_break", LINE_BREAKS)
def test_a_survey_name_with_a_line_break_is_refused(client, db_session, make_place, make_user, line_break):
    place = make_place()
    sign_in(client, make_user(Role.COORDINATOR, places=[place]))
    name = f"Partnership survey{line_break}Bcc: everyone@example.org"
    response = client.post("/surveys/new", data={
        "name": name, "run_by": "The Board", "template": "coordination-and-trust", "places": [place.id],
        "anonymity": "anonymous"})
    assert response.status_code == 200
    assert error_summary(response) == ["Enter a name for the survey without line breaks"]
    assert db_session.scalar(select(Survey).where(Survey.name == name)) is None


def test_an_action_title_with_a_line_break_is_refused(client, db_session, make_organisation, make_user):
    organisation = make_organisation()
    construct = Construct(code="header_text_trust", name="Trust between organisations", group="threat")
    db_session.add(construct)
    workshop = codesign_service.create_workshop(db_session, organisation.place, "Spring workshop", date(2027, 3, 27),
                                                [], 5, [], None, None)
    sign_in(client, make_user(Role.FACILITATOR, places=[organisation.place]))
    response = client.post(f"/workshops/{workshop.id}/actions", data={
        "title": "Weekly call\r\nBcc: everyone@example.org", "organisation": organisation.id, "owner_name": "Sam",
        "due_on": ["1", "6", "2027"], "construct": construct.id})
    assert response.status_code == 200
    assert error_summary(response) == ["Enter what will be done without line breaks"]
    assert codesign_service.actions_of(db_session, workshop) == []


def test_line_breaks_are_still_kept_where_text_has_lines(client, db_session, make_user):
    sign_in(client, make_user(Role.ADMIN))
    response = client.post("/admin/places/new", data={"name": "Brackenford", "description": "One\r\nTwo"})
    assert response.status_code == 302


# --- file names --------------------------------------------------------------------------


@pytest.fixture
def open_link(client, db_session, make_survey, make_user):
    """Signs in a coordinator of a survey with an open wave; gives the QR download's path
    for a survey name."""
    survey = make_survey(open_first_wave=True)
    sign_in(client, make_user(Role.COORDINATOR, places=survey.places))

    def path(name: str) -> str:
        survey.name = name
        db_session.flush()
        return f"/waves/{survey.waves[0].id}/open-link.svg"

    return path


def file_names(response) -> dict[str, str]:
    kind, options = parse_options_header(response.headers["Content-Disposition"])
    assert kind == "attachment"
    return options


def test_a_quote_in_the_survey_name_keeps_the_file_name_whole(client, open_link):
    response = client.get(open_link('The "Trust" survey'))
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert file_names(response)["filename"] == 'The "Trust" survey Wave 1 open link.svg'


def test_a_name_beyond_ascii_has_an_ascii_fallback_and_the_exact_name(client, open_link):
    response = client.get(open_link("Enquête partenariat Ωmega"))
    raw = response.headers["Content-Disposition"]
    assert raw.isascii() and "filename*=UTF-8''" in raw
    assert re.search(r'filename="([^"]*)"', raw).group(1) == "Enquete partenariat mega Wave 1 open link.svg"
    # Werkzeug's parser, like a browser, takes the exact name from filename* where it is given.
    assert file_names(response)["filename"] == "Enquête partenariat Ωmega Wave 1 open link.svg"


@pytest.mark.parametrize("line_break", LINE_BREAKS)
def test_a_name_stored_with_a_line_break_still_downloads(client, open_link, line_break):
    response = client.get(open_link(f"Partnership{line_break}survey"))
    assert response.status_code == 200
    assert file_names(response)["filename"] == "Partnership survey Wave 1 open link.svg"


def test_a_download_is_not_stored_by_caches(client, open_link):
    assert client.get(open_link("Trust")).headers["Cache-Control"] == "no-store"
