import re

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from core.models import Role
from surveys import respondent as journey, service
from surveys import invitations
from surveys.models import Draft, Response, Survey
from tests.conftest import count
from tests.surveys.test_service import complete_answers


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def error_summary(response) -> list[str]:
    return [a.get_text(strip=True) for a in soup(response).select(".govuk-error-summary__list a")]


@pytest.fixture
def coordinator(make_user, make_place, login):
    place = make_place()
    user = make_user(Role.COORDINATOR, places=[place])
    login(user)
    return user


def test_coordinator_creates_a_survey_and_opens_a_wave(client, db_session, coordinator):
    place = coordinator.places[0]
    response = client.post("/surveys/new", data={
        "name": "Trust check", "run_by": "The Board", "purpose": "To plan workshops",
        "template": "coordination-and-trust", "places": [place.id], "anonymity": "anonymous",
    })
    assert response.status_code == 302
    survey = db_session.scalar(select(Survey).where(Survey.name == "Trust check"))
    wave = survey.waves[0]
    page = client.get(f"/waves/{wave.id}").get_data(as_text=True)
    assert "Open Wave 1" in page and "tr_1" in page
    assert client.post(f"/waves/{wave.id}/open").status_code == 302
    page = soup(client.get(f"/waves/{wave.id}"))
    assert page.select_one("#open-link")["value"].endswith(f"/o/{wave.open_link_slug}")
    assert page.select_one("#response-total").get_text() == "0"


def test_survey_form_errors(client, coordinator):
    response = client.post("/surveys/new", data={"name": " ", "run_by": "", "template": "coordination-and-trust"})
    assert error_summary(response)[:2] == ["Enter a name for the survey", "Enter who runs the survey"]


def test_coordinator_cannot_use_surveys_of_other_places(client, make_survey, make_place, coordinator):
    other = make_survey(places=[make_place()])
    assert client.get(f"/surveys/{other.id}").status_code == 403
    assert client.get(f"/waves/{other.waves[0].id}").status_code == 403
    assert other.name not in client.get("/surveys").get_data(as_text=True)


def test_add_edit_and_remove_a_question(client, db_session, make_survey, coordinator):
    wave = make_survey(places=coordinator.places).waves[0]
    response = client.post(f"/waves/{wave.id}/questions/new", data={
        "code": "extra_1", "section": "Extra", "text": "Do you feel heard?", "type": "likert",
        "choices": "No\nSomewhat\nYes", "construct": 0, "required": "y",
    })
    assert response.status_code == 302
    db_session.expire_all()  # the request changed the questions in its own session
    item = next(i for i in wave.instrument.items if i.code == "extra_1")
    assert [c["label"] for c in item.options["choices"]] == ["No", "Somewhat", "Yes"]
    response = client.post(f"/waves/{wave.id}/questions/{item.id}", data={
        "code": "extra_1", "section": "Extra", "text": "", "type": "single", "choices": "Only", "construct": 0,
    })
    assert error_summary(response) == ["Enter the question"]
    response = client.post(f"/waves/{wave.id}/questions/{item.id}", data={
        "code": "extra_1", "section": "Extra", "text": "Pick one", "type": "single", "choices": "Only", "construct": 0,
    })
    assert error_summary(response) == ["Give at least two choices"]
    assert client.post(f"/waves/{wave.id}/questions/{item.id}/delete").status_code == 302
    db_session.refresh(wave.instrument)
    assert "extra_1" not in [i.code for i in wave.instrument.items]


def test_settings_page(client, db_session, make_survey, coordinator):
    survey = make_survey(places=coordinator.places)
    margins = {f"margin_{m.construct_id}": "0.25" for m in survey.margins}
    response = client.post(f"/surveys/{survey.id}/settings", data={
        "anonymity": "pseudonymous", "k_internal": "4", "k_briefing": "10", "min_organisations": "3", **margins,
    })
    assert error_summary(response) == ["Enter a whole number from 5 to 1000"]
    response = client.post(f"/surveys/{survey.id}/settings", data={
        "anonymity": "pseudonymous", "k_internal": "7", "k_briefing": "10", "min_organisations": "3", **margins,
    })
    db_session.expire_all()
    assert response.status_code == 302 and survey.k_internal == 7


def test_next_wave_and_the_trend_warning(client, db_session, make_survey, coordinator):
    survey = make_survey(places=coordinator.places, open_first_wave=True)
    service.close_wave(db_session, survey.waves[0], actor=None)
    assert client.post(f"/surveys/{survey.id}/waves/new", data={"label": "Wave 2", "role": "follow-up"}).status_code == 302
    db_session.expire_all()
    second = survey.waves[1]
    tr_1 = next(i for i in second.instrument.items if i.code == "tr_1")
    client.post(f"/waves/{second.id}/questions/{tr_1.id}", data={
        "code": "tr_1", "section": tr_1.section, "text": "Reworded trust question", "type": "likert",
        "choices": "\n".join(c["label"] for c in tr_1.options["choices"]), "construct": tr_1.construct_id, "required": "y",
    })
    page = client.get(f"/waves/{second.id}").get_data(as_text=True)
    assert "1 question changed since the last wave (tr_1)" in page and "Breaks trend" in page


def test_invitations_show_links_once_and_download_as_csv(client, db_session, make_survey, make_organisation, coordinator):
    survey = make_survey(places=coordinator.places, open_first_wave=True)
    organisation = make_organisation("=cmd|' /C calc'!A0", place=coordinator.places[0])
    wave = survey.waves[0]
    bad = client.post(f"/waves/{wave.id}/invitations", data={"invitees": "a@example.org,,Funder\nnot-an-email,,Funder"})
    assert "Nobody was invited" in error_summary(bad)[0]
    assert "‘not-an-email’ is not an email address" in soup(bad).select("table")[0].get_text()
    assert db_session.scalar(select(count_invitations())) == 0
    response = client.post(f"/waves/{wave.id}/invitations", data={
        "invitees": f"a@example.org,,Funder\nb@example.org,\"{organisation.name}\","
    })
    links = [i["value"] for i in soup(response).select("input[id^=link-]")]
    assert len(links) == 2 and all("/s/" in link for link in links)
    tokens = [link.rsplit("/", 1)[1] for link in links]
    csv = client.post(f"/waves/{wave.id}/invitations/links.csv", data={"token": tokens + ["forged"]})
    lines = csv.get_data(as_text=True).strip().splitlines()
    assert lines[0] == "email,organisation,sector,place,link" and len(lines) == 3
    assert "'=cmd" in csv.get_data(as_text=True)  # no spreadsheet formula injection


def count_invitations():
    from sqlalchemy import func

    from surveys.models import Invitation

    return func.count(Invitation.id)


# --- the respondent journey -----------------------------------------------------------------


def invite(db_session, survey, email="r@example.org"):
    parsed = invitations.parse_invitees(db_session, survey.places, f"{email},,Funder")
    [link] = invitations.create_invitations(db_session, survey.waves[0], parsed.invitees, "secret", "link-secret")
    return link.token


def fill_step(client, path, page_html):
    """Answer every question on a page with its second choice (trust: 'Mostly')."""
    page = BeautifulSoup(page_html, "html.parser")
    data = {}
    for field in page.select("input[type=radio]"):
        options = page.select(f"input[name='{field['name']}']")
        data[field["name"]] = options[min(2, len(options) - 1)]["value"]
    for field in page.select("textarea"):
        data[field["name"]] = "More time together"
    return client.post(path, data=data)


def complete_journey(client, prefix):
    index = 0
    while True:
        path = f"{prefix}/{index}"
        response = fill_step(client, path, client.get(path).get_data(as_text=True))
        assert response.status_code == 302, error_summary(response)
        if response.location.endswith("/check"):
            return index + 1
        index += 1


def test_token_journey_with_save_resume_and_one_submission(app, client, db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    token = invite(db_session, survey)
    start = client.get(f"/s/{token}")
    assert "Start now" in start.get_data(as_text=True) and survey.run_by in start.get_data(as_text=True)

    first = client.get(f"/s/{token}/0")
    assert "Section 1 of" in first.get_data(as_text=True)
    # Save part-way and come back in a new browser: the answers and the place are kept.
    page = BeautifulSoup(first.get_data(as_text=True), "html.parser")
    partial = {"cs_1": "5", "action": "save"}
    assert "have been saved" in client.post(f"/s/{token}/0", data=partial).get_data(as_text=True)
    other_browser = app.test_client()
    resumed = other_browser.get(f"/s/{token}")
    assert "Continue where you left off" in resumed.get_data(as_text=True)
    again = soup(other_browser.get(f"/s/{token}/0"))
    assert again.select_one("input[name=cs_1][value='5']").has_attr("checked")
    assert page.select_one("input[name=cs_2]")

    steps = complete_journey(other_browser, f"/s/{token}")
    check = other_browser.get(f"/s/{token}/check")
    assert check.status_code == 200 and "Check your answers" in check.get_data(as_text=True)
    assert len(soup(check).select(".govuk-summary-list")) == steps
    key = soup(check).select_one("input[name=submission_key]")["value"]
    before = count(db_session, Response)
    first_submit = other_browser.post(f"/s/{token}/check", data={"submission_key": key})
    double_click = other_browser.post(f"/s/{token}/check", data={"submission_key": key})
    assert first_submit.location.endswith(f"/s/{token}/done") and double_click.location.endswith("/done")
    assert count(db_session, Response) == before + 1
    assert "Answers sent" in other_browser.get(first_submit.location).get_data(as_text=True)
    assert "already sent your answers" in client.get(f"/s/{token}").get_data(as_text=True)
    assert db_session.scalar(select(Draft).where(Draft.submission_key == key)) is None


def test_step_refuses_answers_outside_the_scale(client, db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    token = invite(db_session, survey)
    response = client.post(f"/s/{token}/0", data={"cs_1": "9", "cs_2": "3"})
    assert response.status_code == 200
    assert soup(response).title.get_text().startswith("Error: ")
    assert error_summary(response)[:2] == [
        "Select how much you agree that when a new need comes up, organisations here can start working on it together within days, not months",
        "Select how much you agree that joint work between organisations here gets stuck waiting for someone to approve it",
    ]
    assert soup(response).select_one(".govuk-error-summary a")["href"] == "#cs_1"


def test_check_page_sends_back_to_an_unanswered_section(client, db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    token = invite(db_session, survey)
    assert client.post(f"/s/{token}/check", data={}).location.endswith(f"/s/{token}")  # not started yet
    client.post(f"/s/{token}/0", data={"action": "save"})  # started: nothing answered yet
    response = client.post(f"/s/{token}/check", data={})
    assert response.status_code == 302 and response.location.endswith(f"/s/{token}/0")


def test_unknown_link_and_closed_wave_pages(client, db_session, make_survey):
    response = client.get("/s/not-a-real-token")
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)
    survey = make_survey(open_first_wave=True)
    token = invite(db_session, survey)
    service.close_wave(db_session, survey.waves[0], actor=None)
    assert "is now closed" in client.get(f"/s/{token}").get_data(as_text=True)
    assert "is now closed" in client.get(f"/s/{token}/0").get_data(as_text=True)
    assert "is now closed" in client.get(f"/o/{survey.waves[0].open_link_slug}").get_data(as_text=True)


def test_open_link_journey(client, db_session, make_survey, make_place):
    survey = make_survey(places=[make_place(), make_place()], open_first_wave=True)
    slug = survey.waves[0].open_link_slug
    assert client.get(f"/o/{slug}/0").location.endswith(f"/o/{slug}/about-you")
    response = client.post(f"/o/{slug}/about-you", data={})
    assert error_summary(response) == ["Select the sector your organisation is in", "Select the place you work in"]
    place = survey.places[1]
    response = client.post(f"/o/{slug}/about-you", data={"sector": "3", "place": str(place.id)})
    assert response.location.endswith(f"/o/{slug}/0")
    complete_journey(client, f"/o/{slug}")
    key = soup(client.get(f"/o/{slug}/check")).select_one("input[name=submission_key]")["value"]
    assert client.post(f"/o/{slug}/check", data={"submission_key": key}).location.endswith(f"/o/{slug}/done")
    replay = client.post(f"/o/{slug}/check", data={"submission_key": key})
    assert replay.location.endswith(f"/o/{slug}/done")
    stored = db_session.scalar(select(Response).where(Response.idempotency_key == key))
    assert (stored.channel, stored.place_id, stored.sector_id, stored.panel_key) == ("open", place.id, 3, None)
    # The browser can answer again as a new respondent (an open link is not single use).
    assert client.get(f"/o/{slug}/0").location.endswith("/about-you")


def test_open_link_refuses_a_place_outside_the_survey(client, db_session, make_survey, make_place):
    survey = make_survey(places=[make_place(), make_place()], open_first_wave=True)
    before = count(db_session, Draft)
    response = client.post(f"/o/{survey.waves[0].open_link_slug}/about-you", data={"sector": "1", "place": str(make_place().id)})
    assert response.status_code == 200
    assert error_summary(response) == ["Select your sector and place from the lists"]
    assert count(db_session, Draft) == before


def test_open_link_with_one_place_needs_only_the_sector(client, db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    slug = survey.waves[0].open_link_slug
    assert "Which place" not in client.get(f"/o/{slug}/about-you").get_data(as_text=True)
    response = client.post(f"/o/{slug}/about-you", data={"sector": "1"})
    assert response.location.endswith(f"/o/{slug}/0")
    draft = db_session.scalars(select(Draft).where(Draft.wave_id == survey.waves[0].id)).one()
    assert draft.place_id == survey.places[0].id


def test_dashboard_suppresses_small_cells(client, db_session, make_survey, make_user, login):
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    login(make_user(Role.EVALUATOR))
    for n in range(3):
        journey.submit_response(db_session, wave, service.Respondent(2, survey.places[0].id), complete_answers(wave), f"dash-{n}")
    table = soup(client.get(f"/waves/{wave.id}")).select_one("#responses-by-sector")
    assert "fewer than 5 responses" in table.get_text()
    assert not re.search(r">\s*3\s*<", str(table))
    svg = client.get(f"/waves/{wave.id}/daily.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data


@pytest.fixture
def answered_wave(db_session, make_survey, make_organisation):
    from surveys.models import AnonymityMode

    survey = make_survey(anonymity=AnonymityMode.PSEUDONYMOUS, open_first_wave=True)
    wave = survey.waves[0]
    organisation = make_organisation("=HYPERLINK(\"x\")", place=survey.places[0])
    answers = complete_answers(wave) | {"one_thing": "=1+1 more meetings"}
    journey.submit_response(db_session, wave, service.Respondent(2, survey.places[0].id, organisation.id, "key-abc"),
                            answers, "export-1")
    return wave


def test_exports_are_for_admins_and_evaluators(client, make_user, login, answered_wave):
    login(make_user(Role.COORDINATOR, places=answered_wave.survey.places))
    assert client.get(f"/waves/{answered_wave.id}/export").status_code == 403


def test_csv_export_leaves_out_panel_keys_unless_asked(client, make_user, login, answered_wave):
    import csv as csv_module
    import io

    login(make_user(Role.EVALUATOR))
    response = client.get(f"/waves/{answered_wave.id}/export?format=csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv_module.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 1 and "panel_key" not in rows[0]
    assert rows[0]["tr_1"] == "4.0" and rows[0]["one_thing"] == "'=1+1 more meetings"
    assert rows[0]["organisation"].startswith("'=")
    assert rows[0]["trust_1_reliable"] == "3"
    with_keys = client.get(f"/waves/{answered_wave.id}/export?format=csv&panel_keys=yes").get_data(as_text=True)
    assert "key-abc" in with_keys
    assert client.get(f"/waves/{answered_wave.id}/export?format=pdf").status_code == 404


def test_xlsx_and_sav_exports_read_back(client, make_user, login, answered_wave, tmp_path):
    import openpyxl
    import pyreadstat

    login(make_user(Role.ADMIN))
    xlsx = client.get(f"/waves/{answered_wave.id}/export?format=xlsx").data
    (tmp_path / "r.xlsx").write_bytes(xlsx)
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames == ["responses", "codebook"]
    header = [c.value for c in book["responses"][1]]
    assert "tr_1" in header and "panel_key" not in header
    assert book["responses"].cell(2, header.index("one_thing") + 1).value == "'=1+1 more meetings"

    sav = client.get(f"/waves/{answered_wave.id}/export?format=sav").data
    (tmp_path / "r.sav").write_bytes(sav)
    frame, meta = pyreadstat.read_sav(tmp_path / "r.sav")
    assert frame.loc[0, "tr_1"] == 4.0
    assert meta.variable_value_labels["tr_1"][4.0] == "Agree"
    assert meta.column_names_to_labels["tr_1"].startswith("I trust other organisations")
    assert meta.variable_value_labels["trust_1_open"][2.0] == "A little"
    assert meta.column_names_to_labels["trust_1_open"] == "Trust in Voluntary and community: They are open to talking things through"
    assert frame.loc[0, "trust_1_open"] == 2


def test_import_screens_end_to_end(client, db_session, make_survey, coordinator):
    import io

    survey = make_survey(places=coordinator.places, open_first_wave=True)
    wave = survey.waves[0]
    upload = b"Sector,Q1 speed,Comments\nFunder,Agree,fine\nCharity,Strongly agree,ok\n"
    response = client.post(f"/waves/{wave.id}/import", data={"file": (io.BytesIO(upload), "tool.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    columns_path = response.location
    page = soup(client.get(columns_path))
    assert page.select_one("#column-0 option[selected]")["value"] == "sector"  # suggested from the name
    missing_sector = client.post(columns_path, data={"column-1": "cs_1"})
    assert error_summary(missing_sector) == ["Match one column to Sector: every response needs a sector"]
    response = client.post(columns_path, data={"column-0": "sector", "column-1": "cs_1", "column-2": ""})
    values_path = response.location
    page = soup(client.get(values_path))
    labels = [th.get_text() for th in page.select("tbody th")]
    assert labels == ["Charity", "Funder", "Agree", "Strongly agree"]
    # Charity is not a sector name: match it by hand; the labels are matched already.
    charity = page.select_one("select#value-0-0")
    vcs = next(o["value"] for o in charity.select("option") if o.get_text() == "Voluntary and community")
    form = {sel["name"]: (sel.select_one("option[selected]") or {"value": ""})["value"] for sel in page.select("select")}
    form["value-0-0"] = vcs
    preview_path = client.post(values_path, data=form).location
    preview = soup(client.get(preview_path))
    assert "2 rows ready to import" in preview.get_text()
    before = count(db_session, Response)
    response = client.post(preview_path)
    assert response.status_code == 302 and count(db_session, Response) == before + 2
    assert "2 responses imported into Wave 1." in client.get(response.location).get_data(as_text=True)
    assert client.get(preview_path).status_code == 404  # an import is used once


def test_import_preview_lists_problems_and_imports_nothing(client, db_session, make_survey, coordinator):
    import io

    survey = make_survey(places=coordinator.places, open_first_wave=True)
    wave = survey.waves[0]
    upload = b"sector,cs_1\nFunder,4\nFunder,9\n"
    columns_path = client.post(f"/waves/{wave.id}/import", data={"file": (io.BytesIO(upload), "t.csv")},
                               content_type="multipart/form-data").location
    client.post(columns_path, data={"column-0": "sector", "column-1": "cs_1"})
    preview_path = columns_path.replace("/columns", "/preview")
    page = client.get(preview_path)
    assert soup(page).title.get_text().startswith("Error: ")
    assert "‘9’: select one of the options shown" in soup(page).select_one("#problems + table").get_text()
    before = count(db_session, Response)
    client.post(preview_path)
    assert count(db_session, Response) == before


def test_import_refuses_a_bad_file_with_a_message(client, make_survey, coordinator):
    import io

    wave = make_survey(places=coordinator.places, open_first_wave=True).waves[0]
    response = client.post(f"/waves/{wave.id}/import", data={"file": (io.BytesIO(b"\x00\x01PK"), "x.xlsx")},
                           content_type="multipart/form-data")
    assert error_summary(response) == ["The file must be a CSV or an Excel Workbook (.xlsx), not another kind of file"]
    response = client.post(f"/waves/{wave.id}/import", data={"file": (io.BytesIO(b"\xff\xfe\x00x"), "x.csv")},
                           content_type="multipart/form-data")
    assert error_summary(response) == ["The file must be a CSV saved as UTF-8"]


# --- regressions from review ---------------------------------------------------------------


def test_a_posted_submission_key_cannot_make_a_second_response(client, db_session, make_survey):
    survey = make_survey(open_first_wave=True)
    slug = survey.waves[0].open_link_slug
    client.post(f"/o/{slug}/about-you", data={"sector": "1"})
    complete_journey(client, f"/o/{slug}")
    with client.session_transaction() as cookie:
        saved_cookie = dict(cookie)
    before = count(db_session, Response)
    client.post(f"/o/{slug}/check", data={"submission_key": "attacker-1"})
    with client.session_transaction() as cookie:
        cookie.update(saved_cookie)  # replay the old draft cookie with a new key
    client.post(f"/o/{slug}/check", data={"submission_key": "attacker-2"})
    assert count(db_session, Response) == before + 1
    assert db_session.scalar(select(Response).where(Response.idempotency_key.like("attacker%"))) is None


def test_the_total_is_shown_everywhere_and_cannot_give_away_a_withheld_cell(client, db_session, make_survey, make_place, make_user, login):
    survey = make_survey(places=[make_place(), make_place()], open_first_wave=True)
    wave = survey.waves[0]
    brackenford, wexcombe = survey.places
    for n in range(3):
        journey.submit_response(db_session, wave, service.Respondent(4, brackenford.id), complete_answers(wave), f"small-{n}")
    for n in range(40):
        journey.submit_response(db_session, wave, service.Respondent(2, wexcombe.id), complete_answers(wave), f"big-{n}")
    login(make_user(Role.EVALUATOR))
    page = soup(client.get(f"/waves/{wave.id}"))
    # Counting who answered is not an answer: the total is shown, here as on the survey's
    # page. So neither place's count can be: the total minus one would give the other.
    assert page.select_one("#response-total").get_text() == "43"
    breakdown = page.select_one("#responses-by-sector")
    cells = [cell.get_text(strip=True) for cell in breakdown.select("td")]  # the counts, not the place names
    assert "40" not in cells and "fewer than 5 responses" in breakdown.get_text().lower()
    listing = soup(client.get(f"/surveys/{survey.id}")).get_text()
    assert "43" in listing


def test_a_wave_with_a_handful_of_responses_shows_its_total_but_not_its_groups(
        client, db_session, make_survey, make_user, login):
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    journey.submit_response(db_session, wave, service.Respondent(2, survey.places[0].id), complete_answers(wave), "one")
    login(make_user(Role.EVALUATOR))
    page = soup(client.get(f"/waves/{wave.id}"))
    assert page.select_one("#response-total").get_text() == "1"  # the same on every page
    assert "fewer than 5" in page.select_one("#responses-by-sector").get_text().lower()
    assert "1" in soup(client.get(f"/surveys/{survey.id}")).select("table")[0].get_text()


def test_anonymity_is_fixed_once_people_are_invited(client, db_session, make_survey, coordinator):
    from surveys.models import AnonymityMode

    survey = make_survey(places=coordinator.places, anonymity=AnonymityMode.PSEUDONYMOUS)
    invite(db_session, survey)
    margins = {f"margin_{m.construct_id}": "0.25" for m in survey.margins}
    response = client.post(f"/surveys/{survey.id}/settings", data={
        "anonymity": "anonymous", "k_internal": "5", "k_briefing": "10", "min_organisations": "3", **margins})
    assert "cannot change once a wave has opened or people have been invited" in error_summary(response)[0]


def test_the_same_email_is_not_invited_twice_to_a_wave(client, db_session, make_survey, coordinator):
    survey = make_survey(places=coordinator.places, open_first_wave=True)
    wave = survey.waves[0]
    client.post(f"/waves/{wave.id}/invitations", data={"invitees": "a@example.org,,Funder"})
    again = client.post(f"/waves/{wave.id}/invitations", data={"invitees": "A@example.org,,Funder"})
    assert "A@example.org has already been invited to this wave" in soup(again).select("table")[0].get_text()


def test_exports_survive_long_sector_names_and_odd_text(client, db_session, make_user, login, answered_wave, make_sector, tmp_path):
    import openpyxl
    import pyreadstat

    long_name = make_sector("Voluntary, community and social enterprise organisations of every size")
    wave = answered_wave
    answers = complete_answers(wave) | {"trust_matrix": {str(long_name.id): {"reliable": 4}}, "one_thing": "tab\tok"}
    journey.submit_response(db_session, wave, service.Respondent(2, wave.survey.places[0].id), answers, "export-2")
    login(make_user(Role.ADMIN))
    (tmp_path / "r.sav").write_bytes(client.get(f"/waves/{wave.id}/export?format=sav").data)
    _, meta = pyreadstat.read_sav(tmp_path / "r.sav")
    assert meta.column_names_to_labels[f"trust_{long_name.id}_reliable"].startswith(f"Trust in {long_name.name}")
    (tmp_path / "r.xlsx").write_bytes(client.get(f"/waves/{wave.id}/export?format=xlsx").data)
    assert openpyxl.load_workbook(tmp_path / "r.xlsx")["responses"].max_row == 3


def test_the_dashboard_shows_the_share_of_invitations_answered(client, db_session, make_survey, make_user, login):
    survey = make_survey(open_first_wave=True)
    wave = survey.waves[0]
    emails = "\n".join(f"r{n}@example.org,,Funder" for n in range(8))
    links = invitations.create_invitations(db_session, wave, invitations.parse_invitees(db_session, survey.places, emails).invitees, "s", "link-secret")
    for n, link in enumerate(links[:6]):
        journey.submit_response(db_session, wave, service.Respondent(4, survey.places[0].id), complete_answers(wave), f"share-{n}", link.invitation)
    login(make_user(Role.EVALUATOR))
    table = soup(client.get(f"/waves/{wave.id}")).select_one("#responses-by-sector").get_text()
    assert "(75% of those invited)" in table
