import io

import pytest

from bs4 import BeautifulSoup
from sqlalchemy import select

from core.models import Organisation, Place, Role, Sector, SetPasswordToken, User
from tests.conftest import TEST_PASSWORD, count, sign_in


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def error_summary(response) -> list[str]:
    summary = page(response).select(".govuk-error-summary__list a")
    return [link.get_text(strip=True) for link in summary]


def test_start_page_explains_and_links_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 200
    soup = page(response)
    assert "Holdfast helps a local area" in soup.get_text()
    assert soup.select_one("a[href='/sign-in']")
    assert soup.select_one(".govuk-generic-header").get_text(strip=True) == "Holdfast"
    # Not a GOV.UK service: no crown, crest or Crown copyright.
    assert "Crown" not in response.get_data(as_text=True)
    assert "govuk-crest" not in response.get_data(as_text=True)


def test_sign_in_and_out(client, make_user):
    user = make_user(Role.EVALUATOR)
    response = sign_in(client, user)
    assert response.status_code == 302 and response.location == "/dashboard"
    dashboard = client.get("/dashboard")
    assert user.name in dashboard.get_data(as_text=True)
    response = client.post("/sign-out")
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_signing_out_ends_the_session_on_the_server(app, client, make_user):
    sign_in(client, make_user(Role.ADMIN))
    copied = app.test_client()
    copied.set_cookie("session", client.get_cookie("session").value)
    assert copied.get("/admin/users").status_code == 200
    assert client.post("/sign-out").status_code == 302
    response = copied.get("/admin/users")
    assert response.status_code == 302 and response.location.startswith("/sign-in")


def test_sign_in_returns_to_the_page_asked_for(client, make_user):
    user = make_user(Role.ADMIN)
    response = client.post("/sign-in?next=/admin/users", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.location == "/admin/users"


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "/\\evil.example", "/\t/evil.example", "/\r/x", "/\n/x", "https://evil.example",
     "javascript:alert(1)", "/ /evil.example", "evil.example"],
)
def test_sign_in_never_redirects_off_site(client, make_user, target):
    user = make_user(Role.ADMIN)
    response = client.post("/sign-in", query_string={"next": target}, data={"email": user.email, "password": TEST_PASSWORD})
    if any(character in target for character in "\t\r\n"):
        assert response.status_code == 400  # no web address may hold a control character
    else:
        assert response.status_code == 302 and response.location == "/dashboard"


def test_sign_in_starts_a_fresh_session(client, make_user):
    with client.session_transaction() as cookie:
        cookie["planted"] = "by someone else"
    sign_in(client, make_user(Role.EVALUATOR))
    with client.session_transaction() as cookie:
        assert "planted" not in cookie


def test_session_is_bound_to_the_browser(client, make_user):
    sign_in(client, make_user(Role.EVALUATOR))
    assert client.get("/dashboard").status_code == 200
    other_browser = client.get("/dashboard", headers={"User-Agent": "Stolen-cookie/1.0"})
    assert other_browser.status_code == 302


def test_failed_sign_in_shows_error_summary_and_title_prefix(client, make_user):
    user = make_user()
    response = client.post("/sign-in", data={"email": user.email, "password": "not it"})
    assert response.status_code == 200
    assert page(response).title.get_text().startswith("Error: ")
    assert error_summary(response) == ["Enter a correct email address and password"]
    empty = client.post("/sign-in", data={})
    assert error_summary(empty) == ["Enter your email address", "Enter your password"]


def test_deactivated_user_is_signed_out_on_next_request(client, db_session, make_user, login):
    user = make_user(Role.EVALUATOR)
    login(user)
    user.active = False
    db_session.commit()
    assert client.get("/dashboard").status_code == 302


def test_admin_invites_user_who_sets_password_and_signs_in(client, db_session, make_user, make_place, login):
    place = make_place("Harbourside")
    login(make_user(Role.ADMIN))
    response = client.post(
        "/admin/users/invite",
        data={"name": "Nia New", "email": "nia@example.org", "role": "coordinator", "places": [place.id]},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    link = page(response).select_one("#set-password-link")["value"]
    assert "/set-password/" in link
    path = link[link.index("/set-password/"):]
    client.post("/sign-out")

    assert "nia@example.org" in client.get(path).get_data(as_text=True)
    mismatch = client.post(path, data={"password": "a good long one", "confirm": "different"})
    assert error_summary(mismatch) == ["The passwords do not match"]
    response = client.post(path, data={"password": "a good long one", "confirm": "a good long one"})
    assert response.status_code == 302 and response.location == "/sign-in"
    assert client.get(path).status_code == 404  # single use

    nia = db_session.scalar(select(User).where(User.email == "nia@example.org"))
    assert sign_in(client, nia, "a good long one").status_code == 302
    assert "Harbourside" in client.get("/dashboard").get_data(as_text=True)


def test_unknown_set_password_link_is_a_friendly_page(client):
    response = client.get("/set-password/not-a-real-token")
    assert response.status_code == 404
    assert "This link cannot be used" in response.get_data(as_text=True)


def test_invite_validation(client, make_user, login):
    login(make_user(Role.ADMIN))
    response = client.post("/admin/users/invite", data={"name": "", "email": "nope", "role": "coordinator"})
    assert error_summary(response) == [
        "Enter the person’s name",
        "Enter an email address in the correct format, like name@example.org",
        "Select at least one place for a coordinator or facilitator",
    ]
    taken = make_user(Role.EVALUATOR)
    response = client.post("/admin/users/invite", data={"name": "X", "email": taken.email, "role": "evaluator"})
    assert error_summary(response) == ["A user with this email address already exists"]


def test_admin_changes_role_and_deactivates(client, db_session, make_user, make_place, login):
    login(make_user(Role.ADMIN))
    place = make_place()
    user = make_user(Role.EVALUATOR)
    response = client.post(
        f"/admin/users/{user.id}", data={"role": "facilitator", "places": [place.id], "active": ""}
    )
    assert response.status_code == 302
    db_session.refresh(user)
    assert (user.role, user.places, user.active) == ("facilitator", [place], False)


def test_admin_renews_a_set_password_link(client, db_session, make_user, login):
    login(make_user(Role.ADMIN))
    user = make_user(Role.EVALUATOR)
    response = client.post(f"/admin/users/{user.id}/set-password-link")
    assert response.status_code == 200
    assert page(response).select_one("#set-password-link")
    assert db_session.scalar(select(SetPasswordToken.id).where(SetPasswordToken.user_id == user.id))


def test_admin_creates_and_edits_places_sectors_organisations(client, db_session, make_user, login):
    login(make_user(Role.ADMIN))
    assert client.post("/admin/places/new", data={"name": "Fenmouth", "description": "Coastal"}).status_code == 302
    place = db_session.scalar(select(Place).where(Place.name == "Fenmouth"))
    assert client.post(f"/admin/places/{place.id}/edit", data={"name": "Fenmouth Bay"}).status_code == 302
    assert client.post("/admin/sectors/new", data={"name": "Arts"}).status_code == 302
    sector = db_session.scalar(select(Sector).where(Sector.name == "Arts"))
    response = client.post(
        "/admin/organisations/new", data={"name": "Bay Arts", "sector": sector.id, "place": place.id}
    )
    assert response.status_code == 302
    organisation = db_session.scalar(select(Organisation).where(Organisation.name == "Bay Arts"))
    db_session.refresh(place)
    assert (organisation.place.name, organisation.sector.name) == ("Fenmouth Bay", "Arts")
    listing = client.get("/admin/organisations").get_data(as_text=True)
    assert "Bay Arts" in listing and "Fenmouth Bay" in listing


def test_organisation_form_errors(client, make_user, login):
    login(make_user(Role.ADMIN))
    response = client.post("/admin/organisations/new", data={"name": "", "sector": 0, "place": 0})
    assert response.status_code == 200
    assert page(response).title.get_text().startswith("Error: ")
    assert error_summary(response) == ["Enter a name"]
    response = client.post("/admin/organisations/new", data={"name": "Somebody", "sector": 0, "place": 0})
    assert error_summary(response) == ["Select a sector from the list"]


def test_organisation_csv_import_page(client, db_session, make_user, make_place, login):
    login(make_user(Role.ADMIN))
    make_place("Upload Town")
    before = count(db_session, Organisation)
    bad = b"name,sector,place\nGood,Funder,Upload Town\nBad,Nope,Upload Town\n"
    response = client.post(
        "/admin/organisations/import", data={"file": (io.BytesIO(bad), "orgs.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "Sector ‘Nope’ is not a known sector" in page(response).select_one("table").get_text()
    assert error_summary(response)[0].startswith("The file has problems. Nothing was imported.")
    assert count(db_session, Organisation) == before

    good = b"name,sector,place\nGood,Funder,Upload Town\nAlso good,Faith,Upload Town\n"
    response = client.post(
        "/admin/organisations/import", data={"file": (io.BytesIO(good), "orgs.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert count(db_session, Organisation) == before + 2
    assert "2 organisations imported." in client.get("/admin/organisations").get_data(as_text=True)


@pytest.mark.parametrize(
    "header, named",
    [("name,name,sector,place", "‘name’"), ("Name,sector,place,PLACE,sector", "‘place’, ‘sector’")],
)
def test_organisation_import_refuses_a_column_named_twice(client, db_session, make_user, make_place, login, header, named):
    login(make_user(Role.ADMIN))
    make_place("Twice Town")
    before = count(db_session, Organisation)
    data = f"{header}\nFirst,Second,Funder,Twice Town,Funder\n".encode()
    response = client.post(
        "/admin/organisations/import", data={"file": (io.BytesIO(data), "orgs.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    problems = page(response).select_one("table").get_text(" ", strip=True)
    assert f"The first row names {named} more than once. Name each column once." in problems
    assert error_summary(response)[0].startswith("The file has problems. Nothing was imported.")
    assert count(db_session, Organisation) == before


def test_import_without_a_file_asks_for_one(client, make_user, login):
    login(make_user(Role.ADMIN))
    response = client.post("/admin/organisations/import", data={}, content_type="multipart/form-data")
    assert error_summary(response) == ["Select a CSV file"]


def test_coordinator_sees_only_their_places(client, make_user, make_place, login):
    mine, other = make_place("Mine"), make_place("Not Mine")
    login(make_user(Role.COORDINATOR, places=[mine]))
    listing = client.get("/places").get_data(as_text=True)
    assert "Mine" in listing and "Not Mine" not in listing
    assert client.get(f"/places/{mine.id}").status_code == 200
    assert client.get(f"/places/{other.id}").status_code == 403


def test_navigation_shows_only_what_the_role_may_open(client, make_user, login):
    login(make_user(Role.FACILITATOR))
    links = [a.get_text(strip=True) for a in page(client.get("/dashboard")).select(".govuk-service-navigation__link")]
    assert links[:2] == ["Dashboard", "Places"]
    assert "Users" not in links


def test_missing_page_is_friendly(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_names_of_only_spaces_are_refused(client, make_user, login):
    login(make_user(Role.ADMIN))
    for path in ("/admin/places/new", "/admin/sectors/new"):
        assert error_summary(client.post(path, data={"name": "   "})) == ["Enter a name"]
    response = client.post("/admin/users/invite", data={"name": "  ", "email": "x@example.org", "role": "evaluator"})
    assert error_summary(response) == ["Enter the person’s name"]


def test_tampered_choices_get_a_message_not_an_error(client, make_user, login):
    login(make_user(Role.ADMIN))
    user = make_user(Role.EVALUATOR)
    response = client.post(f"/admin/users/{user.id}", data={"role": "superuser", "active": "y"})
    assert response.status_code == 200 and error_summary(response)
    response = client.post("/admin/organisations/new", data={"name": "X", "sector": "abc", "place": "1"})
    assert error_summary(response) == ["Select a sector from the list"]


@pytest.mark.both_backends
def test_unicode_names_clash_ignoring_case_on_every_database(client, make_user, login):
    login(make_user(Role.ADMIN))
    assert client.post("/admin/places/new", data={"name": "Ávila"}).status_code == 302
    assert error_summary(client.post("/admin/places/new", data={"name": "ávila"})) == [
        "A place with this name already exists"
    ]


def test_edit_pages_show_the_saved_values(client, make_user, make_place, make_organisation, login):
    login(make_user(Role.ADMIN))
    place = make_place("Prefill Town")
    coordinator = make_user(Role.COORDINATOR, places=[place])
    form = page(client.get(f"/admin/users/{coordinator.id}"))
    assert form.select_one("input[name=role][value=coordinator]").has_attr("checked")
    assert form.select_one(f"input[name=places][value='{place.id}']").has_attr("checked")
    assert form.select_one("input[name=active]").has_attr("checked")

    organisation = make_organisation("Prefill Trust", place=place)
    form = page(client.get(f"/admin/organisations/{organisation.id}/edit"))
    assert form.select_one("#name")["value"] == "Prefill Trust"
    assert form.select_one(f"#sector option[value='{organisation.sector_id}']").has_attr("selected")
    assert form.select_one(f"#place option[value='{place.id}']").has_attr("selected")
    assert page(client.get(f"/admin/places/{place.id}/edit")).select_one("#name")["value"] == "Prefill Town"


def test_renewed_link_replaces_the_old_one(client, make_user, login):
    login(make_user(Role.ADMIN))
    user = make_user(Role.EVALUATOR, password_hash=None)
    links = []
    for _ in range(2):
        link = page(client.post(f"/admin/users/{user.id}/set-password-link")).select_one("#set-password-link")["value"]
        links.append(link[link.index("/set-password/"):])
    client.post("/sign-out")
    assert client.get(links[0]).status_code == 404
    assert client.get(links[1]).status_code == 200


def test_no_link_for_a_deactivated_user(client, db_session, make_user, login):
    login(make_user(Role.ADMIN))
    user = make_user(Role.EVALUATOR, active=False)
    response = client.post(f"/admin/users/{user.id}/set-password-link")
    assert response.status_code == 302
    assert "Reactivate it before creating a link" in client.get(response.location).get_data(as_text=True)
    assert db_session.scalar(select(SetPasswordToken.id).where(SetPasswordToken.user_id == user.id)) is None


def test_setting_a_password_ends_other_sessions(app, client, db_session, make_user):
    from core import service

    user = make_user(Role.EVALUATOR)
    stolen = app.test_client()
    sign_in(stolen, user)
    assert stolen.get("/dashboard").status_code == 200
    token = service.renew_set_password_link(db_session, user)
    client.post(f"/set-password/{token}", data={"password": "a brand new one", "confirm": "a brand new one"})
    assert stolen.get("/dashboard").status_code == 302
