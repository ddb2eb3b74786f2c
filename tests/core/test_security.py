"""Access rules for every route, CSRF, headers, cookies and the sign-in rate limit."""

import io
import re
import uuid
from datetime import date
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from briefings.models import IssuedBriefing
from codesign import service as codesign_service
from core import service
from surveys import importing
from surveys import invitations
from core.models import Organisation, Place, Role
from surveys.instruments import QUOTE_CONSENT_CODE, QUOTE_CONSENT_YES
from surveys.models import Answer, Response
from surveys.models import Construct
from core.security import ANYONE
from tests.conftest import TEST_PASSWORD, TEST_REDIS_URL, sign_in, statements_during

IDENTITIES = ["anonymous", *Role]
ALWAYS_PUBLIC = {"static"}  # Flask's own static files


def survey_objects(db_session, make_survey, make_answered_survey, places, organisation):
    """A survey over `places` with an open wave and an invitation in the first place, and
    (for the results pages, which need two waves with responses) one answered there."""
    survey = make_survey(places=places, open_first_wave=True)
    wave = survey.waves[0]
    [link] = invitations.create_invitations(
        db_session, wave,
        [invitations.Invitee("r@example.org", organisation.id, organisation.sector_id, places[0].id)], "secret", "link-secret",
    )
    answered = make_answered_survey(places=places, per_sector=5, sector_names=["Health and care", "Funder", "Housing"])
    current = answered.waves[-1]
    # A free-text answer its respondent agreed to have quoted, and a briefing issued for
    # the first place: the quote and issued-briefing pages have something to show.
    quoted = db_session.scalar(select(Response.id).where(Response.wave_id == current.id).order_by(Response.id))
    db_session.add_all([Answer(response_id=quoted, item_code="one_thing", text_value="Keep the weekly call going."),
                        Answer(response_id=quoted, item_code=QUOTE_CONSENT_CODE, numeric_value=QUOTE_CONSENT_YES)])
    issued = IssuedBriefing(
        survey_id=answered.id, place_id=places[0].id, reference_wave_id=answered.waves[0].id,
        current_wave_id=current.id, foreword="Foreword", filename="briefing.pdf", pdf=b"%PDF-1.7",
        sha256="0" * 64, data_version="0" * 64, verdicts={}, headline="Nothing is slipping.",
    )
    db_session.add(issued)
    db_session.flush()
    return wave, {
        "survey_id": survey.id,
        "wave_id": wave.id,
        "item_id": wave.instrument.items[0].id,
        "slug": wave.open_link_slug,
        "respondent_token": link.token,
        "answered_survey_id": answered.id,
        "answered_wave_id": current.id,
        "response_id": quoted,
        "item_code": "one_thing",
        "issued_id": issued.id,
    }


def fresh_invitation(db_session, wave, place) -> int:
    """An invitation nobody has answered, revoked or replaced: an earlier role's POST may have."""
    sector = db_session.scalar(select(Organisation.sector_id).where(Organisation.place_id == place.id))
    [link] = invitations.create_invitations(
        db_session, wave, [invitations.Invitee(f"{uuid.uuid4().hex}@example.org", None, sector, place.id)],
        "secret", "link-secret")
    return link.invitation.id


def workshop_objects(db_session, place, organisation, construct_id: int) -> dict:
    """An open workshop in `place` with an idea, a group and an action, for the workshop pages."""
    workshop = codesign_service.create_workshop(db_session, place, "Workshop", date(2027, 3, 27), [], 5,
                                                ["How might we?"], None, None)
    code = codesign_service.open_workshop(db_session, workshop)
    codesign_service.move_to(db_session, workshop, "ideas")
    idea = codesign_service.add_idea(db_session, workshop, None, "An idea", uuid.uuid4().hex, paper=True)
    cluster = codesign_service.add_cluster(db_session, workshop, "A group")
    action = codesign_service.add_action(db_session, workshop, "An action", organisation.id, "Sam", None,
                                         date(2027, 6, 1), construct_id, None)
    db_session.flush()
    return {"workshop_id": workshop.id, "code": code, "idea_id": idea.id, "cluster_id": cluster.id,
            "action_id": action.id, "action_token": codesign_service.action_token("test-secret-key", action)}


@pytest.fixture
def route_objects(db_session, make_place, make_sector, make_organisation, make_user, make_survey, make_answered_survey):
    """One object of each kind named in a URL, in a place the scoped roles belong to."""
    place = make_place()
    organisation = make_organisation(place=place, sector=make_sector())
    target = make_user(Role.EVALUATOR)
    users = {role: make_user(role, places=[place]) for role in Role}
    wave, in_survey = survey_objects(db_session, make_survey, make_answered_survey, [place], organisation)
    values = {
        "place_id": place.id,
        "sector_id": organisation.sector_id,
        "organisation_id": organisation.id,
        "user_id": target.id,
        "filename": "manifest.json",
        **in_survey,
        "index": 0,
        "direction": "up",
        "construct": "trust",
        "sector": "Health and care",
        "part": "responses",
        "table": "items",
    }
    values.update(workshop_objects(db_session, place, organisation, db_session.scalar(select(Construct.id))))

    def refresh() -> None:
        """New single-use objects: an earlier role's POST may have used them up."""
        values["token"] = service.renew_set_password_link(db_session, target)
        values["import_id"] = importing.start_import(
            db_session, wave, users[Role.ADMIN], "f.csv", b"sector,cs_1\nFunder,4\n"
        ).id
        done = importing.start_import(db_session, wave, users[Role.ADMIN], "done.csv",
                                      b"id,sector,cs_1\n%s,Funder,4\n" % uuid.uuid4().hex.encode())
        importing.commit_import(db_session, done, [place], actor=None)
        values["imported_id"] = done.id  # an import carried out, to undo
        values["invitation_id"] = fresh_invitation(db_session, wave, place)

    refresh()
    return values, users, refresh


@pytest.fixture
def spanning_objects(db_session, route_objects, make_place, make_survey, make_answered_survey):
    """The same users, with surveys over their place and a place nobody is assigned to:
    the coordinator covers only some of the surveys' places. URLs naming a place name
    the unassigned one."""
    values, users, refresh_values = route_objects
    place = db_session.get(Place, values["place_id"])
    unassigned = make_place()
    organisation = db_session.get(Organisation, values["organisation_id"])
    wave, in_survey = survey_objects(db_session, make_survey, make_answered_survey, [place, unassigned], organisation)
    spanning = {**values, **in_survey, "place_id": unassigned.id}

    def refresh() -> None:
        refresh_values()
        spanning["token"] = values["token"]
        spanning["import_id"] = importing.start_import(
            db_session, wave, users[Role.ADMIN], "f.csv", b"sector,place,cs_1\nFunder,%s,4\n" % place.name.encode()
        ).id
        done = importing.start_import(db_session, wave, users[Role.ADMIN], "done.csv", b"id,sector,place,cs_1\n%s,Funder,%s,4\n"
                                      % (uuid.uuid4().hex.encode(), place.name.encode()))
        importing.commit_import(db_session, done, [place], actor=None)
        spanning["imported_id"] = done.id
        spanning["invitation_id"] = fresh_invitation(db_session, wave, place)

    refresh()
    return spanning, users, refresh, place, unassigned


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ALWAYS_PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def build_path(rule, values) -> str:
    path = rule.rule
    for argument in rule.arguments:
        if rule.endpoint == "govuk_frontend":
            value = "govuk-frontend.min.js"
        elif rule.endpoint.startswith("surveys.token_") and argument == "token":
            value = values["respondent_token"]
        elif rule.endpoint.startswith(("analysis.", "briefings.")) and argument == "survey_id":
            value = values["answered_survey_id"]
        elif rule.endpoint.startswith("briefings.") and argument == "wave_id":
            value = values["answered_wave_id"]
        else:
            value = values[argument]
        path = re.sub(rf"<(?:[a-z]+:)?{argument}>", str(value), path)
    return path


def test_every_route_states_its_roles(app):
    missing = [
        rule.endpoint for rule in app.url_map.iter_rules()
        if rule.endpoint not in ALWAYS_PUBLIC and not hasattr(app.view_functions[rule.endpoint], "allowed_roles")
    ]
    assert missing == []


def test_admin_pages_are_for_admins_only(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin"):
            assert app.view_functions[rule.endpoint].allowed_roles == {Role.ADMIN}, rule.rule


# Refused to a coordinator of only some of a survey's places: what changes the survey for
# every place, and an import someone else started (its file may hold any place's rows).
NOT_FOR_A_PARTIAL_COORDINATOR = {
    "surveys.settings", "surveys.new_wave", "surveys.edit_item", "surveys.move_item", "surveys.delete_item",
    "surveys.open_wave", "surveys.close_wave", "surveys.erase_identities",
    "surveys.import_columns", "surveys.import_values", "surveys.import_preview", "audit.survey_log",
    "surveys.import_undo", "surveys.wave_schedule",
    "surveys.import_replace",
}


def walk_route_table(app, values, users, refresh, refused=lambda identity, rule: False) -> int:
    """Every route with every identity: allowed roles get 200 or 302 (not to sign in)
    unless `refused` says the objects in the URL are not theirs, then 403 like any
    other role; anonymous visitors are sent to sign in."""
    checked = 0
    for identity in IDENTITIES:
        refresh()
        client = app.test_client()
        if identity != "anonymous":
            assert sign_in(client, users[identity]).status_code == 302
        for rule, method in routes(app):
            if rule.endpoint == "core.sign_out":
                continue  # would end this client's session; checked below
            allowed = app.view_functions[rule.endpoint].allowed_roles
            path = build_path(rule, values)
            response = client.open(path, method=method, data={})
            response.close()  # file responses stream until closed
            where = f"{identity} {method} {path} -> {response.status_code}"
            if identity in allowed and not refused(identity, rule):
                assert response.status_code in (200, 302), where
                if response.status_code == 302:
                    assert not response.location.startswith("/sign-in"), where
            elif identity == "anonymous":
                assert response.status_code == 302 and response.location.startswith("/sign-in"), where
            else:
                assert response.status_code == 403, where
            checked += 1
    return checked


# A closed wave's responses change only by an admin's import (each change logged and shown).
ADMINS_ONLY_AFTER_CLOSING = {"surveys.import_upload", "surveys.import_columns", "surveys.import_values",
                             "surveys.import_preview", "surveys.import_undo",
                             "surveys.import_replace"}


def test_route_table_with_every_role(app, route_objects):
    values, users, refresh = route_objects[:3]

    def refused(identity, rule) -> bool:
        return identity == Role.COORDINATOR and rule.endpoint in ADMINS_ONLY_AFTER_CLOSING

    assert walk_route_table(app, values, users, refresh, refused) > 5 * 20


def test_route_table_with_a_survey_spanning_an_unassigned_place(app, spanning_objects):
    values, users, refresh, _, _ = spanning_objects

    def refused(identity, rule) -> bool:
        if identity == Role.COORDINATOR and rule.endpoint in NOT_FOR_A_PARTIAL_COORDINATOR | ADMINS_ONLY_AFTER_CLOSING:
            return True
        return identity in (Role.COORDINATOR, Role.FACILITATOR) and "place_id" in rule.arguments  # the unassigned place

    assert walk_route_table(app, values, users, refresh, refused) > 5 * 20


# Pages of a survey that take no place from the query string: they list only the user's
# own places' quotes and briefings (tests/briefings).
NOT_A_SELECTION = {"briefings.issued", "briefings.quote_review"}


def test_results_for_a_place_or_all_places_with_every_role(app, spanning_objects):
    """A coordinator of one of the survey's places sees that place's figures (by default)
    and no other's, nor all places' together; admins and evaluators see any."""
    values, users, _, own, unassigned = spanning_objects
    rules = [rule for rule, method in routes(app) if method == "GET" and "survey_id" in rule.arguments
             and rule.endpoint.startswith(("analysis.", "briefings.")) and rule.endpoint not in NOT_A_SELECTION]
    assert len(rules) > 5
    for identity in IDENTITIES:
        client = app.test_client()
        if identity != "anonymous":
            sign_in(client, users[identity])
        for rule in rules:
            path = build_path(rule, values)
            for place in (own.id, unassigned.id, ""):
                response = client.get(path, query_string={"place": place})
                response.close()
                where = f"{identity} {path}?place={place} -> {response.status_code}"
                if identity == "anonymous":
                    assert response.status_code == 302 and response.location.startswith("/sign-in"), where
                elif identity == Role.FACILITATOR or (identity == Role.COORDINATOR and place != own.id):
                    assert response.status_code == 403, where
                elif place == unassigned.id and rule.endpoint != "analysis.comparison":
                    assert response.status_code == 404, where  # nobody answered there: nothing to draw
                else:
                    assert response.status_code == 200, where


def test_sign_out_route(app, route_objects, subtests):
    _, users, _ = route_objects
    for identity in IDENTITIES:
        with subtests.test(identity=identity):
            client = app.test_client()
            if identity != "anonymous":
                sign_in(client, users[identity])
            response = client.post("/sign-out")
            assert response.status_code == 302
            expected = "/sign-in" if identity == "anonymous" else "/"
            assert response.location.startswith(expected)


def test_unknown_ids_are_404_for_admins(app, route_objects):
    _, users, _ = route_objects
    client = app.test_client()
    sign_in(client, users[Role.ADMIN])
    for rule, method in routes(app):
        if method == "GET" and re.search(r"<int:\w+_id>", rule.rule):
            path = build_path(rule, {arg: 999_999 for arg in [*rule.arguments, "answered_survey_id", "answered_wave_id"]})
            assert client.get(path).status_code == 404, path


def test_scoped_roles_cannot_open_other_places(client, make_user, make_place, login):
    other = make_place()
    for role in (Role.COORDINATOR, Role.FACILITATOR):
        login(make_user(role))
        assert client.get(f"/places/{other.id}").status_code == 403
        client.post("/sign-out")


# --- CSRF ----------------------------------------------------------------------------


def csrf_token(response) -> str:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").select_one("input[name=csrf_token]")["value"]


def test_post_without_csrf_token_is_refused(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    user = make_user(Role.ADMIN)
    response = client.post("/sign-in", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "Your form could not be sent" in response.get_data(as_text=True)

    token = csrf_token(client.get("/sign-in"))
    response = client.post("/sign-in", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302

    # Signed in, a forged admin form post is refused too.
    response = client.post("/admin/places/new", data={"name": "Forged"})
    assert response.status_code == 400
    token = csrf_token(client.get("/admin/places/new"))
    assert client.post("/admin/places/new", data={"name": "Real", "csrf_token": token}).status_code == 302


def test_every_post_route_refuses_a_missing_csrf_token(make_app, route_objects):
    values, users, _ = route_objects
    app = make_app(WTF_CSRF_ENABLED=True)
    for identity in ("anonymous", Role.ADMIN):
        client = app.test_client()
        if identity == Role.ADMIN:
            page = client.get("/sign-in")
            client.post("/sign-in", data={"email": users[Role.ADMIN].email, "password": TEST_PASSWORD, "csrf_token": csrf_token(page)})
        checked = 0
        for rule, method in routes(app):
            if method != "POST" or identity not in app.view_functions[rule.endpoint].allowed_roles:
                continue
            response = client.post(build_path(rule, values), data={})
            assert response.status_code == 400, f"{identity} POST {rule.rule}"
            assert "Your form could not be sent" in response.get_data(as_text=True)
            checked += 1
        assert checked >= 2


def test_sign_out_needs_csrf_token(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    user = make_user(Role.EVALUATOR)
    client.post("/sign-in", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": csrf_token(client.get("/sign-in"))})
    assert client.post("/sign-out").status_code == 400
    assert client.get("/dashboard").status_code == 200


# --- control characters ----------------------------------------------------------------

UNUSUAL = "unusual characters (such as a null character)"


def form_fields(html: str, path: str) -> dict[str, str]:
    """The fields of the page's form that posts to `path`, with the values it would send."""
    page = BeautifulSoup(html, "html.parser")
    forms = [
        form for form in page.select("form[method=post]")
        if urlsplit(form.get("action") or path).path == path
    ]
    if not forms:
        return {}
    fields = {}
    for field in forms[0].select("input[name], textarea[name], select[name]"):
        kind = field.get("type", "text")
        if kind == "submit" or (kind in ("radio", "checkbox") and field["name"] in fields):
            continue
        if field.name == "textarea":
            fields[field["name"]] = field.get_text()
        elif field.name == "select":
            option = field.select_one("option[selected]") or field.select_one("option")
            fields[field["name"]] = option["value"] if option else ""
        else:
            fields[field["name"]] = field.get("value", "")
    return fields


# PostgreSQL cannot store a NUL in text at all, SQLite can: refused before either sees it.
@pytest.mark.both_backends
def test_a_null_character_in_any_field_of_any_form_is_refused(app, route_objects, subtests):
    """Every POST route (one subtest each), on one set of objects: each post is refused,
    so it changes nothing the next route needs."""
    values, users, _ = route_objects
    # Read from the app's own route table, so a new route is covered.
    post_rules = sorted(rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods)
    assert len(post_rules) > 50
    for rule_text in post_rules:
        with subtests.test(rule=rule_text):
            rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_text and "POST" in r.methods)
            allowed = app.view_functions[rule.endpoint].allowed_roles
            identity = next(who for who in ("anonymous", Role.ADMIN, Role.COORDINATOR) if who in allowed)
            client = app.test_client()
            if identity != "anonymous":
                assert sign_in(client, users[identity]).status_code == 302
            path = build_path(rule, values)
            page = client.get(path) if "GET" in rule.methods else None
            fields = form_fields(page.get_data(as_text=True), path) if page and page.status_code == 200 else {}
            # A form of only a button (or one this client cannot reach) still sends its CSRF token.
            fields = fields or {"csrf_token": "token"}
            for name in fields:
                response = client.post(path, data=fields | {name: fields[name] + "a\x00b"})
                where = f"{identity} POST {path} with a NUL in {name}: {response.status_code}"
                assert response.status_code == 400, where
                assert UNUSUAL in response.get_data(as_text=True), where


@pytest.mark.both_backends
def test_sign_in_with_a_null_character_never_reaches_the_database(app, client):
    response, statements = statements_during(
        app, lambda: client.post("/sign-in", data={"email": "a\x00@example.org", "password": "x"})
    )
    assert response.status_code == 400 and UNUSUAL in response.get_data(as_text=True)
    assert statements == []


@pytest.mark.parametrize(
    "path, status",
    [
        ("/o/abc%00def", 404),
        ("/s/abc%01def/0", 404),
        ("/s/abc%C2%85def", 404),  # NEL, a C1 control
        ("/places/1%0A", 404),
        ("/sign-in?next=/dashboard%00", 400),
        ("/sign-in?ne%00xt=/", 400),
        ("/o/abc?x=a%09b", 400),  # a tab is fine in a text answer, never in a web address
    ],
)
@pytest.mark.both_backends
def test_control_characters_in_a_web_address_never_reach_the_database(app, client, path, status):
    response, statements = statements_during(app, lambda: client.get(path))
    assert response.status_code == status
    assert statements == []
    if status == 400:
        assert "from the web address" in response.get_data(as_text=True)


def test_control_characters_in_a_file_name_are_refused(client, make_user, login):
    login(make_user(Role.ADMIN))
    response = client.post(
        "/admin/organisations/import", data={"file": (io.BytesIO(b"name,sector,place\n"), "orgs\x07.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and UNUSUAL in response.get_data(as_text=True)


@pytest.mark.parametrize("character", ["\x0b", "\x1b", "\x7f", "\x9b"])
def test_other_control_characters_are_refused_too(client, make_user, login, character):
    login(make_user(Role.ADMIN))
    response = client.post("/admin/places/new", data={"name": f"Brackenford{character}"})
    assert response.status_code == 400 and UNUSUAL in response.get_data(as_text=True)


def test_line_breaks_tabs_and_bidi_marks_are_kept_in_text(client, db_session, make_user, login):
    login(make_user(Role.ADMIN))
    description = "First line\r\nSecond\tline \u202eReversed\u202c and \u2067isolated\u2069"
    response = client.post("/admin/places/new", data={"name": "Bidi \u202eTown\u202c", "description": description})
    assert response.status_code == 302
    place = db_session.scalar(select(Place).where(Place.name == "Bidi \u202eTown\u202c"))
    assert place.description == description


# --- headers and cookies ---------------------------------------------------------------


def test_security_headers(client):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", policy).group(1)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)
    inline_scripts = BeautifulSoup(response.get_data(as_text=True), "html.parser").select("script:not([src])")
    assert inline_scripts and all(script["nonce"] == nonce for script in inline_scripts)
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert client.get("/").headers["Content-Security-Policy"] != policy  # a fresh nonce each time


@pytest.mark.parametrize("debug, secure", [(False, True), (True, False)])
def test_session_cookie_flags(make_app, make_user, debug, secure):
    app = make_app(SESSION_COOKIE_SECURE=None, DEBUG=debug)
    user = make_user(Role.EVALUATOR)
    response = app.test_client().post("/sign-in", data={"email": user.email, "password": TEST_PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure


# --- limits on failed sign-ins ----------------------------------------------------------

STORAGES = ["memory://"] + ([TEST_REDIS_URL] if TEST_REDIS_URL else [])


def limited_app(make_app, storage="memory://", **settings):
    return make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=storage, RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4()}", **settings
    )


def sign_in_from(client, address, email, password, how="remote_addr"):
    """A sign-in from `address`, given as the peer's address or by a proxy's X-Forwarded-For."""
    if how == "proxy":
        return client.post("/sign-in", data={"email": email, "password": password}, headers={"X-Forwarded-For": address})
    return client.post("/sign-in", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address})


# Named by scheme: each xdist worker has its own Redis URL, and every worker must collect
# the same test names.
@pytest.mark.parametrize("storage", STORAGES, ids=lambda url: url.split(":")[0])
def test_five_failed_sign_ins_a_minute_are_refused(make_app, make_user, storage):
    client = limited_app(make_app, storage).test_client()
    user = make_user(Role.EVALUATOR)
    for _ in range(5):
        assert sign_in(client, user, "wrong password").status_code == 200
    response = sign_in(client, user)  # even the right password waits now
    assert response.status_code == 429
    assert "Too many failed sign-in attempts from your network" in response.get_data(as_text=True)
    # Another address is not affected.
    other = client.post(
        "/sign-in", data={"email": user.email, "password": TEST_PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.8.7"}
    )
    assert other.status_code == 302


def test_only_failed_sign_ins_count(make_app, make_user):
    client = limited_app(make_app).test_client()
    user = make_user(Role.EVALUATOR)
    for _ in range(4):
        assert sign_in(client, user, "wrong password").status_code == 200
    for _ in range(6):
        assert sign_in(client, user).status_code == 302
        client.post("/sign-out")
    assert sign_in(client, user, "wrong password").status_code == 200  # the fifth failure
    assert sign_in(client, user).status_code == 429


def test_a_form_with_a_field_missing_is_not_a_failed_sign_in(make_app, make_user):
    client = limited_app(make_app).test_client()
    user = make_user(Role.EVALUATOR)
    for _ in range(8):
        assert client.post("/sign-in", data={"email": user.email}).status_code == 200
    assert sign_in(client, user).status_code == 302


@pytest.mark.parametrize("how", ["remote_addr", "proxy"])
def test_an_account_failing_from_many_addresses_is_locked_for_everyone(make_app, make_user, how):
    app = limited_app(make_app, PROXY_FIX_X_FOR=1 if how == "proxy" else 0)
    client = app.test_client()
    user, bystander = make_user(Role.EVALUATOR), make_user(Role.EVALUATOR)
    for attempt in range(10):  # two failures from each of five addresses: none of them is limited
        assert sign_in_from(client, f"198.51.100.{attempt // 2}", user.email, "wrong", how).status_code == 200
    # The right password from an address that never failed is refused too, and says for how long.
    response = sign_in_from(client, "203.0.113.9", user.email, TEST_PASSWORD, how)
    assert response.status_code == 429
    text = response.get_data(as_text=True)
    assert "This account is locked for a short time" in text and "Try again in 15 minutes." in text
    # Other accounts, from the same addresses, are not affected.
    assert sign_in_from(client, "198.51.100.0", bystander.email, TEST_PASSWORD, how).status_code == 302


def test_an_email_address_without_an_account_is_locked_alike(make_app):
    client = limited_app(make_app).test_client()
    for attempt in range(10):
        sign_in_from(client, f"198.51.100.{attempt}", "Nobody@Example.org", "guess")
    response = sign_in_from(client, "203.0.113.9", "nobody@example.org ", "guess")
    assert response.status_code == 429 and "This account is locked" in response.get_data(as_text=True)


def test_sign_in_limits_with_csrf_on(make_app, make_user):
    client = limited_app(make_app, WTF_CSRF_ENABLED=True).test_client()
    user = make_user(Role.EVALUATOR)
    for _ in range(6):  # a form without its token is refused before any password is checked
        assert client.post("/sign-in", data={"email": user.email, "password": "wrong"}).status_code == 400
    for _ in range(5):
        token = csrf_token(client.get("/sign-in"))
        response = client.post("/sign-in", data={"email": user.email, "password": "wrong", "csrf_token": token})
        assert response.status_code == 200
    token = csrf_token(client.get("/sign-in"))
    response = client.post("/sign-in", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 429


@pytest.mark.skipif(not TEST_REDIS_URL, reason="set TEST_REDIS_URL to test sign-in limits shared through Redis")
def test_workers_sharing_redis_count_failures_together(make_app, make_user):
    prefix = f"test-{uuid.uuid4()}"
    workers = [
        make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=TEST_REDIS_URL, RATELIMIT_KEY_PREFIX=prefix)
        for _ in range(2)
    ]
    clients = [worker.test_client() for worker in workers]
    user, other = make_user(Role.EVALUATOR), make_user(Role.EVALUATOR)
    for attempt in range(5):  # from one address, alternating workers
        assert sign_in(clients[attempt % 2], user, "wrong").status_code == 200
    assert sign_in(clients[0], user).status_code == 429
    assert sign_in(clients[1], user).status_code == 429
    for attempt in range(10):  # one account, from many addresses, alternating workers
        sign_in_from(clients[attempt % 2], f"198.51.100.{attempt}", other.email, "wrong")
    for client in clients:
        assert "This account is locked" in sign_in_from(client, "203.0.113.9", other.email, TEST_PASSWORD).get_data(as_text=True)


@pytest.mark.parametrize(
    "settings, warned",
    [
        ({"TESTING": False}, True),
        ({"TESTING": False, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379"}, False),
        ({"TESTING": False, "DEBUG": True}, False),
        ({"TESTING": False, "RATELIMIT_ENABLED": False}, False),
        ({}, False),  # a test run
    ],
)
def test_in_memory_sign_in_limits_are_warned_about_at_start_up(make_app, caplog, settings, warned):
    make_app(**{"RATELIMIT_ENABLED": True} | settings)
    warnings = [r.getMessage() for r in caplog.records if "RATELIMIT_STORAGE_URI" in r.getMessage()]
    assert bool(warnings) is warned
    if warned:
        assert "each gunicorn worker counts separately" in warnings[0]


def test_anyone_constant_covers_every_role():
    assert ANYONE == {"anonymous", *Role}
