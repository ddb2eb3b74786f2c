"""No POST answers 5xx: every POST route, with awkward values in the fields of its form
(malformed dates, huge and not-quite numbers, line breaks and quotes, empty, repeated or
missing fields), gets a form error or a refusal, never a crash. The routes come from the
app's own route table and their fields from the app's own pages, so a new route or field
is fuzzed without this file changing. (Control characters other than line breaks and tabs
are refused by a request hook before any view; tests/core/test_security.py checks that.)"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.models import Role
from tests.conftest import sign_in
from tests.core.test_security import build_path, form_fields, route_objects, routes  # noqa: F401 - a fixture

EXAMPLES = 6
# The issue form builds the whole briefing, and a PDF of it, for every example: one does.
FEW_EXAMPLES = {"briefings.issue": 1}
NOT_FUZZED = {"core.sign_out"}  # it would end the session every other route is posted with

AWKWARD_TEXT = st.sampled_from([
    "", " ", "0", "-1", "00", "1e309", "9" * 40, "-" + "9" * 40, "NaN", "sNaN", "-Infinity", "0x1F", "１２", "12.5",
    "31 2 2027", "0 0 0", "1 13 2027", "27/3/2027", "2027-03-27", "31/2/2027 25:61", "1/1/1 00:00", "tomorrow",
    "none", "None", "yes", "on", "'", '"', 'A "quoted" name', "Name\r\nBcc: everyone@example.org", "One\u2028Two",
    "<script>alert(1)</script>", "a" * 5000,
])
ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\r\n\t\"'\\"),
                   max_size=30)
VALUE = st.one_of(AWKWARD_TEXT, ANY_TEXT)
# A field sent as the page sends it, with an awkward value, as several values (a date
# input sends three), or not at all (None).
FIELD = st.one_of(VALUE, st.lists(VALUE, max_size=4), st.none())


def error_summary(response) -> list[str]:
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    return [item.get_text(strip=True) for item in page.select(".govuk-error-summary__list li")]


@pytest.mark.parametrize("held_on", [["tomorrow"], ["27", "3"], ["27", "3", "2027", "1"], ["31", "2", "2027"],
                                     ["1", "1", "99999"]])
def test_a_malformed_date_is_a_form_error(client, make_place, make_user, held_on):
    place = make_place()
    sign_in(client, make_user(Role.FACILITATOR, places=[place]))
    response = client.post("/workshops/new", data={"place": place.id, "title": "Spring", "held_on": held_on,
                                                   "dots": 5})
    assert response.status_code == 200
    assert error_summary(response) == ["Enter the date of the workshop as a real date, for example 27 3 2027"]
    # The three boxes come back, whatever was sent.
    boxes = BeautifulSoup(response.data, "html.parser").select("input[name=held_on]")
    assert len(boxes) == 3


@pytest.mark.parametrize("margin", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_a_margin_that_is_not_a_number_is_a_form_error(client, make_survey, make_user, margin):
    survey = make_survey()
    sign_in(client, make_user(Role.ADMIN))
    margins = {f"margin_{m.construct_id}": "0.25" for m in survey.margins}
    first = f"margin_{survey.margins[0].construct_id}"
    response = client.post(f"/surveys/{survey.id}/settings", data={
        "anonymity": "anonymous", "k_internal": "5", "k_briefing": "10", "min_organisations": "3",
        **margins, first: margin})
    assert response.status_code == 200
    assert error_summary(response) == ["Enter a margin from 0.01 to 4 scale points"]


@pytest.mark.parametrize("data", [
    {"name": "Food bank"},  # no sector or place sent at all
    {"name": "Food bank", "sector": "9" * 40, "place": "9" * 40},  # no row's id, nor any database's integer
])
def test_an_organisation_without_a_usable_sector_or_place_is_a_form_error(client, make_user, data):
    sign_in(client, make_user(Role.ADMIN))
    response = client.post("/admin/organisations/new", data=data)
    assert response.status_code == 200
    assert error_summary(response)[0] == "Select a sector from the list"


def test_an_id_too_large_for_the_database_is_not_found(client, make_user):
    sign_in(client, make_user(Role.ADMIN))
    for path in ("/places/9223372036854775808", "/places/2147483648", "/workshops/" + "9" * 40):
        assert client.get(path).status_code == 404, path
    assert client.post("/admin/places/2147483648/edit", data={"name": "X"}).status_code == 404


def harvest_forms(client, paths: list[str]) -> dict[str, dict[str, str]]:
    """Path → the fields of the first form on any of these pages that posts to it."""
    found: dict[str, dict[str, str]] = {}
    for path in paths:
        response = client.get(path)
        if response.status_code == 200 and response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            for form in BeautifulSoup(html, "html.parser").select("form[method=post]"):
                action = urlsplit(form.get("action") or path).path
                found.setdefault(action, form_fields(html, action))
        response.close()
    return found


def pages_to_read(app, values) -> list[str]:
    """Where the forms of the POST routes are: each route's own page and the pages above
    it (a console's buttons post to addresses under the console's)."""
    pages = set()
    for rule, method in routes(app):
        if method == "POST":
            parts = build_path(rule, values).split("/")
            pages.update("/".join(parts[:end]) for end in range(2, len(parts) + 1))
    get_paths = {build_path(rule, values) for rule, method in routes(app) if method == "GET"}
    return sorted(pages & get_paths)


def test_no_post_route_answers_5xx_whatever_its_fields_hold(app, db_session, route_objects):  # noqa: F811
    values, users, refresh = route_objects
    admin = app.test_client()
    assert sign_in(admin, users[Role.ADMIN]).status_code == 302
    phone = app.test_client()
    joined = phone.post(f"/w/{values['code']}/join", data={"sector": values["sector_id"], "channel": "in-room"})
    assert joined.status_code == 302
    pages = pages_to_read(app, values)
    forms = harvest_forms(admin, pages) | harvest_forms(phone, [f"/w/{values['code']}"])
    every_field = sorted({name for fields in forms.values() for name in fields})
    fuzzed = 0
    for rule, method in routes(app):
        if method != "POST" or rule.endpoint in NOT_FUZZED:
            continue
        refresh()
        path = build_path(rule, values)
        fields = forms.get(path)
        if fields:
            data = st.fixed_dictionaries({name: st.one_of(st.just(default), FIELD) for name, default in fields.items()})
        else:  # a button, or a form no page showed this client: any fields the app's forms have
            data = st.dictionaries(st.sampled_from(every_field), FIELD, max_size=5)

        def client_for() -> object:
            if rule.endpoint == "codesign.join":
                return app.test_client()  # a phone that has not joined yet
            return phone if rule.rule.startswith("/w/") else admin

        @settings(max_examples=FEW_EXAMPLES.get(rule.endpoint, EXAMPLES), deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=data)
        def post(data) -> None:
            sent = {name: value for name, value in data.items() if value is not None}
            response = client_for().post(path, data=sent)
            response.close()
            assert response.status_code < 500, f"POST {path} with {sent!r}: {response.status_code}"

        post()
        fuzzed += 1
    assert fuzzed > 60
