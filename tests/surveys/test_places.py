"""Coordinators work within their own places (issue 9): a survey over Brackenford and
Wexcombe, a coordinator of Brackenford and Eastholme (covering only part of it), a
coordinator of both its places, an evaluator and an admin."""

import io

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from analysis.disclosure import disclose
from core.models import Role
from surveys import dashboard, respondent as journey, service
from surveys.models import Invitation, InviteeIdentity, Response, Wave
from tests.conftest import count, sign_in
from tests.surveys.test_service import complete_answers


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


@pytest.fixture
def places(make_place):
    return {name: make_place(name) for name in ("Brackenford", "Eastholme", "Wexcombe")}


@pytest.fixture
def users(make_user, places):
    return {
        "partial": make_user(Role.COORDINATOR, places=[places["Brackenford"], places["Eastholme"]]),
        "covering": make_user(Role.COORDINATOR, places=[places["Brackenford"], places["Wexcombe"]]),
        "elsewhere": make_user(Role.COORDINATOR, places=[places["Eastholme"]]),
        "evaluator": make_user(Role.EVALUATOR),
        "admin": make_user(Role.ADMIN),
    }


@pytest.fixture
def survey(make_survey, places):
    return make_survey(places=[places["Brackenford"], places["Wexcombe"]], open_first_wave=True)


@pytest.fixture
def clients(app, db_session, users):
    """A signed-in client for each user."""
    signed_in = {}
    for name, user in users.items():
        signed_in[name] = app.test_client()
        assert sign_in(signed_in[name], user).status_code == 302
    return signed_in


def test_who_may_do_what(survey, users, places):
    brackenford, wexcombe = places["Brackenford"], places["Wexcombe"]
    expected = {  # places whose figures they see, all places together, run the survey
        "partial": ([brackenford], False, False),
        "covering": ([brackenford, wexcombe], True, True),
        "elsewhere": ([], False, False),
        "evaluator": ([brackenford, wexcombe], True, False),
        "admin": ([brackenford, wexcombe], True, True),
    }
    for name, (seen, all_places, runs) in expected.items():
        user = users[name]
        assert service.places_for(user, survey) == seen, name
        assert service.can_see_survey(user, survey) is bool(seen), name
        assert service.may_see_all_places(user, survey) is all_places, name
        assert service.may_run_survey(user, survey) is runs, name


def test_a_coordinator_of_some_places_cannot_run_the_survey(db_session, survey, clients):
    partial, covering = clients["partial"], clients["covering"]
    wave = survey.waves[0]
    page = soup(partial.get(f"/surveys/{survey.id}"))
    assert page.find("a", string="Settings and margins") is None
    assert "You can invite people and see figures for Brackenford." in page.select_one("#your-places").get_text(" ", strip=True)
    assert soup(covering.get(f"/surveys/{survey.id}")).find("a", string="Settings and margins") is not None

    margin = survey.margins[0]
    before = margin.margin
    assert partial.get(f"/surveys/{survey.id}/settings").status_code == 403
    assert partial.post(f"/surveys/{survey.id}/settings", data={margin_field(margin): "0.9"}).status_code == 403
    db_session.refresh(margin)
    assert margin.margin == before

    wave_page = soup(partial.get(f"/waves/{wave.id}"))
    assert wave_page.find("button", string=f"Close {wave.label}") is None
    assert wave_page.find("a", string="Invite people") is not None  # for their own place
    assert partial.post(f"/waves/{wave.id}/close").status_code == 403
    db_session.refresh(wave)
    assert wave.status == "open"

    invited = partial.post(f"/waves/{wave.id}/invitations", data={"invitees": "b@example.org,,Funder"})
    assert invited.status_code == 200 and len(soup(invited).select("input[id^=link-]")) == 1
    assert covering.post(f"/waves/{wave.id}/close").status_code == 302
    db_session.refresh(wave)
    assert wave.status == "closed"
    assert partial.post(f"/waves/{wave.id}/erase-identities").status_code == 403
    assert identities(db_session, wave) == 1
    assert covering.post(f"/waves/{wave.id}/erase-identities").status_code == 302
    assert identities(db_session, wave) == 0

    assert partial.get(f"/surveys/{survey.id}/waves/new").status_code == 403
    assert partial.post(f"/surveys/{survey.id}/waves/new", data={"label": "Wave 2", "role": "follow-up"}).status_code == 403
    assert covering.post(f"/surveys/{survey.id}/waves/new", data={"label": "Wave 2", "role": "follow-up"}).status_code == 302
    draft = db_session.scalar(select(Wave).where(Wave.survey_id == survey.id, Wave.number == 2))
    item = draft.instrument.items[0]
    assert partial.get(f"/waves/{draft.id}/questions/new").status_code == 403
    assert partial.post(f"/waves/{draft.id}/questions/{item.id}/delete").status_code == 403
    assert partial.post(f"/waves/{draft.id}/questions/{item.id}/move/down").status_code == 403
    assert partial.post(f"/waves/{draft.id}/open").status_code == 403
    assert soup(partial.get(f"/waves/{draft.id}")).find("button", string=f"Open {draft.label}") is None
    db_session.refresh(draft)
    assert draft.status == "draft" and item in draft.instrument.items


def margin_field(margin) -> str:
    from surveys.forms import margin_field_name

    return margin_field_name(margin.construct_id)


def identities(db_session, wave) -> int:
    return db_session.scalar(select(func.count()).select_from(InviteeIdentity).where(InviteeIdentity.wave_id == wave.id))


def test_a_coordinator_of_some_places_invites_only_to_them(db_session, survey, clients, places, make_organisation):
    partial, covering = clients["partial"], clients["covering"]
    wave = survey.waves[0]
    in_wexcombe = make_organisation("Wexcombe Trust", place=places["Wexcombe"])
    page = soup(partial.get(f"/waves/{wave.id}/invitations"))
    assert page.select_one("#your-places").get_text(strip=True) == "You can invite people to Brackenford."

    refused = soup(partial.post(f"/waves/{wave.id}/invitations", data={
        "invitees": f"w@example.org,,Funder,Wexcombe\nt@example.org,{in_wexcombe.name},"}))
    problems = refused.select("table")[0].get_text()
    assert "Place ‘Wexcombe’ is not one you can invite people to" in problems
    assert "Organisation ‘Wexcombe Trust’ is not in the places you can invite people to" in problems
    assert count(db_session, Invitation) == 0

    # Their one place needs no place column; the covering coordinator must name it.
    mine = soup(partial.post(f"/waves/{wave.id}/invitations", data={"invitees": "b@example.org,,Funder"}))
    assert len(mine.select("input[id^=link-]")) == 1
    assert db_session.scalar(select(Invitation.place_id)) == places["Brackenford"].id
    theirs = soup(covering.post(f"/waves/{wave.id}/invitations", data={"invitees": "w@example.org,,Funder,Wexcombe"}))
    [token] = [link["value"].rsplit("/", 1)[1] for link in theirs.select("input[id^=link-]")]

    # Someone else's place's links are never listed, even given their tokens.
    listed = partial.post(f"/waves/{wave.id}/invitations/links.csv", data={"token": [token]})
    assert listed.get_data(as_text=True).strip().splitlines() == ["email,organisation,sector,place,link"]
    listed = covering.post(f"/waves/{wave.id}/invitations/links.csv", data={"token": [token]})
    assert "w@example.org" in listed.get_data(as_text=True)


def upload(client, wave, text: str) -> str:
    """Upload a CSV of sector, place and cs_1 and match its columns; the preview's path."""
    response = client.post(f"/waves/{wave.id}/import", data={"file": (io.BytesIO(text.encode()), "tool.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    columns_path = response.location
    assert client.post(columns_path, data={"column-0": "sector", "column-1": "place", "column-2": "cs_1"}).status_code == 302
    return columns_path.replace("/columns", "/preview")


def test_a_coordinator_of_some_places_imports_only_into_them(db_session, survey, clients):
    partial, covering = clients["partial"], clients["covering"]
    wave = survey.waves[0]
    preview_path = upload(partial, wave, "sector,place,cs_1\nFunder,Brackenford,4\nFunder,Wexcombe,5\n")
    values = soup(partial.get(preview_path.replace("/preview", "/values")))
    place_choices = {option.get_text() for option in values.select("select option")}
    assert "Brackenford" in place_choices and "Wexcombe" not in place_choices
    preview = soup(partial.get(preview_path)).get_text()
    assert "Place ‘Wexcombe’ is not one you can import into" in preview
    before = count(db_session, Response)
    partial.post(preview_path)
    assert count(db_session, Response) == before

    preview_path = upload(partial, wave, "sector,place,cs_1\nFunder,Brackenford,4\n")
    assert partial.post(preview_path).status_code == 302
    assert count(db_session, Response) == before + 1

    # An import someone else started may hold any place's rows: not theirs to open.
    others = upload(covering, wave, "sector,place,cs_1\nFunder,Wexcombe,5\n")
    for page in ("columns", "values", "preview"):
        assert partial.get(others.replace("/preview", f"/{page}")).status_code == 403
    assert partial.post(others).status_code == 403
    assert covering.post(others).status_code == 302
    assert count(db_session, Response) == before + 2


def place_options(response) -> list[str]:
    return [option.get_text() for option in soup(response).select("select#place option")]


def test_results_show_a_coordinator_only_their_places(survey, clients, places, make_answered_survey):
    answered = make_answered_survey(places=[places["Brackenford"], places["Wexcombe"]])
    path = f"/analysis/surveys/{answered.id}"
    wexcombe, brackenford = places["Wexcombe"].id, places["Brackenford"].id
    partial = clients["partial"]
    page = partial.get(path)
    assert page.status_code == 200
    assert place_options(page) == ["Brackenford"]  # their first place by default, and no 'All places'
    assert soup(page).select_one("select#place option[selected]").get_text() == "Brackenford"
    assert partial.get(path, query_string={"place": brackenford}).status_code == 200
    for place in (wexcombe, ""):  # another place, or all places less theirs
        assert partial.get(path, query_string={"place": place}).status_code == 403
        assert partial.get(f"{path}/constructs.csv", query_string={"place": place}).status_code == 403
    assert clients["elsewhere"].get(path).status_code == 403

    for name in ("covering", "evaluator", "admin"):
        page = clients[name].get(path)
        assert place_options(page) == ["All places", "Brackenford", "Wexcombe"], name
        assert clients[name].get(path, query_string={"place": wexcombe}).status_code == 200, name


def test_the_wave_breakdown_shows_a_coordinator_only_their_places(db_session, survey, clients, places):
    wave = survey.waves[0]
    for n in range(6):
        journey.submit_response(db_session, wave, service.Respondent(2, places["Brackenford"].id),
                                complete_answers(wave), f"b-{n}")
    for n in range(7):
        journey.submit_response(db_session, wave, service.Respondent(4, places["Wexcombe"].id),
                                complete_answers(wave), f"w-{n}")
    partial = soup(clients["partial"].get(f"/waves/{wave.id}"))
    assert partial.select_one("#response-total").get_text() == "13"  # the wave's own total, exactly
    table = partial.select_one("#responses-by-sector")
    assert [th.get_text() for th in table.select("thead th")] == ["Sector", "Brackenford"]
    assert len(table.select("tbody tr")) == 1  # the sector that answered only in Wexcombe is left out
    assert "6" in table.get_text() and "7" not in table.get_text()
    assert "Brackenford, the places of it you coordinate" in partial.select_one("#your-places").get_text()

    for name in ("covering", "evaluator"):
        page = soup(clients[name].get(f"/waves/{wave.id}"))
        headers = [th.get_text() for th in page.select("#responses-by-sector thead th")]
        assert headers == ["Sector", "Brackenford", "Wexcombe", "All places"], name
        assert page.select_one("#your-places") is None


def test_a_places_view_keeps_what_the_whole_table_withholds():
    counts = pd.DataFrame({"Brackenford": [3, 20, 0], "Wexcombe": [12, 30, 9]}, index=["Funder", "Health", "Housing"])
    whole = disclose(counts, 5)
    view = dashboard.places_view(whole, [type("Place", (), {"name": "Wexcombe"})()])
    assert list(view.counts.columns) == ["Wexcombe"] and list(view.counts.index) == ["Funder", "Health", "Housing"]
    # Funder's Wexcombe cell is withheld in the whole table to protect Brackenford's 3: still withheld here.
    assert whole.suppressed.at["Funder", "Wexcombe"] and view.suppressed.at["Funder", "Wexcombe"]
    assert view.suppressed["Wexcombe"].equals(whole.suppressed["Wexcombe"])
    assert view.row_total_suppressed.all() and view.column_total_suppressed.all() and view.grand_total_suppressed
    brackenford = dashboard.places_view(whole, [type("Place", (), {"name": "Brackenford"})()])
    assert list(brackenford.counts.index) == ["Funder", "Health"]  # Housing answered only in Wexcombe
