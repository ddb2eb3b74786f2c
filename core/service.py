"""Writes and queries for accounts and places. Functions take a Session and plain values."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core import audit
from core.audit import AuditAction, count_of
from core.db import Base, utcnow
from core.models import Organisation, Place, Role, Sector, SetPasswordToken, User, normalise_email
from core.security import CONTROLS

SET_PASSWORD_LINK_LIFETIME = timedelta(days=7)
MIN_PASSWORD_LENGTH = 10
ORGANISATION_CSV_MAX_BYTES = 1_000_000
ORGANISATION_CSV_MAX_ROWS = 5_000
ORGANISATION_NAME_MAX = 200

# Checked when the email is unknown so a failed sign-in takes as long either way.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


class ServiceError(Exception):
    """A request that cannot be carried out, with a message for the named form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- users -------------------------------------------------------------------------


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or user.password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.name)))


def _places_by_id(session: Session, place_ids: list[int]) -> list[Place]:
    places = list(session.scalars(select(Place).where(Place.id.in_(place_ids))))
    if len(places) != len(set(place_ids)):
        raise ServiceError("places", "Select places from the list")
    return places


def create_user(
    session: Session,
    email: str,
    name: str,
    role: Role,
    place_ids: list[int] = (),
    password: str | None = None,
    *,
    actor: User | None,
) -> User:
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ServiceError("email", "A user with this email address already exists")
    user = User(
        email=email,
        name=name.strip(),
        role=role.value,
        places=_places_by_id(session, list(place_ids)) if role.is_place_scoped else [],
        password_hash=generate_password_hash(password) if password else None,
    )
    session.add(user)
    session.flush()
    scope = f" for {_place_names(user.places)}" if role.is_place_scoped else ""
    audit.record(
        session, actor, AuditAction.USER_CREATED,
        detail=f"{email} added as {role.value}{scope}",
        data={"user_id": user.id, "role": role.value, "places": sorted(place.name for place in user.places)},
    )
    return user


def invite_user(
    session: Session, email: str, name: str, role: Role, place_ids: list[int], *, actor: User | None
) -> tuple[User, str]:
    """Create an account without a password and return it with its one-time link token."""
    user = create_user(session, email, name, role, place_ids, actor=actor)
    token = _new_set_password_token(session, user)
    session.commit()
    return user, token


def renew_set_password_link(session: Session, user: User) -> str:
    token = _new_set_password_token(session, user)
    session.commit()
    return token


def _new_set_password_token(session: Session, user: User) -> str:
    # Only one link works at a time: an older, unused one is retired.
    now = utcnow()
    for old in session.scalars(
        select(SetPasswordToken).where(
            SetPasswordToken.user_id == user.id, SetPasswordToken.used_at.is_(None)
        )
    ):
        old.used_at = now
    token = secrets.token_urlsafe(32)
    session.add(
        SetPasswordToken(
            user_id=user.id,
            token_hash=hash_token(token),
            expires_at=now + SET_PASSWORD_LINK_LIFETIME,
        )
    )
    return token


def find_usable_token(session: Session, token: str) -> SetPasswordToken | None:
    record = session.scalar(
        select(SetPasswordToken).where(SetPasswordToken.token_hash == hash_token(token))
    )
    if record is None or record.used_at is not None or record.expires_at <= utcnow():
        return None
    if not record.user.active:
        return None
    return record


def set_password_with_token(session: Session, token: str, password: str) -> User | None:
    """Use a one-time link: set the password and spend the link. None if the link is not usable."""
    record = find_usable_token(session, token)
    if record is None:
        return None
    # Spend the token with a guarded UPDATE so two concurrent uses cannot both succeed.
    spent = session.execute(
        SetPasswordToken.__table__.update()
        .where(SetPasswordToken.id == record.id, SetPasswordToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if spent.rowcount != 1:
        session.rollback()
        return None
    record.user.password_hash = generate_password_hash(password)
    record.user.end_sessions()
    session.commit()
    return record.user


def end_sessions(session: Session, user: User) -> None:
    """Sign the account out everywhere: every session cookie issued so far stops working."""
    user.end_sessions()
    session.commit()


def update_user(
    session: Session, acting_user: User, user: User, role: Role, place_ids: list[int], active: bool
) -> None:
    if user.id == acting_user.id and (role != Role.ADMIN or not active):
        raise ServiceError("role", "You cannot remove your own admin access or deactivate yourself")
    if role.value != user.role or not active:
        user.end_sessions()  # a changed role or a deactivation takes effect at once
    places = _places_by_id(session, place_ids) if role.is_place_scoped else []
    _audit_user_changes(session, acting_user, user, role, places, active)
    user.role = role.value
    user.places = places
    user.active = active
    session.commit()


def _audit_user_changes(
    session: Session, acting_user: User, user: User, role: Role, places: list[Place], active: bool
) -> None:
    if role.value != user.role:
        audit.record(
            session, acting_user, AuditAction.USER_ROLE_CHANGED,
            detail=f"{user.email}: role changed from {user.role} to {role.value}",
            data={"user_id": user.id, "old": user.role, "new": role.value},
        )
    # Only a coordinator's or facilitator's places limit what they see; another role's
    # places are cleared, and its role change already says it now sees every place.
    if role.is_place_scoped and {place.id for place in places} != {place.id for place in user.places}:
        audit.record(
            session, acting_user, AuditAction.USER_PLACES_CHANGED,
            detail=f"{user.email}: places changed from {_place_names(user.places)} to {_place_names(places)}",
            data={
                "user_id": user.id,
                "old": sorted(place.name for place in user.places),
                "new": sorted(place.name for place in places),
            },
        )
    if active != user.active:
        audit.record(
            session, acting_user, AuditAction.USER_REACTIVATED if active else AuditAction.USER_DEACTIVATED,
            detail=f"{user.email} {'reactivated' if active else 'deactivated'}",
            data={"user_id": user.id},
        )


def update_user_details(session: Session, acting_user: User, user: User, name: str, email: str) -> None:
    """Correct a user's name or email address. They sign in with the new address from now on;
    their password, role, places and signed-in sessions are unchanged."""
    name, email = name.strip(), normalise_email(email)
    if not name:
        raise ServiceError("name", "Enter the person’s name")
    if CONTROLS.search(name):
        raise ServiceError("name", "The name must not contain unusual characters such as tabs or line breaks")
    if not email:
        raise ServiceError("email", "Enter an email address")
    if CONTROLS.search(email) or any(ch.isspace() for ch in email):
        raise ServiceError("email", "The email address must not contain spaces or unusual characters")
    # Stored addresses are already lower case (User._normalise_email); lower() again in
    # case a row was written some other way, so no two accounts can share an address.
    message = "Another account already uses this email address"
    if session.scalar(select(User.id).where(func.lower(User.email) == email, User.id != user.id)) is not None:
        raise ServiceError("email", message)
    changes = {}
    if name != user.name:
        changes["name"] = {"old": user.name, "new": name}
    if email != user.email:
        changes["email"] = {"old": user.email, "new": email}
    if not changes:
        return
    said = "; ".join(f"{field} changed from {change['old']} to {change['new']}" for field, change in changes.items())
    audit.record(
        session, acting_user, AuditAction.USER_DETAILS_CHANGED,
        detail=f"{user.email}: {said}", data={"user_id": user.id, **changes},
    )
    user.name = name
    user.email = email
    _commit_or_clash(session, "email", message)


def _place_names(places: list[Place]) -> str:
    return ", ".join(sorted(place.name for place in places)) or "none"


# --- places, sectors, organisations ---------------------------------------------------


def list_places(session: Session, for_user: User | None = None) -> list[Place]:
    query = select(Place).order_by(Place.name)
    if for_user is not None and for_user.role_enum.is_place_scoped:
        query = query.where(Place.id.in_([place.id for place in for_user.places]))
    return list(session.scalars(query))


def get_place(session: Session, place_id: int) -> Place | None:
    return session.get(Place, place_id)


def _same_name(rows, name: str, exclude=None):
    """Compare names in Python: SQLite's lower() only folds ASCII, PostgreSQL's folds all."""
    wanted = name.casefold()
    return next((row for row in rows if row.name.casefold() == wanted and row is not exclude), None)


def _commit_or_clash(session: Session, field: str, message: str) -> None:
    # Two requests can pass the check at once; the unique constraint decides.
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise ServiceError(field, message) from error


def save_place(session: Session, place: Place | None, name: str, description: str | None) -> Place:
    name = name.strip()
    message = "A place with this name already exists"
    if _same_name(session.scalars(select(Place)), name, exclude=place):
        raise ServiceError("name", message)
    if place is None:
        place = Place()
        session.add(place)
    place.name = name
    place.description = (description or "").strip()
    _commit_or_clash(session, "name", message)
    return place


def list_sectors(session: Session) -> list[Sector]:
    return list(session.scalars(select(Sector).order_by(Sector.position, Sector.name)))


def get_sector(session: Session, sector_id: int) -> Sector | None:
    return session.get(Sector, sector_id)


def save_sector(session: Session, sector: Sector | None, name: str) -> Sector:
    name = name.strip()
    message = "A sector with this name already exists"
    if _same_name(session.scalars(select(Sector)), name, exclude=sector):
        raise ServiceError("name", message)
    if sector is None:
        last = session.scalar(select(func.max(Sector.position))) or 0
        sector = Sector(position=last + 1)
        session.add(sector)
    sector.name = name
    _commit_or_clash(session, "name", message)
    return sector


def list_organisations(session: Session, place_id: int | None = None) -> list[Organisation]:
    query = select(Organisation).join(Organisation.place).order_by(Place.name, Organisation.name)
    if place_id is not None:
        query = query.where(Organisation.place_id == place_id)
    return list(session.scalars(query))


def get_organisation(session: Session, organisation_id: int) -> Organisation | None:
    return session.get(Organisation, organisation_id)


def save_organisation(
    session: Session, organisation: Organisation | None, name: str, sector_id: int, place_id: int
) -> Organisation:
    name = name.strip()
    if session.get(Sector, sector_id) is None:
        raise ServiceError("sector", "Select a sector from the list")
    if session.get(Place, place_id) is None:
        raise ServiceError("place", "Select a place from the list")
    message = "This place already has an organisation with this name"
    same_place = session.scalars(select(Organisation).where(Organisation.place_id == place_id))
    if _same_name(same_place, name, exclude=organisation):
        raise ServiceError("name", message)
    if organisation is None:
        organisation = Organisation()
        session.add(organisation)
    organisation.name = name
    organisation.sector_id = sector_id
    organisation.place_id = place_id
    _commit_or_clash(session, "name", message)
    return organisation


@dataclass(frozen=True)
class RowError:
    row: int  # the line number in the file, counting the header as line 1
    message: str


@dataclass(frozen=True)
class ImportReport:
    created: int
    errors: tuple[RowError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


ORGANISATION_CSV_COLUMNS = ("name", "sector", "place")


def import_organisations_csv(session: Session, data: bytes) -> ImportReport:
    """Create organisations from a CSV with columns name, sector, place.

    All or nothing: if any row is bad, nothing is written and every problem is reported.
    """
    rows, file_error = _read_csv(data)
    if file_error:
        return ImportReport(0, (RowError(0, file_error),))

    sectors = {s.name.casefold(): s for s in list_sectors(session)}
    places = {p.name.casefold(): p for p in list_places(session)}
    existing = {
        (place_id, name.casefold())
        for place_id, name in session.execute(select(Organisation.place_id, Organisation.name))
    }
    errors: list[RowError] = []
    seen: dict[tuple[int, str], int] = {}
    valid_rows: list[tuple[str, Sector, Place]] = []
    for line, row in rows:
        name, sector_name, place_name = (row[c] for c in ORGANISATION_CSV_COLUMNS)
        problems = []
        if not name:
            problems.append("name is empty")
        elif len(name) > ORGANISATION_NAME_MAX:
            problems.append(f"name is longer than {ORGANISATION_NAME_MAX} characters")
        sector = sectors.get(sector_name.casefold())
        if sector is None:
            problems.append(f"sector ‘{sector_name}’ is not a known sector")
        place = places.get(place_name.casefold())
        if place is None:
            problems.append(f"place ‘{place_name}’ is not a known place")
        if name and place is not None:
            key = (place.id, name.casefold())
            if key in existing:
                problems.append(f"‘{name}’ already exists in {place.name}")
            elif key in seen:
                problems.append(f"‘{name}’ in {place.name} is also on line {seen[key]}")
            else:
                seen[key] = line
        if problems:
            message = "; ".join(problems)
            errors.append(RowError(line, message[0].upper() + message[1:]))
        else:
            valid_rows.append((name, sector, place))

    if errors:
        return ImportReport(0, tuple(errors))
    session.add_all(
        Organisation(name=name, sector=sector, place=place) for name, sector, place in valid_rows
    )
    try:
        _commit_or_clash(session, "file", "Another import added some of these organisations at the same time")
    except ServiceError as error:
        return ImportReport(0, (RowError(0, error.message),))
    return ImportReport(len(valid_rows), ())


def _read_csv(data: bytes) -> tuple[list[tuple[int, dict[str, str]]], str | None]:
    if not data.strip():
        return [], "The file is empty"
    if len(data) > ORGANISATION_CSV_MAX_BYTES:
        return [], "The file must be smaller than 1 MB"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], "The file must be a CSV saved as UTF-8"
    if "\x00" in text:
        return [], "The file must be a CSV, not a spreadsheet or other binary file"
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [column.strip().lower() for column in next(reader)]
        # With a column named twice, which one holds the names is anyone's guess.
        repeated = sorted({column for column in header if column and header.count(column) > 1})
        if repeated:
            named = ", ".join(f"‘{column}’" for column in repeated)
            return [], f"The first row names {named} more than once. Name each column once."
        missing = [c for c in ORGANISATION_CSV_COLUMNS if c not in header]
        if missing:
            return [], f"The first row must name the columns: missing {', '.join(missing)}"
        index = {column: header.index(column) for column in ORGANISATION_CSV_COLUMNS}
        rows = []
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(rows) >= ORGANISATION_CSV_MAX_ROWS:
                return [], f"The file must have at most {ORGANISATION_CSV_MAX_ROWS} rows"
            cells = {
                column: values[i].strip() if i < len(values) else ""
                for column, i in index.items()
            }
            rows.append((reader.line_num, cells))
    except csv.Error as error:
        return [], f"The file could not be read as CSV: {error}"
    if not rows:
        return [], "The file has a header row but no organisations"
    return rows, None


# --- merging organisations, deleting places, sectors and organisations ------------------

# What each table that can point at a place, sector or organisation holds, in plain
# English (one, many). A table not named here is still found and counted (by its name):
# the references are read from the models' foreign keys, so a new one is never missed.
REFERRING = {
    "responses": ("response", "responses"),
    "invitations": ("invitation", "invitations"),
    "drafts": ("part-finished response", "part-finished responses"),
    "trust_ratings": ("trust rating", "trust ratings"),
    "workshop_actions": ("workshop action", "workshop actions"),
    "workshops": ("workshop", "workshops"),
    "workshop_participants": ("workshop participant", "workshop participants"),
    "workshop_paper_groups": ("workshop paper vote group", "workshop paper vote groups"),
    "workshop_paper_votes": ("workshop paper vote", "workshop paper votes"),
    "issued_briefings": ("issued briefing", "issued briefings"),
    "organisations": ("organisation", "organisations"),
    "user_places": ("user with access to it", "users with access to it"),
    "survey_places": ("survey", "surveys"),
    "surveys": ("survey", "surveys"),
    "response_imports": ("saved import matching", "saved import matchings"),
    "trust_questions": ("survey asking about trust in it", "surveys asking about trust in it"),
}


@dataclass(frozen=True)
class Uses:
    """What still points at a place, sector or organisation: (description, count) pairs."""

    counts: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(number for _, number in self.counts)

    def lines(self) -> list[str]:
        return [count_of(number, *_names(key)) for key, number in self.counts]

    def __str__(self) -> str:
        return ", ".join(self.lines())


def _names(table: str) -> tuple[str, str]:
    return REFERRING.get(table, (table.replace("_", " ").rstrip("s"), table.replace("_", " ")))


def _foreign_keys_to(table_name: str) -> list[tuple[Table, object]]:
    """Every column in every model that holds an id of `table_name`."""
    found = []
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table.name == table_name and key.column.name == "id":
                found.append((table, key.parent))
    return sorted(found, key=lambda pair: (pair[0].name, pair[1].name))


def _count_uses(session: Session, table_name: str, row_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table, column in _foreign_keys_to(table_name):
        number = session.scalar(select(func.count()).select_from(table).where(column == row_id))
        if number:
            counts[table.name] = counts.get(table.name, 0) + number
    return counts


def _surveys_asking_about_sector(session: Session, sector_id: int) -> int:
    """Surveys whose trust questions name the sector: a list of ids kept as JSON, no key."""
    surveys = Base.metadata.tables.get("surveys")
    if surveys is None or "trust_sector_ids" not in surveys.c:
        return 0
    chosen = session.scalars(select(surveys.c.trust_sector_ids).where(surveys.c.trust_sector_ids.is_not(None)))
    return sum(1 for ids in chosen if sector_id in {int(i) for i in ids or ()})


def _names_id(value, row_id: int) -> bool:
    return str(value) == str(row_id)


def _without(matched, organisation_id: int, replacement: int | None):
    """A matching {text in a file: organisation id} naming `replacement` (or, with None,
    nothing) where it named `organisation_id`."""
    if not isinstance(matched, dict):
        return matched
    return {
        text: replacement if _names_id(value, organisation_id) else value
        for text, value in matched.items()
        if not (replacement is None and _names_id(value, organisation_id))
    }


def _import_matchings(session: Session, organisation_id: int) -> list[tuple[Table, int, str, Callable]]:
    """Matchings of an import's answers that name the organisation, kept as JSON (no key):
    an unfinished import's confirmed values, and each survey's remembered matching for its
    next file. (table, row id, column, how to rewrite the column's value)."""
    found = []
    imports = Base.metadata.tables.get("response_imports")
    if imports is not None:
        for import_id, columns, values in session.execute(
            select(imports.c.id, imports.c.columns, imports.c["values"]).where(imports.c.imported_at.is_(None))
        ):
            mapped = [column for column, target in (columns or {}).items() if target == "organisation"]
            if any(_names_id(v, organisation_id) for column in mapped for v in (values or {}).get(column, {}).values()):
                def rewrite(replacement, values=values, mapped=mapped):
                    return {column: _without(matched, organisation_id, replacement) if column in mapped else matched
                            for column, matched in values.items()}
                found.append((imports, import_id, "values", rewrite))
    surveys = Base.metadata.tables.get("surveys")
    if surveys is not None and "import_mapping" in surveys.c:
        for survey_id, mapping in session.execute(
            select(surveys.c.id, surveys.c.import_mapping).where(surveys.c.import_mapping.is_not(None))
        ):
            remembered = ((mapping or {}).get("values") or {}).get("organisation") or {}
            if any(_names_id(v, organisation_id) for v in remembered.values()):
                def rewrite(replacement, mapping=mapping):
                    values = {**mapping["values"], "organisation": _without(
                        mapping["values"]["organisation"], organisation_id, replacement)}
                    return {**mapping, "values": values}
                found.append((surveys, survey_id, "import_mapping", rewrite))
    return found


def _rewrite_matchings(session: Session, organisation_id: int, replacement: int | None) -> None:
    for table, row_id, column, rewrite in _import_matchings(session, organisation_id):
        session.execute(table.update().where(table.c.id == row_id).values({column: rewrite(replacement)}))


def uses_of_place(session: Session, place: Place) -> Uses:
    return Uses(tuple(_count_uses(session, "places", place.id).items()))


def uses_of_sector(session: Session, sector: Sector) -> Uses:
    counts = _count_uses(session, "sectors", sector.id)
    asking = _surveys_asking_about_sector(session, sector.id)
    if asking:
        counts["trust_questions"] = asking
    return Uses(tuple(counts.items()))


def uses_of_organisation(session: Session, organisation: Organisation, matchings: bool = False) -> Uses:
    """What points at the organisation; with `matchings`, also the imports' saved matchings
    that name it (what a merge moves, though they do not stop a delete)."""
    counts = _count_uses(session, "organisations", organisation.id)
    if not matchings:
        return Uses(tuple(counts.items()))
    saved = len(_import_matchings(session, organisation.id))
    if saved:
        counts["response_imports"] = saved
    return Uses(tuple(counts.items()))


def _delete_unused(session: Session, actor: User, row, uses: Uses, kind: str, action: AuditAction) -> None:
    if uses.total:
        raise ServiceError(
            "submit",
            f"{row.name} cannot be deleted because it is still used by {uses}. "
            f"Only a {kind} that nothing uses can be deleted.",
        )
    audit.record(session, actor, action, detail=f"{kind.capitalize()} {row.name} deleted",
                 data={"id": row.id, "name": row.name})
    session.delete(row)
    _commit_or_still_used(session, row.name)


def _commit_or_still_used(session: Session, name: str) -> None:
    # Something may start pointing at the row between the count and the delete; the
    # foreign key then refuses the whole transaction, and nothing is changed.
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise ServiceError(
            "submit", f"Something started using {name} while it was being changed. Nothing was changed: try again."
        ) from error


def delete_place(session: Session, actor: User, place: Place) -> None:
    _delete_unused(session, actor, place, uses_of_place(session, place), "place", AuditAction.PLACE_DELETED)


def delete_sector(session: Session, actor: User, sector: Sector) -> None:
    _delete_unused(session, actor, sector, uses_of_sector(session, sector), "sector", AuditAction.SECTOR_DELETED)


def delete_organisation(session: Session, actor: User, organisation: Organisation) -> None:
    """Delete an organisation nothing points at. An import's matching that names it is only
    a suggestion: it is forgotten (that answer is asked about again), not a reason to refuse."""
    uses = Uses(tuple(_count_uses(session, "organisations", organisation.id).items()))
    if not uses.total:
        _rewrite_matchings(session, organisation.id, None)
    _delete_unused(session, actor, organisation, uses, "organisation", AuditAction.ORGANISATION_DELETED)


def merge_candidates(session: Session, organisation: Organisation) -> list[Organisation]:
    """The organisations `organisation` can be merged into: the others in its place."""
    return [other for other in list_organisations(session, organisation.place_id) if other.id != organisation.id]


def check_merge(session: Session, merged: Organisation, survivor_id: int) -> Organisation:
    """The organisation to merge into, or a ServiceError saying why not."""
    survivor = session.get(Organisation, survivor_id) if survivor_id else None
    if survivor is None or survivor.id == merged.id:
        raise ServiceError("survivor", "Select the organisation to merge into from the list")
    if survivor.place_id != merged.place_id:
        # A response's place is its own column: moving it to an organisation elsewhere
        # would file answers under one place and their organisation under another.
        raise ServiceError(
            "survivor", f"Select an organisation in {merged.place.name}: only organisations in one place can be merged"
        )
    return survivor


def merge_organisations(session: Session, actor: User, merged: Organisation, survivor_id: int) -> Uses:
    """Move everything that points at `merged` to the survivor and delete `merged`, in one
    transaction with its audit entry. Returns what moved. Responses keep their own sector
    and place: only the organisation they name changes."""
    survivor = check_merge(session, merged, survivor_id)
    moved = uses_of_organisation(session, merged, matchings=True)
    for table, column in _foreign_keys_to("organisations"):
        session.execute(table.update().where(column == merged.id).values({column.name: survivor.id}))
    _rewrite_matchings(session, merged.id, survivor.id)
    said = f" ({moved} moved)" if moved.total else " (nothing pointed at it)"
    audit.record(
        session, actor, AuditAction.ORGANISATIONS_MERGED,
        detail=f"{merged.name} merged into {survivor.name} in {survivor.place.name}{said}",
        data={"merged": {"id": merged.id, "name": merged.name, "sector": merged.sector.name},
              "survivor": {"id": survivor.id, "name": survivor.name}, "moved": dict(moved.counts)},
    )
    session.delete(merged)
    _commit_or_still_used(session, merged.name)
    session.expire_all()  # objects loaded before still hold the merged organisation's id
    return moved
