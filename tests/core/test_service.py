from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from core import service
from core.db import utcnow
from core.models import Organisation, Role, SetPasswordToken
from tests.conftest import TEST_PASSWORD, count


def test_authenticate_accepts_right_password_only(db_session, make_user):
    user = make_user(email="Someone@Example.org")
    assert service.authenticate(db_session, " someone@example.ORG ", TEST_PASSWORD) == user
    assert service.authenticate(db_session, "someone@example.org", "wrong password") is None
    assert service.authenticate(db_session, "nobody@example.org", TEST_PASSWORD) is None


def test_authenticate_refuses_deactivated_and_invited_users(db_session, make_user):
    deactivated = make_user(active=False)
    invited = make_user(password_hash=None)
    assert service.authenticate(db_session, deactivated.email, TEST_PASSWORD) is None
    assert service.authenticate(db_session, invited.email, TEST_PASSWORD) is None


def test_passwords_are_hashed_with_scrypt(db_session):
    user = service.create_user(db_session, "a@example.org", "A", Role.EVALUATOR, password="a long passphrase", actor=None)
    assert user.password_hash.startswith("scrypt:")
    assert "a long passphrase" not in user.password_hash
    assert check_password_hash(user.password_hash, "a long passphrase")


def test_invite_stores_only_a_hash_of_the_link_token(db_session, make_place):
    place = make_place()
    user, token = service.invite_user(db_session, "new@example.org", "New Person", Role.COORDINATOR, [place.id], actor=None)
    stored = db_session.scalars(select(SetPasswordToken).where(SetPasswordToken.user_id == user.id)).one()
    assert stored.token_hash == service.hash_token(token)
    assert token not in stored.token_hash
    assert user.password_hash is None
    assert user.places == [place]


def test_set_password_link_works_once(db_session, make_user):
    user = make_user(password_hash=None)
    token = service.renew_set_password_link(db_session, user)
    assert service.set_password_with_token(db_session, token, "first new password") == user
    assert service.authenticate(db_session, user.email, "first new password") == user
    assert service.set_password_with_token(db_session, token, "second new password") is None
    assert service.authenticate(db_session, user.email, "second new password") is None


def test_expired_or_superseded_links_are_refused(db_session, make_user):
    user = make_user()
    old_token = service.renew_set_password_link(db_session, user)
    new_token = service.renew_set_password_link(db_session, user)
    assert service.find_usable_token(db_session, old_token) is None
    record = service.find_usable_token(db_session, new_token)
    record.expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    assert service.find_usable_token(db_session, new_token) is None


def test_link_of_deactivated_user_is_refused(db_session, make_user):
    user = make_user()
    token = service.renew_set_password_link(db_session, user)
    user.active = False
    assert service.set_password_with_token(db_session, token, "some new password") is None


def test_duplicate_email_is_refused(db_session, make_user):
    make_user(email="taken@example.org")
    with pytest.raises(service.ServiceError) as error:
        service.create_user(db_session, "TAKEN@example.org", "X", Role.EVALUATOR, actor=None)
    assert error.value.field == "email"


def test_admin_cannot_demote_or_deactivate_themselves(db_session, make_user):
    admin = make_user(Role.ADMIN)
    with pytest.raises(service.ServiceError):
        service.update_user(db_session, admin, admin, Role.EVALUATOR, [], True)
    with pytest.raises(service.ServiceError):
        service.update_user(db_session, admin, admin, Role.ADMIN, [], False)


def test_update_user_drops_places_for_unscoped_roles(db_session, make_user):
    admin = make_user(Role.ADMIN)
    coordinator = make_user(Role.COORDINATOR)
    service.update_user(db_session, admin, coordinator, Role.EVALUATOR, [coordinator.places[0].id], True)
    assert coordinator.role == "evaluator"
    assert coordinator.places == []


def test_place_scope(db_session, make_user, make_place):
    mine, other = make_place(), make_place()
    coordinator = make_user(Role.COORDINATOR, places=[mine])
    evaluator = make_user(Role.EVALUATOR)
    assert coordinator.can_access_place(mine.id)
    assert not coordinator.can_access_place(other.id)
    assert evaluator.can_access_place(other.id)
    assert service.list_places(db_session, for_user=coordinator) == [mine]
    assert {mine, other} <= set(service.list_places(db_session, for_user=evaluator))


@pytest.mark.both_backends
def test_names_must_be_unique_ignoring_case(db_session, make_place, make_organisation):
    place = make_place("Northby")
    with pytest.raises(service.ServiceError):
        service.save_place(db_session, None, "northby", "")
    existing = make_organisation("Food Bank", place=place)
    with pytest.raises(service.ServiceError):
        service.save_organisation(db_session, None, "FOOD BANK", existing.sector_id, place.id)
    # Renaming an organisation to its own name is fine.
    service.save_organisation(db_session, existing, "Food Bank", existing.sector_id, place.id)


# --- organisation CSV import -----------------------------------------------------------


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_import_creates_every_row(db_session, make_place, make_sector):
    place, sector = make_place("Import Town"), make_sector("Import Sector")
    before = count(db_session, Organisation)
    report = service.import_organisations_csv(
        db_session,
        csv_bytes("Name,Sector,Place", "Alpha Trust,import sector,Import Town", '"Beta, Ltd",Import Sector,import town'),
    )
    assert report.ok and report.created == 2
    assert count(db_session, Organisation) == before + 2
    names = db_session.scalars(select(Organisation.name).where(Organisation.place_id == place.id)).all()
    assert sorted(names) == ["Alpha Trust", "Beta, Ltd"]
    assert sector.id


@pytest.mark.both_backends
def test_import_reports_every_bad_row_and_writes_nothing(db_session, make_place, make_sector, make_organisation):
    place, sector = make_place("Import Town"), make_sector("Import Sector")
    make_organisation("Existing", place=place, sector=sector)
    before = count(db_session, Organisation)
    report = service.import_organisations_csv(
        db_session,
        csv_bytes(
            "name,sector,place",
            "Good One,Import Sector,Import Town",
            ",Import Sector,Import Town",
            "Two,Nonsense,Import Town",
            "Three,Import Sector,Atlantis",
            "Existing,Import Sector,Import Town",
            "Good One,Import Sector,Import Town",
            f"{'x' * 201},Import Sector,Import Town",
        ),
    )
    assert not report.ok and report.created == 0
    assert [(e.row, e.message) for e in report.errors] == [
        (3, "Name is empty"),
        (4, "Sector ‘Nonsense’ is not a known sector"),
        (5, "Place ‘Atlantis’ is not a known place"),
        (6, "‘Existing’ already exists in Import Town"),
        (7, "‘Good One’ in Import Town is also on line 2"),
        (8, "Name is longer than 200 characters"),
    ]
    assert count(db_session, Organisation) == before


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty"),
        (b"name,sector\nA,B\n", "The first row must name the columns: missing place"),
        (b"name,sector,place\n", "The file has a header row but no organisations"),
        (b"\xff\xfe\x00n\x00a", "The file must be a CSV saved as UTF-8"),
        (b"PK\x03\x04\x00\x00", "The file must be a CSV, not a spreadsheet or other binary file"),
        (b"name,sector,place\n" + b"a,b,c\n" * 5001, "The file must have at most 5000 rows"),
    ],
)
def test_import_refuses_unreadable_files(db_session, data, message):
    report = service.import_organisations_csv(db_session, data)
    assert [e.message for e in report.errors] == [message]


def test_place_description_is_optional(db_session):
    assert service.save_place(db_session, None, "Quiet Town", None).description == ""


def test_a_link_spent_meanwhile_is_refused(db_session, make_user, monkeypatch):
    """Two requests can both find the link usable; only the first may spend it."""
    user = make_user(password_hash=None)
    token = service.renew_set_password_link(db_session, user)
    stale = service.find_usable_token(db_session, token)
    assert service.set_password_with_token(db_session, token, "first password here") == user
    monkeypatch.setattr(service, "find_usable_token", lambda session, token: stale)
    assert service.set_password_with_token(db_session, token, "second password here") is None
    assert service.authenticate(db_session, user.email, "first password here") == user


def test_role_change_and_deactivation_end_sessions(db_session, make_user):
    admin, user = make_user(Role.ADMIN), make_user(Role.EVALUATOR)
    before = user.get_id()
    service.update_user(db_session, admin, user, Role.EVALUATOR, [], True)
    assert user.get_id() == before  # nothing changed, sessions kept
    service.update_user(db_session, admin, user, Role.ADMIN, [], True)
    assert user.get_id() != before
