"""Start page, signing in and out, places, and the admin pages for users and places."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session as cookie_session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm

from core import db, security, service
from core.forms import (
    ConfirmDeleteForm,
    ConfirmMergeForm,
    EditUserForm,
    InviteUserForm,
    MergeChoiceForm,
    OrganisationForm,
    OrganisationImportForm,
    PlaceForm,
    RenewLinkForm,
    SectorForm,
    SetPasswordForm,
    SignInForm,
    UserDetailsForm,
)
from core.models import Role, User
from core.security import allow, public, require_place_access, signed_in

bp = Blueprint("core", __name__)
admin_only = allow(Role.ADMIN)

# Service navigation: (endpoint, label, endpoints that also mark it as the current section).
NAVIGATION = (
    ("core.dashboard", "Dashboard", ()),
    ("core.places", "Places", ("core.place", "core.edit_place", "core.delete_place")),
    ("surveys.surveys", "Surveys", ("surveys.", "audit.survey_log")),
    ("analysis.index", "Results", ("analysis.",)),
    ("core.users", "Users", ("core.invite_user", "core.edit_user", "core.edit_user_details",
                             "core.renew_set_password_link")),
    ("core.sectors", "Sectors", ("core.edit_sector", "core.delete_sector")),
    ("core.organisations", "Organisations", ("core.edit_organisation", "core.import_organisations",
                                             "core.merge_organisation", "core.confirm_merge",
                                             "core.delete_organisation")),
    ("audit.everything", "Audit log", ()),
)


@bp.app_context_processor
def navigation() -> dict:
    """Only the sections the signed-in user's role may open, judged by each view's own roles."""
    if not current_user.is_authenticated:
        return {"navigation_items": []}
    items = []
    for endpoint, label, related in NAVIGATION:
        if current_user.role in current_app.view_functions[endpoint].allowed_roles:
            current = request.endpoint == endpoint or any(
                request.endpoint == other or (other.endswith(".") and (request.endpoint or "").startswith(other))
                for other in related
            )
            items.append({"href": url_for(endpoint), "text": label, "active": current})
    return {"navigation_items": items}


def _get_or_404(loader, object_id: int):
    found = loader(db.session(), object_id)
    if found is None:
        abort(404)
    return found


def _show_service_error(form: FlaskForm, error: service.ServiceError) -> None:
    getattr(form, error.field).errors.append(error.message)


def _safe_next(target: str | None) -> str:
    """Only a path on this site, so the sign-in form cannot send anyone elsewhere.

    Browsers drop tabs and newlines and read a backslash as a slash, so `/\t/evil.example`
    would become `//evil.example`: anything with those is refused outright.
    """
    if (
        target
        and target.startswith("/")
        and not any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in target)
        and not target.startswith("//")
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("core.dashboard")


def _one_time_link_page(user: User, token: str, created: bool):
    # Rendered straight from the POST rather than redirected, so the token is never
    # put in the (signed but readable) session cookie; no-store keeps it out of caches.
    link = url_for("core.set_password", token=token, _external=True)
    return render_template("core/admin/user_link.html", user=user, link=link, created=created)


# --- public --------------------------------------------------------------------------


@bp.get("/")
@public
def start():
    return render_template("core/start.html")


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("core.dashboard"))
    form = SignInForm()
    if form.validate_on_submit():
        refusal = security.sign_in_refusal(form.email.data)
        if refusal:
            form.email.errors.append(refusal)
            return render_template("core/sign_in.html", form=form), 429
        user = service.authenticate(db.session(), form.email.data, form.password.data)
        if user is not None:
            cookie_session.clear()  # a fresh session on sign-in, against session fixation
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        security.record_failed_sign_in(form.email.data)
        form.email.errors.append("Enter a correct email address and password")
    return render_template("core/sign_in.html", form=form)


@bp.post("/sign-out")
@signed_in
def sign_out():
    form = FlaskForm()
    if form.validate_on_submit():
        # A new session token on the server, so a copy of this cookie no longer signs
        # anyone in. There is one token per account: its other sessions end too.
        service.end_sessions(db.session(), current_user)
        logout_user()
        cookie_session.clear()
        flash("You have signed out.")
    return redirect(url_for("core.start"))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@public
def set_password(token: str):
    session = db.session()
    record = service.find_usable_token(session, token)
    if record is None:
        return render_template("core/link_not_usable.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        user = service.set_password_with_token(session, token, form.password.data)
        if user is None:
            return render_template("core/link_not_usable.html"), 404
        flash("Your password is set. Sign in with your email address and new password.")
        return redirect(url_for("core.sign_in"))
    return render_template("core/set_password.html", form=form, user=record.user)


# --- signed in -----------------------------------------------------------------------


@bp.get("/dashboard")
@signed_in
def dashboard():
    places = service.list_places(db.session(), for_user=current_user)
    return render_template("core/dashboard.html", places=places)


@bp.get("/places")
@signed_in
def places():
    places = service.list_places(db.session(), for_user=current_user)
    return render_template("core/places.html", places=places)


@bp.get("/places/<int:place_id>")
@signed_in
def place(place_id: int):
    place = _get_or_404(service.get_place, place_id)
    require_place_access([place.id])
    return render_template("core/place.html", place=place)


# --- admin: users --------------------------------------------------------------------


def _fill_place_choices(form) -> None:
    form.places.choices = [(p.id, p.name) for p in service.list_places(db.session())]


@bp.get("/admin/users")
@admin_only
def users():
    return render_template("core/admin/users.html", users=service.list_users(db.session()))


@bp.route("/admin/users/invite", methods=["GET", "POST"])
@admin_only
def invite_user():
    form = InviteUserForm()
    _fill_place_choices(form)
    if form.validate_on_submit():
        try:
            user, token = service.invite_user(
                db.session(), form.email.data, form.name.data, Role(form.role.data), form.places.data,
                actor=current_user,
            )
        except service.ServiceError as error:
            _show_service_error(form, error)
        else:
            return _one_time_link_page(user, token, created=True)
    return render_template("form_page.html", form=form, title="Invite a user")


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@admin_only
def edit_user(user_id: int):
    user = _get_or_404(service.get_user, user_id)
    form = EditUserForm(
        data={"role": user.role, "active": user.active, "places": [p.id for p in user.places]}
    )
    _fill_place_choices(form)
    if form.validate_on_submit():
        try:
            service.update_user(
                db.session(), current_user, user, Role(form.role.data), form.places.data, form.active.data
            )
        except service.ServiceError as error:
            _show_service_error(form, error)
        else:
            flash(f"Changes to {user.name} saved.")
            return redirect(url_for("core.users"))
    return render_template(
        "core/admin/user.html", form=form, user=user, renew_form=RenewLinkForm(formdata=None)
    )


@bp.route("/admin/users/<int:user_id>/details", methods=["GET", "POST"])
@admin_only
def edit_user_details(user_id: int):
    user = _get_or_404(service.get_user, user_id)
    form = UserDetailsForm(obj=user)
    if form.validate_on_submit():
        try:
            service.update_user_details(db.session(), current_user, user, form.name.data, form.email.data)
        except service.ServiceError as error:
            _show_service_error(form, error)
        else:
            flash(f"{user.name}’s name and email address saved. They sign in with {user.email}.")
            return redirect(url_for("core.edit_user", user_id=user.id))
    return render_template(
        "form_page.html", form=form, title=f"Change {user.name}’s name or email address",
        back=url_for("core.edit_user", user_id=user.id),
    )


@bp.post("/admin/users/<int:user_id>/set-password-link")
@admin_only
def renew_set_password_link(user_id: int):
    user = _get_or_404(service.get_user, user_id)
    form = RenewLinkForm()
    if not form.validate_on_submit():
        abort(400)
    if not user.active:
        flash(f"{user.name}’s account is deactivated. Reactivate it before creating a link.", "info")
        return redirect(url_for("core.edit_user", user_id=user.id))
    token = service.renew_set_password_link(db.session(), user)
    return _one_time_link_page(user, token, created=False)


# --- admin: places, sectors, organisations --------------------------------------------


@bp.route("/admin/places/new", methods=["GET", "POST"], defaults={"place_id": None})
@bp.route("/admin/places/<int:place_id>/edit", methods=["GET", "POST"])
@admin_only
def edit_place(place_id: int | None):
    place = _get_or_404(service.get_place, place_id) if place_id else None
    form = PlaceForm(obj=place)
    if form.validate_on_submit():
        try:
            saved = service.save_place(db.session(), place, form.name.data, form.description.data)
        except service.ServiceError as error:
            _show_service_error(form, error)
        else:
            flash(f"{saved.name} saved.")
            return redirect(url_for("core.places"))
    title = f"Edit {place.name}" if place else "Add a place"
    links = [(url_for("core.delete_place", place_id=place.id), "Delete this place")] if place else []
    return render_template("core/admin/edit.html", form=form, title=title, back=url_for("core.places"), links=links)


@bp.get("/admin/sectors")
@admin_only
def sectors():
    return render_template("core/admin/sectors.html", sectors=service.list_sectors(db.session()))


@bp.route("/admin/sectors/new", methods=["GET", "POST"], defaults={"sector_id": None})
@bp.route("/admin/sectors/<int:sector_id>/edit", methods=["GET", "POST"])
@admin_only
def edit_sector(sector_id: int | None):
    sector = _get_or_404(service.get_sector, sector_id) if sector_id else None
    form = SectorForm(obj=sector)
    if form.validate_on_submit():
        try:
            saved = service.save_sector(db.session(), sector, form.name.data)
        except service.ServiceError as error:
            _show_service_error(form, error)
        else:
            flash(f"{saved.name} saved.")
            return redirect(url_for("core.sectors"))
    title = f"Edit {sector.name}" if sector else "Add a sector"
    links = [(url_for("core.delete_sector", sector_id=sector.id), "Delete this sector")] if sector else []
    return render_template("core/admin/edit.html", form=form, title=title, back=url_for("core.sectors"), links=links)


@bp.get("/admin/organisations")
@admin_only
def organisations():
    return render_template(
        "core/admin/organisations.html", organisations=service.list_organisations(db.session())
    )


@bp.route("/admin/organisations/new", methods=["GET", "POST"], defaults={"organisation_id": None})
@bp.route("/admin/organisations/<int:organisation_id>/edit", methods=["GET", "POST"])
@admin_only
def edit_organisation(organisation_id: int | None):
    session = db.session()
    organisation = _get_or_404(service.get_organisation, organisation_id) if organisation_id else None
    form = OrganisationForm(
        data={
            "name": organisation.name,
            "sector": organisation.sector_id,
            "place": organisation.place_id,
        }
        if organisation
        else None
    )
    form.sector.choices = [(0, "Select a sector")] + [(s.id, s.name) for s in service.list_sectors(session)]
    form.place.choices = [(0, "Select a place")] + [(p.id, p.name) for p in service.list_places(session)]
    if form.validate_on_submit():
        try:
            saved = service.save_organisation(
                session, organisation, form.name.data, form.sector.data, form.place.data
            )
        except service.ServiceError as error:
            _show_service_error(form, error)
        else:
            flash(f"{saved.name} saved.")
            return redirect(url_for("core.organisations"))
    title = f"Edit {organisation.name}" if organisation else "Add an organisation"
    links = [
        (url_for("core.merge_organisation", organisation_id=organisation.id), "Merge into another organisation"),
        (url_for("core.delete_organisation", organisation_id=organisation.id), "Delete this organisation"),
    ] if organisation else []
    return render_template(
        "core/admin/edit.html", form=form, title=title, back=url_for("core.organisations"), links=links
    )


@bp.route("/admin/organisations/import", methods=["GET", "POST"])
@admin_only
def import_organisations():
    form = OrganisationImportForm()
    report = None
    if form.validate_on_submit():
        report = service.import_organisations_csv(db.session(), form.file.data.read())
        if report.ok:
            noun = "organisation" if report.created == 1 else "organisations"
            flash(f"{report.created} {noun} imported.")
            return redirect(url_for("core.organisations"))
        form.file.errors.append("The file has problems. Nothing was imported. Fix the rows listed and upload it again.")
    return render_template("core/admin/import.html", form=form, report=report)


@bp.route("/admin/organisations/<int:organisation_id>/merge", methods=["GET", "POST"])
@admin_only
def merge_organisation(organisation_id: int):
    session = db.session()
    organisation = _get_or_404(service.get_organisation, organisation_id)
    form = MergeChoiceForm()
    candidates = service.merge_candidates(session, organisation)
    form.survivor.choices = [(0, "Select an organisation")] + [(o.id, o.name) for o in candidates]
    if form.validate_on_submit():
        try:
            survivor = service.check_merge(session, organisation, form.survivor.data)
        except service.ServiceError as error:
            _show_service_error(form, error)
        else:
            return redirect(url_for("core.confirm_merge", organisation_id=organisation.id, into=survivor.id))
    return render_template("core/admin/merge.html", form=form, organisation=organisation, candidates=candidates)


@bp.route("/admin/organisations/<int:organisation_id>/merge/confirm", methods=["GET", "POST"])
@admin_only
def confirm_merge(organisation_id: int):
    session = db.session()
    organisation = _get_or_404(service.get_organisation, organisation_id)
    form = ConfirmMergeForm()
    try:
        # The choice travels in the address, so the confirmation can be reloaded or bookmarked.
        survivor = service.check_merge(session, organisation, request.args.get("into", 0, type=int))
    except service.ServiceError as error:
        flash(error.message, "info")
        return redirect(url_for("core.merge_organisation", organisation_id=organisation.id))
    if form.validate_on_submit():
        name = organisation.name
        try:
            moved = service.merge_organisations(session, current_user, organisation, survivor.id)
        except service.ServiceError as error:
            flash(error.message, "info")
            return redirect(url_for("core.merge_organisation", organisation_id=organisation_id))
        flash(f"{name} merged into {survivor.name}." + (f" Moved: {moved}." if moved.total else ""))
        return redirect(url_for("core.organisations"))
    uses = service.uses_of_organisation(session, organisation, matchings=True)
    return render_template("core/admin/confirm_merge.html", confirm=form, organisation=organisation,
                           survivor=survivor, uses=uses)


def _delete_page(row, uses, deleter, kind: str, listing: str):
    form = ConfirmDeleteForm()
    if form.validate_on_submit():
        name = row.name
        try:
            deleter(db.session(), current_user, row)
        except service.ServiceError as error:
            flash(error.message, "info")  # the page then lists what still uses it
            return redirect(request.path)
        flash(f"{kind.capitalize()} {name} deleted.")
        return redirect(url_for(listing))
    title = f"{row.name} is still in use" if uses.total else f"Delete {row.name}?"
    return render_template("core/admin/delete.html", form=form, row=row, uses=uses, kind=kind,
                           back=url_for(listing), title=title)


@bp.route("/admin/places/<int:place_id>/delete", methods=["GET", "POST"])
@admin_only
def delete_place(place_id: int):
    place = _get_or_404(service.get_place, place_id)
    return _delete_page(place, service.uses_of_place(db.session(), place), service.delete_place, "place",
                        "core.places")


@bp.route("/admin/sectors/<int:sector_id>/delete", methods=["GET", "POST"])
@admin_only
def delete_sector(sector_id: int):
    sector = _get_or_404(service.get_sector, sector_id)
    return _delete_page(sector, service.uses_of_sector(db.session(), sector), service.delete_sector, "sector",
                        "core.sectors")


@bp.route("/admin/organisations/<int:organisation_id>/delete", methods=["GET", "POST"])
@admin_only
def delete_organisation(organisation_id: int):
    organisation = _get_or_404(service.get_organisation, organisation_id)
    return _delete_page(organisation, service.uses_of_organisation(db.session(), organisation),
                        service.delete_organisation, "organisation", "core.organisations")
