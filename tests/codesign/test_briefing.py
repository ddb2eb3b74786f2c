"""The briefing's "You said, we did" and the register show each action beside what its
construct did afterwards, at the public threshold."""

from datetime import date

from bs4 import BeautifulSoup

from codesign import service
from core.models import Role
from surveys.models import Construct
from tests.conftest import sign_in


def test_actions_appear_by_construct_with_the_later_result(app, client, db_session, place, make_user,
                                                          make_organisation, make_answered_survey):
    survey = make_answered_survey(places=[place], per_sector=12, sector_count=3, wave_count=3)
    first, second, third = survey.waves
    workshop = service.create_workshop(db_session, place, "Between waves", date(2027, 1, 1), [], 5, [],
                                       (survey.id, first.id, second.id), None)
    trust = db_session.query(Construct).filter_by(code="trust").one()
    service.add_action(db_session, workshop, "Open every board meeting", make_organisation(place=place).id,
                       "Sam Private", None, date(2027, 6, 1), trust.id, None)
    db_session.flush()
    sign_in(client, make_user(Role.ADMIN))
    page = BeautifulSoup(client.get(f"/briefings/surveys/{survey.id}", query_string={"place": place.id}).data,
                         "html.parser")
    section = page.find(id="actions").parent.get_text(" ", strip=True)
    assert "Trust" in section and "Open every board meeting" in section
    # What the construct did between the workshop's wave and the next, in plain words.
    assert f"Since then, can't tell yet ({second.label} to {third.label})" in section
    assert "Sam Private" not in section  # the owner's name is not published
    register = BeautifulSoup(client.get("/actions").data, "html.parser").get_text(" ", strip=True)
    assert "Open every board meeting" in register and "No later wave yet" not in register


def test_the_later_result_is_worded_as_what_followed():
    from briefings.service import Tile
    from codesign.results import LaterResult

    assert LaterResult(None, None, None).words == "No later wave yet"
    holding = LaterResult(Tile.of("Trust", "holding"), "Wave 2", "Wave 3")
    assert holding.words == "Since then, holding (Wave 2 to Wave 3)"
    withheld = LaterResult(Tile.of("Trust", "too_few", "fewer than 10 responses"), "Wave 2", "Wave 3")
    assert withheld.words == "Wave 3: fewer than 10 responses"
