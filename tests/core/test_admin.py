"""Admin corrections: a user's name and email, merging organisations, deleting places,
sectors and organisations nothing uses. Each is checked through its page and its service."""

from datetime import date

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from analysis import routes as analysis_routes
from codesign import service as codesign_service
from codesign.models import Action
from core import service
from core.audit import AuditEntry
from core.models import Organisation, Place, Role, Sector
from surveys import importing, invitations
from surveys import service as survey_service
from surveys.models import Construct, Invitation, Response, ResponseImport, Survey
from tests.conftest import TEST_PASSWORD


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def error_summary(response) -> list[str]:
    return [link.get_text(strip=True) for link in page(response).select(".govuk-error-summary__list a")]


def last_entry(db_session) -> AuditEntry:
    return db_session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))


# --- a user's name and email ------------------------------------------------------------


def test_an_admin_changes_a_users_name_and_email_and_they_sign_in_with_the_new_one(client, db_session, make_user,
                                                                                     login):
    admin = make_user(Role.ADMIN)
    user = make_user(Role.EVALUATOR, email="sam.old@example.org")
    login(admin)
    form = page(client.get(f"/admin/users/{user.id}/details"))
    assert form.select_one("input[name=email]")["value"] == "sam.old@example.org"

    response = client.post(f"/admin/users/{user.id}/details",
                           data={"name": "Sam Jones", "email": "  Sam.Jones@Example.ORG "})
    assert response.status_code == 302 and response.location == f"/admin/users/{user.id}"
    db_session.refresh(user)
    assert (user.name, user.email) == ("Sam Jones", "sam.jones@example.org")
    entry = last_entry(db_session)
    assert (entry.action, entry.user_id) == ("user.details_changed", admin.id)
    assert entry.detail == "sam.old@example.org: name changed from " + entry.data["name"]["old"] + \
        " to Sam Jones; email changed from sam.old@example.org to sam.jones@example.org"

    client.post("/sign-out")
    old = client.post("/sign-in", data={"email": "sam.old@example.org", "password": TEST_PASSWORD})
    assert old.status_code == 200
    new = client.post("/sign-in", data={"email": "SAM.JONES@example.org", "password": TEST_PASSWORD})
    assert new.status_code == 302 and new.location == "/dashboard"


@pytest.mark.both_backends
def test_an_email_another_account_has_is_refused_whatever_its_case(client, db_session, make_user, login):
    login(make_user(Role.ADMIN))
    make_user(Role.COORDINATOR, email="taken@example.org")
    user = make_user(Role.EVALUATOR)
    response = client.post(f"/admin/users/{user.id}/details", data={"name": user.name, "email": "TAKEN@example.org"})
    assert response.status_code == 200
    assert error_summary(response) == ["Another account already uses this email address"]
    assert page(response).title.get_text().startswith("Error: ")
    db_session.refresh(user)
    assert user.email != "taken@example.org"


@pytest.mark.parametrize("field, value", [
    ("name", "Sam\tJones"), ("name", "Sam\nJones"), ("email", "sam\t@example.org"), ("email", "sam\r\n@example.org"),
])
def test_control_characters_in_a_name_or_email_are_refused(client, db_session, make_user, login, field, value):
    login(make_user(Role.ADMIN))
    user = make_user(Role.EVALUATOR)
    data = {"name": "Sam Jones", "email": "sam@example.org", field: value}
    response = client.post(f"/admin/users/{user.id}/details", data=data)
    assert response.status_code == 200
    [message] = error_summary(response)  # one message for the field, not one per check
    assert "must not contain unusual characters" in message
    db_session.refresh(user)
    assert user.name != "Sam Jones"


def test_the_service_refuses_control_characters_and_clashes_itself(db_session, make_user):
    admin = make_user(Role.ADMIN)
    user = make_user(Role.EVALUATOR)
    other = make_user(Role.EVALUATOR, email="other@example.org")
    with pytest.raises(service.ServiceError, match="unusual characters"):
        service.update_user_details(db_session, admin, user, "Sam\x1bJones", user.email)
    with pytest.raises(service.ServiceError, match="unusual characters"):
        service.update_user_details(db_session, admin, user, "Sam", "sam\x85@example.org")
    with pytest.raises(service.ServiceError, match="Another account"):
        service.update_user_details(db_session, admin, user, "Sam", " OTHER@example.org")
    before = db_session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()))
    service.update_user_details(db_session, admin, user, user.name, user.email.upper())  # nothing changes
    assert db_session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc())) == before
    assert other.email == "other@example.org"


@pytest.mark.both_backends
def test_a_delete_that_races_with_a_new_reference_changes_nothing(db_session, two_organisations, monkeypatch):
    """Between counting and deleting, something may start naming the row: the foreign key
    then refuses the whole transaction, and the admin is told to try again."""
    merged, _, _, _, admin = two_organisations
    monkeypatch.setattr(service, "_count_uses", lambda *args: {})
    with pytest.raises(service.ServiceError, match="Something started using Alpha Ltd"):
        service.delete_organisation(db_session, admin, merged)
    assert references(db_session, merged.id) == {"responses": 3, "invitations": 2, "actions": 1}
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "organisation.deleted")) is None


def test_the_user_page_links_to_changing_name_and_email(client, make_user, login):
    login(make_user(Role.ADMIN))
    user = make_user(Role.EVALUATOR)
    links = [a["href"] for a in page(client.get(f"/admin/users/{user.id}")).select("a")]
    assert f"/admin/users/{user.id}/details" in links


# --- merging organisations ----------------------------------------------------------------


@pytest.fixture
def two_organisations(db_session, make_place, make_sector, make_organisation, make_survey, make_user):
    """A and B in one place; A is named by a response, an invitation, a workshop action, an
    unfinished import's matching and the survey's remembered matching."""
    place = make_place()
    sector = make_sector()
    merged = make_organisation("Alpha Ltd", place=place, sector=sector)
    survivor = make_organisation("Alpha", place=place, sector=make_sector())
    admin = make_user(Role.ADMIN)
    survey = make_survey(places=[place], open_first_wave=True)
    wave = survey.waves[0]
    for i in range(3):
        survey_service.insert_response(db_session, wave, survey_service.Respondent(sector.id, place.id, merged.id),
                                       {}, f"merge-{merged.id}-{i}")
    survey_service.insert_response(db_session, wave, survey_service.Respondent(sector.id, place.id, survivor.id),
                                   {}, f"merge-{survivor.id}")
    invitations.create_invitations(
        db_session, wave, [invitations.Invitee("a@example.org", merged.id, sector.id, place.id),
                           invitations.Invitee("b@example.org", merged.id, sector.id, place.id)],
        "secret", "link-secret")
    workshop = codesign_service.create_workshop(db_session, place, "Workshop", date(2027, 3, 27), [], 5,
                                                ["How might we?"], None, None)
    codesign_service.add_action(db_session, workshop, "An action", merged.id, "Sam", None, date(2027, 6, 1),
                                db_session.scalar(select(Construct.id)), None)
    record = importing.start_import(db_session, wave, admin, "f.csv", b"org,cs_1\nAlpha Ltd,4\nBeta,3\n")
    record.columns = {"org": "organisation", "cs_1": "cs_1"}
    record.values = {"org": {"Alpha Ltd": merged.id, "Beta": survivor.id}, "cs_1": {"4": 4}}
    survey.import_mapping = {"columns": {"org": "organisation"},
                             "values": {"organisation": {"Alpha Ltd": merged.id}, "cs_1": {"Agree": 4}}}
    db_session.commit()
    return merged, survivor, survey, record, admin


def references(db_session, organisation_id: int) -> dict[str, int]:
    """How many rows of each kind name the organisation, read afresh from the database."""
    db_session.expire_all()
    return {
        "responses": len(db_session.scalars(select(Response.id).where(Response.organisation_id == organisation_id)).all()),
        "invitations": len(db_session.scalars(select(Invitation.id).where(Invitation.organisation_id == organisation_id)).all()),
        "actions": len(db_session.scalars(select(Action.id).where(Action.organisation_id == organisation_id)).all()),
    }


def test_every_foreign_key_to_an_organisation_is_one_a_merge_is_tested_with(app):
    """If a model gains another column naming an organisation, the merge moves it (the
    service reads the foreign keys), but this test must then be given a row of that kind."""
    keys = {(table.name, column.name) for table, column in service._foreign_keys_to("organisations")}
    assert keys == {("responses", "organisation_id"), ("invitations", "organisation_id"),
                    ("workshop_actions", "organisation_id")}
    places = {(table.name, column.name) for table, column in service._foreign_keys_to("places")}
    assert {("organisations", "place_id"), ("responses", "place_id"), ("workshops", "place_id"),
            ("user_places", "place_id"), ("survey_places", "place_id"), ("issued_briefings", "place_id")} <= places
    sectors = {(table.name, column.name) for table, column in service._foreign_keys_to("sectors")}
    assert {("organisations", "sector_id"), ("trust_ratings", "target_sector_id"),
            ("workshop_participants", "sector_id")} <= sectors


@pytest.mark.both_backends
def test_a_merge_moves_every_reference_to_the_survivor_in_one_go(db_session, two_organisations):
    merged, survivor, survey, record, admin = two_organisations
    merged_id = merged.id
    assert references(db_session, merged_id) == {"responses": 3, "invitations": 2, "actions": 1}

    moved = service.merge_organisations(db_session, admin, merged, survivor.id)
    assert str(moved) == "2 invitations, 3 responses, 1 workshop action, 2 saved import matchings"
    assert references(db_session, merged_id) == {"responses": 0, "invitations": 0, "actions": 0}
    assert references(db_session, survivor.id) == {"responses": 4, "invitations": 2, "actions": 1}
    assert db_session.get(Organisation, merged_id) is None
    assert db_session.get(ResponseImport, record.id).values == {
        "org": {"Alpha Ltd": survivor.id, "Beta": survivor.id}, "cs_1": {"4": 4}}
    assert db_session.get(Survey, survey.id).import_mapping["values"] == {
        "organisation": {"Alpha Ltd": survivor.id}, "cs_1": {"Agree": 4}}
    # Responses keep the sector they were given; only their organisation changed.
    sectors = set(db_session.scalars(select(Response.sector_id).where(Response.organisation_id == survivor.id)))
    assert merged.sector_id in sectors
    entry = last_entry(db_session)
    assert (entry.action, entry.user_id) == ("organisations.merged", admin.id)
    assert entry.detail.startswith(f"Alpha Ltd merged into Alpha in {survivor.place.name} (")
    assert entry.data["moved"] == {"invitations": 2, "responses": 3, "workshop_actions": 1, "response_imports": 2}


def test_a_merge_that_fails_part_way_changes_nothing(db_session, two_organisations, monkeypatch):
    merged, survivor, _, _, admin = two_organisations

    def broken(*args, **kwargs):
        raise RuntimeError("the audit log could not be written")

    monkeypatch.setattr(service.audit, "record", broken)
    with pytest.raises(RuntimeError):
        service.merge_organisations(db_session, admin, merged, survivor.id)
    db_session.rollback()
    assert references(db_session, merged.id) == {"responses": 3, "invitations": 2, "actions": 1}
    assert db_session.get(Organisation, merged.id) is not None


def test_organisations_in_different_places_or_the_same_one_cannot_be_merged(db_session, make_organisation,
                                                                            make_user):
    admin = make_user(Role.ADMIN)
    one, elsewhere = make_organisation(), make_organisation()
    with pytest.raises(service.ServiceError, match="only organisations in one place"):
        service.merge_organisations(db_session, admin, one, elsewhere.id)
    with pytest.raises(service.ServiceError, match="Select the organisation to merge into"):
        service.merge_organisations(db_session, admin, one, one.id)
    with pytest.raises(service.ServiceError, match="Select the organisation to merge into"):
        service.merge_organisations(db_session, admin, one, 0)


def test_the_merge_pages_choose_then_confirm_with_counts(client, db_session, two_organisations, login):
    merged, survivor, _, _, admin = two_organisations
    merged_id = merged.id
    login(admin)
    edit = page(client.get(f"/admin/organisations/{merged_id}/edit"))
    assert f"/admin/organisations/{merged_id}/merge" in [a["href"] for a in edit.select("#other-actions a")]
    choose = page(client.get(f"/admin/organisations/{merged_id}/merge"))
    assert [o.get_text() for o in choose.select("select[name=survivor] option")] == ["Select an organisation", "Alpha"]

    refused = client.post(f"/admin/organisations/{merged_id}/merge", data={"survivor": "0"})
    assert error_summary(refused) == ["Select the organisation to merge into from the list"]

    chosen = client.post(f"/admin/organisations/{merged_id}/merge", data={"survivor": str(survivor.id)})
    assert chosen.status_code == 302
    assert chosen.location == f"/admin/organisations/{merged_id}/merge/confirm?into={survivor.id}"
    confirm = page(client.get(chosen.location))
    assert confirm.h1.get_text() == "Merge Alpha Ltd into Alpha?"
    assert [li.get_text() for li in confirm.select("#what-moves li")] == [
        "2 invitations", "3 responses", "1 workshop action", "2 saved import matchings"]
    assert references(db_session, merged_id)["responses"] == 3  # nothing moved yet

    done = client.post(chosen.location)
    assert done.status_code == 302 and done.location == "/admin/organisations"
    assert references(db_session, merged_id) == {"responses": 0, "invitations": 0, "actions": 0}
    assert "Alpha Ltd merged into Alpha." in client.get("/admin/organisations").get_data(as_text=True)


def test_a_confirmation_for_a_bad_choice_goes_back_to_choosing(client, make_organisation, make_user, login):
    login(make_user(Role.ADMIN))
    one = make_organisation()
    for query in ("", f"?into={one.id}", "?into=x", f"?into={make_organisation().id}"):
        response = client.post(f"/admin/organisations/{one.id}/merge/confirm{query}")
        assert response.status_code == 302 and response.location == f"/admin/organisations/{one.id}/merge"


def test_a_merge_changes_the_results_data_version(app, db_session, make_answered_survey, make_user):
    """Figures are cached under the survey's data version: a merge may take a cell under
    the organisation rule, so the cached figures must not be found again."""
    survey = make_answered_survey(per_sector=6)
    admin = make_user(Role.ADMIN)
    organisation_ids = sorted(set(db_session.scalars(
        select(Response.organisation_id).where(Response.wave_id == survey.waves[0].id))))
    merged, survivor = (db_session.get(Organisation, i) for i in organisation_ids[:2])
    if merged.place_id != survivor.place_id:  # make_answered_survey puts them in one place
        pytest.fail("expected organisations in one place")
    with app.test_request_context():
        before = analysis_routes.data_version(survey)
    service.merge_organisations(db_session, admin, merged, survivor.id)
    with app.test_request_context():
        after = analysis_routes.data_version(db_session.get(Survey, survey.id))
    assert after != before


# --- deleting places, sectors and organisations ---------------------------------------------


def test_unused_place_sector_and_organisation_are_deleted_and_logged(client, db_session, make_place, make_sector,
                                                                   make_organisation, make_user, login):
    admin = make_user(Role.ADMIN)
    login(admin)
    place, sector = make_place("Nowhere"), make_sector("Nobody")
    organisation = make_organisation("Unused Org")
    ids = place.id, sector.id, organisation.id
    for path, listing, model, row_id, code in [
        (f"/admin/organisations/{organisation.id}/delete", "/admin/organisations", Organisation, ids[2],
         "organisation.deleted"),
        (f"/admin/places/{place.id}/delete", "/places", Place, ids[0], "place.deleted"),
        (f"/admin/sectors/{sector.id}/delete", "/admin/sectors", Sector, ids[1], "sector.deleted"),
    ]:
        shown = page(client.get(path))
        assert shown.select_one("button.govuk-button--warning")
        response = client.post(path)
        assert response.status_code == 302 and response.location == listing, path
        assert db_session.scalar(select(model.id).where(model.id == row_id)) is None
        entry = last_entry(db_session)
        assert (entry.action, entry.user_id, entry.data["id"]) == (code, admin.id, row_id)


def test_what_is_used_is_not_deleted_and_the_page_says_what_uses_it(client, db_session, two_organisations, login):
    merged, survivor, survey, _, admin = two_organisations
    login(admin)
    place = merged.place
    page_ = page(client.get(f"/admin/organisations/{merged.id}/delete"))
    assert page_.h1.get_text() == "Alpha Ltd is still in use"
    assert [li.get_text() for li in page_.select("#still-used-by li")] == [
        "2 invitations", "3 responses", "1 workshop action"]
    assert not page_.select("main form button")
    response = client.post(f"/admin/organisations/{merged.id}/delete")
    assert response.status_code == 302 and response.location == f"/admin/organisations/{merged.id}/delete"
    message = page(client.get(response.location)).select_one(".govuk-notification-banner").get_text(" ", strip=True)
    assert "Alpha Ltd cannot be deleted because it is still used by 2 invitations, 3 responses, 1 workshop action" \
        in message
    assert db_session.get(Organisation, merged.id) is not None

    place_uses = page(client.get(f"/admin/places/{place.id}/delete"))
    uses = [li.get_text() for li in place_uses.select("#still-used-by li")]
    assert {"2 organisations", "1 survey", "2 invitations", "4 responses", "1 workshop"} <= set(uses)
    with pytest.raises(service.ServiceError, match="still used by"):
        service.delete_place(db_session, admin, place)
    with pytest.raises(service.ServiceError, match="1 organisation"):
        service.delete_sector(db_session, admin, survivor.sector)


@pytest.mark.both_backends
def test_a_sector_the_trust_questions_ask_about_is_not_deleted(db_session, make_sector, make_survey, make_user):
    admin = make_user(Role.ADMIN)
    sector = make_sector()
    survey = make_survey()
    survey.trust_sector_ids = [sector.id]
    db_session.commit()
    with pytest.raises(service.ServiceError, match="1 survey asking about trust in it"):
        service.delete_sector(db_session, admin, sector)


def test_deleting_an_organisation_forgets_saved_matchings_that_name_it(db_session, make_organisation, make_survey,
                                                                       make_user):
    admin = make_user(Role.ADMIN)
    organisation = make_organisation()
    survey = make_survey(places=[organisation.place])
    survey.import_mapping = {"columns": {}, "values": {"organisation": {"Org": organisation.id, "Other": 999}}}
    db_session.commit()
    service.delete_organisation(db_session, admin, organisation)
    db_session.expire_all()
    assert db_session.get(Survey, survey.id).import_mapping["values"]["organisation"] == {"Other": 999}


def test_delete_pages_are_linked_from_the_edit_pages(client, make_place, make_organisation, make_user, login):
    login(make_user(Role.ADMIN))
    organisation = make_organisation()
    place = make_place()
    links = [a["href"] for a in page(client.get(f"/admin/places/{place.id}/edit")).select("#other-actions a")]
    assert links == [f"/admin/places/{place.id}/delete"]
    links = [a["href"] for a in page(client.get(f"/admin/sectors/{organisation.sector_id}/edit")).select("#other-actions a")]
    assert links == [f"/admin/sectors/{organisation.sector_id}/delete"]
    links = [a["href"] for a in page(client.get(f"/admin/organisations/{organisation.id}/edit")).select("#other-actions a")]
    assert links == [f"/admin/organisations/{organisation.id}/merge", f"/admin/organisations/{organisation.id}/delete"]


def test_only_admins_open_these_pages(client, make_organisation, make_user, login):
    organisation = make_organisation()
    user = make_user(Role.EVALUATOR)
    login(make_user(Role.COORDINATOR, places=[organisation.place]))
    for path in (f"/admin/users/{user.id}/details", f"/admin/organisations/{organisation.id}/merge",
                 f"/admin/organisations/{organisation.id}/merge/confirm?into=1",
                 f"/admin/organisations/{organisation.id}/delete", f"/admin/places/{organisation.place_id}/delete",
                 f"/admin/sectors/{organisation.sector_id}/delete"):
        assert client.get(path).status_code == 403, path
        assert client.post(path).status_code == 403, path
