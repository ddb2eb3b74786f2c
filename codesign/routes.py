"""Workshop pages: the facilitator's preparation and console (their places; admins too),
the participants' phone pages (no account: the join code and a signed cookie), the
actions register and the owner's update link.

Participant pages work with full page loads; static/codesign.js, where it runs, polls
`state` (a few bytes, 304 while nothing changed) and reloads when the room moves on."""

from __future__ import annotations

import csv
import io
from datetime import date

import click
import segno
from flask import (
    Blueprint,
    Response as HttpResponse,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select

from briefings import pdf
from codesign import forms, results, service
from codesign.models import Action, ActionStatus, ContributionChannel, Participant, Workshop
from codesign.stages import ORDER, STAGES, next_stage, previous_stage, stage_of
from core import db
from core.models import Role, Sector
from core.security import allow, public, require_place_access
from core.service import ServiceError, list_places
from surveys.exports import safe_text
from surveys.models import Construct

bp = Blueprint("codesign", __name__)
runners = allow(Role.ADMIN, Role.FACILITATOR)
register_readers = allow(Role.ADMIN, Role.COORDINATOR, Role.FACILITATOR)

PARTICIPANT_COOKIE = "holdfast_workshops"
PARTICIPANT_COOKIE_DAYS = 30
# Per participant, not per address: a venue's phones share one address.
PARTICIPANT_LIMIT = parse("30 per minute")
# Wrong join codes per address, on every page that answers for a code, so codes cannot be
# guessed (see `workshop_for_code`).
WRONG_CODE_LIMIT = parse("10 per minute")
JOINS_PER_WORKSHOP = parse("600 per minute")


# --- rate limits (in RATELIMIT_STORAGE_URI's store, shared by every worker) ----------------


@bp.record_once
def _init_limits(state) -> None:
    app = state.app
    if not app.config.get("RATELIMIT_ENABLED", True):
        app.extensions["holdfast_workshop_limits"] = None
        return
    storage = storage_from_string(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    app.extensions["holdfast_workshop_limits"] = MovingWindowRateLimiter(storage)


def _limited(limit, *key: str) -> bool:
    """Count one hit; True when the limit was already reached."""
    limiter = current_app.extensions["holdfast_workshop_limits"]
    if limiter is None:
        return False
    return not limiter.hit(limit, current_app.config.get("RATELIMIT_KEY_PREFIX", ""), "workshop", *key)


def _reached(limit, *key: str) -> bool:
    """True when the limit is reached, without counting a hit."""
    limiter = current_app.extensions["holdfast_workshop_limits"]
    if limiter is None:
        return False
    return not limiter.test(limit, current_app.config.get("RATELIMIT_KEY_PREFIX", ""), "workshop", *key)


# --- navigation ------------------------------------------------------------------------


@bp.app_context_processor
def workshops_navigation() -> dict:
    """The Workshops section in the service navigation, for those who run workshops."""
    if not current_user.is_authenticated or current_user.role not in (Role.ADMIN, Role.FACILITATOR,
                                                                       Role.COORDINATOR):
        return {"workshops_navigation_items": []}
    endpoint = "codesign.workshops" if current_user.role != Role.COORDINATOR else "codesign.register"
    active = (request.endpoint or "").startswith("codesign.")
    return {"workshops_navigation_items": [
        {"href": url_for(endpoint), "text": "Workshops" if endpoint == "codesign.workshops" else "Actions",
         "active": active}]}


@bp.app_template_filter("stage_title")
def stage_title(name: str) -> str:
    return STAGES[name].title


@bp.app_template_filter("channel_label")
def channel_label(value: str) -> str:
    return ContributionChannel(value).label


# --- loaders -----------------------------------------------------------------------------


def workshop_or_404(workshop_id: int) -> Workshop:
    workshop = db.session().get(Workshop, workshop_id)
    if workshop is None:
        abort(404)
    require_place_access([workshop.place_id])
    return workshop


def action_or_404(action_id: int) -> Action:
    action = db.session().get(Action, action_id)
    if action is None:
        abort(404)
    require_place_access([action.workshop.place_id])
    return action


def _errors_to(form, error: ServiceError, fallback: str) -> None:
    target = getattr(form, error.field, None) or getattr(form, fallback)
    target.errors = [*target.errors, error.message]


def join_url(workshop: Workshop) -> str:
    return url_for("codesign.participant", code=workshop.join_code, _external=True)


def qr_svg(workshop: Workshop, scale: int = 8) -> str:
    """The join link as an inline SVG QR code (segno); its title names the code for screen readers."""
    return segno.make(join_url(workshop), error="m").svg_inline(
        scale=scale, title=f"QR code to join the workshop, code {workshop.join_code}")


def _comparison(workshop: Workshop):
    if workshop.survey_id is None or workshop.reference_wave is None or workshop.current_wave is None:
        return None
    return results.selection_for(workshop.current_wave.survey, workshop.reference_wave, workshop.current_wave,
                                 workshop.place)


def _review(workshop: Workshop) -> dict:
    selection = _comparison(workshop)
    return {
        "selection": selection,
        "tiles": results.review_tiles(selection, workshop.constructs) if selection else [],
        "earlier_actions": service.open_actions_for_place(db.session(), workshop.place_id, before=workshop),
    }


# --- facilitator: preparing --------------------------------------------------------------


@bp.get("/workshops")
@runners
def workshops():
    return render_template("codesign/list.html", workshops=service.workshops_for(db.session(), current_user))


def _constructs(ids: list[int]) -> list[Construct]:
    return list(db.session().scalars(select(Construct).where(Construct.id.in_(ids)))) if ids else []


@bp.route("/workshops/new", methods=["GET", "POST"])
@runners
def new_workshop():
    session = db.session()
    form = forms.WorkshopForm()
    places = list_places(session, for_user=current_user)
    form.place.choices = [(p.id, p.name) for p in places]
    form.constructs.choices = [(c.id, c.name) for c in session.scalars(select(Construct).order_by(Construct.position))]
    if form.validate_on_submit():
        place = next((p for p in places if p.id == form.place.data), None)
        if place is None:
            form.place.errors = ["Select the place the workshop is for"]
        else:
            focus = _constructs(form.constructs.data)
            selection = results.latest_selection(place)
            proposals = results.propose_prompts(selection, focus) if selection else []
            comparison = (selection.survey.id, selection.reference.id, selection.current.id) if selection else None
            workshop = service.create_workshop(session, place, form.title.data, form.held_on.data, focus,
                                               form.dots.data, [p.text for p in proposals], comparison, current_user)
            session.commit()
            flash(f"{workshop.title} created with {len(proposals)} proposed prompts. Keep, edit or remove them.")
            return redirect(url_for("codesign.prompts", workshop_id=workshop.id))
    return render_template("form_page.html", form=form, title="Create a workshop", back=url_for("codesign.workshops"))


@bp.route("/workshops/<int:workshop_id>/prompts", methods=["GET", "POST"])
@runners
def prompts(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    form = forms.PromptsForm()
    if request.method == "GET":
        form.prompts.data = "\n".join(p.text for p in workshop.prompts)
    if form.validate_on_submit():
        try:
            service.set_prompts(db.session(), workshop, service.prompt_lines(form.prompts.data or ""))
        except ServiceError as error:
            _errors_to(form, error, "prompts")
        else:
            db.session().commit()
            flash("Prompts saved.")
            return redirect(url_for("codesign.console", workshop_id=workshop.id))
    selection = _comparison(workshop)
    proposals = results.propose_prompts(selection, workshop.constructs) if selection else []
    return render_template("codesign/prompts.html", form=form, workshop=workshop, selection=selection,
                           proposals=proposals, title="Prompts")


# --- facilitator: the console ------------------------------------------------------------


@bp.get("/workshops/<int:workshop_id>")
@runners
def console(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    session = db.session()
    stage = stage_of(workshop.stage)
    participants = session.scalars(select(Participant).where(Participant.workshop_id == workshop.id)).all()
    return render_template(
        "codesign/console.html", workshop=workshop, stage=stage, order=ORDER,
        next_stage=next_stage(workshop.stage) if workshop.join_code else None,
        previous_stage=previous_stage(workshop.stage) if workshop.join_code else None,
        ideas=service.all_ideas(session, workshop), participants=participants,
        button=forms.ButtonForm(), stage_form=forms.StageForm(), timer_form=forms.TimerForm(),
        idea_form=forms.IdeaForm(), review=_review(workshop) if workshop.stage == "review" else None,
        actions=service.actions_of(session, workshop),
        join_url=join_url(workshop) if workshop.join_code else None, title=workshop.title,
    )


@bp.post("/workshops/<int:workshop_id>/open")
@runners
def open_workshop(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    if forms.ButtonForm().validate_on_submit():
        code = service.open_workshop(db.session(), workshop)
        db.session().commit()
        flash(f"The workshop is open. Join code: {code}")
    return redirect(url_for("codesign.console", workshop_id=workshop.id))


@bp.post("/workshops/<int:workshop_id>/stage")
@runners
def move_stage(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    form = forms.StageForm()
    if form.validate_on_submit():
        try:
            service.move_to(db.session(), workshop, form.stage.data)
        except ServiceError as error:
            flash(error.message, "info")
        else:
            db.session().commit()
            flash(f"Everyone has moved to: {STAGES[workshop.stage].title}.")
    else:
        flash("Choose a stage from the list.", "info")
    return redirect(url_for("codesign.console", workshop_id=workshop.id))


@bp.post("/workshops/<int:workshop_id>/lock")
@runners
def lock(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    if forms.ButtonForm().validate_on_submit():
        service.set_locked(db.session(), workshop, not workshop.stage_locked)
        db.session().commit()
        flash("Stage locked: nobody can add or change anything." if workshop.stage_locked else "Stage unlocked.")
    return redirect(url_for("codesign.console", workshop_id=workshop.id))


@bp.post("/workshops/<int:workshop_id>/timer")
@runners
def timer(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    form = forms.TimerForm()
    if form.validate_on_submit():
        service.set_timer(db.session(), workshop, form.minutes.data)
        db.session().commit()
        flash(f"Timer set for {form.minutes.data} minutes." if form.minutes.data else "Timer cleared.")
    else:
        flash("Enter a whole number of minutes from 0 to 240.", "info")
    return redirect(url_for("codesign.console", workshop_id=workshop.id))


@bp.post("/workshops/<int:workshop_id>/ideas/<int:idea_id>/visibility")
@runners
def idea_visibility(workshop_id: int, idea_id: int):
    workshop = workshop_or_404(workshop_id)
    if forms.ButtonForm().validate_on_submit():
        hide = request.form.get("hide") == "yes"
        try:
            service.set_hidden(db.session(), workshop, idea_id, hide)
        except ServiceError:
            abort(404)
        db.session().commit()
        flash("Idea hidden from everyone but you." if hide else "Idea shown again.")
    return redirect(url_for("codesign.console", workshop_id=workshop.id, _anchor="ideas"))


@bp.post("/workshops/<int:workshop_id>/ideas")
@runners
def paper_idea(workshop_id: int):
    """An idea from paper or said aloud, typed in by the facilitator."""
    workshop = workshop_or_404(workshop_id)
    form = forms.IdeaForm()
    if form.validate_on_submit():
        try:
            service.add_idea(db.session(), workshop, None, form.text.data, form.key.data, paper=True)
        except ServiceError as error:
            flash(error.message, "info")
        else:
            db.session().commit()
            flash("Idea added.")
    else:
        flash(next(iter(form.errors.values()))[0], "info")
    return redirect(url_for("codesign.console", workshop_id=workshop.id, _anchor="ideas"))


@bp.get("/workshops/<int:workshop_id>/screen")
@runners
def screen(workshop_id: int):
    """The projector view: readable from the back of a room."""
    workshop = workshop_or_404(workshop_id)
    if not workshop.join_code:
        abort(404)
    return render_template("codesign/screen.html", workshop=workshop, stage=stage_of(workshop.stage),
                           qr=qr_svg(workshop, 12), join_url=join_url(workshop),
                           review=_review(workshop) if workshop.stage == "review" else None,
                           ideas=service.visible_ideas(db.session(), workshop), title=workshop.title)


# --- facilitator: cluster, paper votes, prioritise, actions -----------------------------


@bp.route("/workshops/<int:workshop_id>/cluster", methods=["GET", "POST"])
@runners
def cluster(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    session = db.session()
    ideas = service.visible_ideas(session, workshop)
    clusters = service.clusters_of(session, workshop)
    form = forms.assign_form(ideas, clusters)
    if form.validate_on_submit():
        assignment = {idea.id: forms.optional_choice_id(form[f"idea_{idea.id}"].data) for idea in ideas}
        try:
            service.assign_ideas(session, workshop, assignment)
        except ServiceError as error:
            flash(error.message, "info")
        else:
            session.commit()
            flash("Groups saved.")
            return redirect(url_for("codesign.cluster", workshop_id=workshop.id))
    return render_template("codesign/cluster.html", workshop=workshop, form=form, ideas=ideas, clusters=clusters,
                           cluster_form=forms.ClusterForm(), title="Group the ideas")


@bp.post("/workshops/<int:workshop_id>/cluster/move")
@runners
def move_idea(workshop_id: int):
    """Drag and drop (static/codesign.js): one idea into one group; 204 when done, else
    back to the page, which says why."""
    workshop = workshop_or_404(workshop_id)
    if forms.ButtonForm().validate_on_submit():
        idea = forms.choice_id(request.form.get("idea"))
        try:
            service.assign_ideas(db.session(), workshop, {idea: forms.optional_choice_id(request.form.get("cluster"))})
        except ServiceError as error:
            flash(error.message, "info")
        else:
            db.session().commit()
            return "", 204
    return redirect(url_for("codesign.cluster", workshop_id=workshop.id))


@bp.post("/workshops/<int:workshop_id>/clusters")
@runners
def add_cluster(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    form = forms.ClusterForm()
    if form.validate_on_submit():
        try:
            service.add_cluster(db.session(), workshop, form.name.data)
        except ServiceError as error:
            flash(error.message, "info")
        else:
            db.session().commit()
            flash(f"Group ‘{form.name.data}’ added.")
    else:
        flash("Enter a name for the group.", "info")
    return redirect(url_for("codesign.cluster", workshop_id=workshop.id))


@bp.route("/workshops/<int:workshop_id>/clusters/<int:cluster_id>", methods=["GET", "POST"])
@runners
def rename_cluster(workshop_id: int, cluster_id: int):
    workshop = workshop_or_404(workshop_id)
    found = next((c for c in service.clusters_of(db.session(), workshop) if c.id == cluster_id), None)
    if found is None:
        abort(404)
    form = forms.RenameForm(data={"name": found.name} if request.method == "GET" else None)
    if form.validate_on_submit():
        service.rename_cluster(db.session(), workshop, cluster_id, form.name.data)
        db.session().commit()
        flash("Group renamed.")
        return redirect(url_for("codesign.cluster", workshop_id=workshop.id))
    return render_template("form_page.html", form=form, title=f"Rename ‘{found.name}’",
                           back=url_for("codesign.cluster", workshop_id=workshop.id))


@bp.route("/workshops/<int:workshop_id>/paper", methods=["GET", "POST"])
@runners
def paper(workshop_id: int):
    """Paper votes and shows of hands, entered one sector at a time."""
    workshop = workshop_or_404(workshop_id)
    session = db.session()
    ideas = service.visible_ideas(session, workshop)
    sectors = list(session.scalars(select(Sector).order_by(Sector.position, Sector.name)))
    people, votes = service.paper_counts(session, workshop)
    chosen = forms.choice_id(request.args.get("sector")) or (sectors[0].id if sectors else 0)
    form = forms.paper_form(ideas, sectors, people.get(chosen, 0),
                            {idea: n for (idea, sector), n in votes.items() if sector == chosen})
    if request.method == "GET":
        form.sector.data = chosen
    if form.validate_on_submit():
        counts = {idea.id: form[f"idea_{idea.id}"].data for idea in ideas}
        try:
            service.set_paper_counts(session, workshop, form.sector.data, form.people.data, counts)
        except ServiceError as error:
            _errors_to(form, error, "people")
        else:
            session.commit()
            flash("Paper votes saved.")
            return redirect(url_for("codesign.paper", workshop_id=workshop.id, sector=form.sector.data))
    names = {s.id: s.name for s in sectors}
    recorded = [(names[sector], n) for sector, n in people.items()]
    return render_template("codesign/paper.html", workshop=workshop, form=form, ideas=ideas, recorded=recorded,
                           title="Paper votes and shows of hands")


@bp.route("/workshops/<int:workshop_id>/prioritise", methods=["GET", "POST"])
@runners
def prioritise(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    session = db.session()
    clusters = service.clusters_of(session, workshop)
    form = forms.priorities_form(clusters)
    if form.validate_on_submit():
        def value(name: str) -> int | None:
            return int(form[name].data) if form[name].data else None

        try:
            service.set_priorities(session, workshop, {
                c.id: (value(f"impact_{c.id}"), value(f"effort_{c.id}")) for c in clusters})
        except ServiceError as error:
            flash(error.message, "info")
        else:
            session.commit()
            flash("Grid saved.")
            return redirect(url_for("codesign.prioritise", workshop_id=workshop.id))
    return render_template("codesign/prioritise.html", workshop=workshop, form=form, clusters=clusters,
                           title="Impact and effort")


def _action_form(workshop: Workshop) -> forms.ActionForm:
    session = db.session()
    form = forms.ActionForm()
    form.organisation.choices = [(o.id, o.name) for o in service.organisations_of(session, workshop.place_id)]
    constructs = workshop.constructs or list(session.scalars(select(Construct).order_by(Construct.position)))
    form.construct.choices = [(c.id, c.name) for c in constructs]
    form.cluster.choices = [("", "None"), *[(c.id, c.name) for c in service.clusters_of(session, workshop)]]
    if request.method == "GET" and request.args.get("cluster"):
        form.cluster.data = forms.choice_id(request.args["cluster"])
    return form


@bp.route("/workshops/<int:workshop_id>/actions", methods=["GET", "POST"])
@runners
def actions(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    form = _action_form(workshop)
    if form.validate_on_submit():
        try:
            action = service.add_action(db.session(), workshop, form.title.data, form.organisation.data,
                                        form.owner_name.data, form.owner_email.data, form.due_on.data,
                                        form.construct.data, form.cluster.data)
        except ServiceError as error:
            _errors_to(form, error, "title")
        else:
            db.session().commit()
            flash(f"Action added for {action.owner_name}. Their update link is beside it in the list.")
            return redirect(url_for("codesign.actions", workshop_id=workshop.id))
    session = db.session()
    clusters = sorted(service.clusters_of(session, workshop),
                      key=lambda c: (-(c.impact or 0), c.effort or 6, c.name))
    return render_template("codesign/actions.html", workshop=workshop, form=form, clusters=clusters,
                           actions=service.actions_of(session, workshop), owner_link=owner_link,
                           title="Actions")


def owner_link(action: Action) -> str:
    return url_for("codesign.owner_update", action_token=service.action_token(current_app.config["SECRET_KEY"], action),
                   _external=True)


# --- facilitator: results and export -----------------------------------------------------


@bp.get("/workshops/<int:workshop_id>/results")
@runners
def workshop_results(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    return render_template("codesign/results.html", workshop=workshop,
                           tallies=service.tallies(db.session(), workshop), title="Workshop results")


@bp.get("/workshops/<int:workshop_id>/export.csv")
@runners
def export(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    columns, rows = service.export_rows(db.session(), workshop)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([[safe_text(value) for value in row] for row in rows])
    return HttpResponse(buffer.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="workshop-{workshop.id}.csv"'})


@bp.get("/workshops/<int:workshop_id>/poster.pdf")
@runners
def poster(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    if not workshop.join_code:
        abort(404)
    html = render_template("codesign/print/poster.html", workshop=workshop, qr=qr_svg(workshop, 10),
                           join_url=join_url(workshop))
    return _pdf(html, f"workshop-{workshop.id}-poster.pdf")


@bp.get("/workshops/<int:workshop_id>/vote-sheets.pdf")
@runners
def vote_sheets(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    html = render_template("codesign/print/vote_sheets.html", workshop=workshop,
                           ideas=service.visible_ideas(db.session(), workshop))
    return _pdf(html, f"workshop-{workshop.id}-vote-sheets.pdf")


def _pdf(html: str, filename: str) -> HttpResponse:
    return HttpResponse(pdf.render(html, current_app.static_folder), mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{filename}"'})


# --- the actions register and the owner's link -------------------------------------------


@bp.get("/actions")
@register_readers
def register():
    session = db.session()
    found = service.register(session, current_user)
    later = {a.id: results.later_result(a.wave, a.construct, a.workshop.place) for a in found}
    return render_template("codesign/register.html", actions=found, later=later, today=date.today(),
                           title="Actions register")


@bp.route("/actions/<int:action_id>", methods=["GET", "POST"])
@register_readers
def action(action_id: int):
    found = action_or_404(action_id)
    form = forms.ActionUpdateForm(data={"status": found.status} if request.method == "GET" else None)
    if form.validate_on_submit():
        service.update_action(db.session(), found, ActionStatus(form.status.data), form.note.data or "",
                              current_user.name)
        db.session().commit()
        flash("Update saved.")
        return redirect(url_for("codesign.action", action_id=found.id))
    return render_template("codesign/action.html", action=found, form=form, today=date.today(),
                           later=results.later_result(found.wave, found.construct, found.workshop.place),
                           link=owner_link(found), title=found.title)


@bp.route("/action-update/<action_token>", methods=["GET", "POST"])
@public
def owner_update(action_token: str):
    found = service.action_by_token(db.session(), current_app.config["SECRET_KEY"], action_token)
    if found is None:
        abort(404)
    form = forms.ActionUpdateForm(data={"status": found.status} if request.method == "GET" else None)
    if form.validate_on_submit():
        service.update_action(db.session(), found, ActionStatus(form.status.data), form.note.data or "",
                              f"{found.owner_name} (owner)")
        db.session().commit()
        flash("Thank you. Your update is saved.")
        return redirect(url_for("codesign.owner_update", action_token=action_token))
    return render_template("codesign/owner_update.html", action=found, form=form, title=found.title)


@bp.cli.command("send-reminders", help="Queue reminders to the owners of actions that have fallen overdue "
                                         "(run it daily, as cron or a scheduler does; the worker sends them).")
@click.option("--base-url", required=True, help="Holdfast's public address, for the owners' links.")
def send_reminders(base_url: str) -> None:
    session = current_app.extensions["db_sessionmaker"]()
    try:
        with current_app.test_request_context(base_url=base_url):
            queued = service.queue_overdue_reminders(session, date.today(), owner_link)
        session.commit()
    finally:
        session.close()
    click.echo(f"{queued} reminder{'s' if queued != 1 else ''} queued.")


# --- participants ------------------------------------------------------------------------


def _cookie_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="holdfast-workshop-participant")


def _my_participants() -> dict[str, int]:
    """Workshop id → participant id, from this phone's signed cookie."""
    raw = request.cookies.get(PARTICIPANT_COOKIE)
    if not raw:
        return {}
    try:
        found = _cookie_serializer().loads(raw)
    except BadSignature:
        return {}
    return found if isinstance(found, dict) else {}


def _me(workshop: Workshop) -> Participant | None:
    return service.participant_in(db.session(), workshop, _my_participants().get(str(workshop.id)))


def _remember(response, workshop: Workshop, participant: Participant):
    mine = {**_my_participants(), str(workshop.id): participant.id}
    response.set_cookie(PARTICIPANT_COOKIE, _cookie_serializer().dumps(mine),
                        max_age=PARTICIPANT_COOKIE_DAYS * 24 * 3600, httponly=True, samesite="Lax",
                        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]))
    return response


def _guessing_stopped(workshop_id: int | None) -> bool:
    """Whether a page must refuse to answer for a join code (429), right or wrong.

    An address that has given WRONG_CODE_LIMIT wrong codes in a minute, on any page that
    takes one, is refused for every code until the minute has passed: were right codes
    let through, the refusals themselves would tell a guesser which code is right. A
    phone that joined the workshop (its signed cookie says so) is never refused, so a
    few mistyped codes behind a venue's one address do not stop the room."""
    if workshop_id is not None and str(workshop_id) in _my_participants():
        return False
    return _reached(WRONG_CODE_LIMIT, "wrong-code", request.remote_addr or "unknown")


def _count_wrong_code() -> None:
    _limited(WRONG_CODE_LIMIT, "wrong-code", request.remote_addr or "unknown")


def workshop_for_code(code: str) -> Workshop:
    """The open workshop with this join code; 429 while this address is stopped from
    guessing, else 404 for a wrong code, which counts against the address."""
    workshop = service.workshop_by_code(db.session(), code)
    if _guessing_stopped(workshop.id if workshop else None):
        abort(429)
    if workshop is None:
        _count_wrong_code()
        abort(404)
    return workshop


@bp.route("/join", methods=["GET", "POST"])
@public
def join_code():
    form = forms.JoinCodeForm()
    if form.validate_on_submit():
        workshop = service.workshop_by_code(db.session(), form.code.data)
        if _guessing_stopped(workshop.id if workshop else None):
            abort(429)
        if workshop is None:
            _count_wrong_code()
            form.code.errors = ["No workshop has that code. Check the code on the screen in the room"]
        else:
            return redirect(url_for("codesign.participant", code=workshop.join_code))
    return render_template("form_page.html", form=form, title="Join a workshop")


def _join_form() -> forms.JoinForm:
    form = forms.JoinForm()
    sectors = db.session().scalars(select(Sector).order_by(Sector.position, Sector.name))
    form.sector.choices = [*[(s.id, s.name) for s in sectors], (forms.NOT_SAYING, "Prefer not to say")]
    return form


def _participant_page(workshop: Workshop, participant: Participant, idea_form=None, dots_form=None):
    session = db.session()
    stage = stage_of(workshop.stage)
    ideas = service.visible_ideas(session, workshop) if stage.shows_ideas else []
    placed = service.dots_of(session, participant)
    context = {
        "workshop": workshop, "stage": stage, "me": participant, "ideas": ideas, "placed": placed,
        "idea_form": idea_form or forms.IdeaForm(), "button": forms.ButtonForm(),
        "dots_form": dots_form or (forms.dots_form(ideas, workshop.dots_per_participant, placed)
                                   if stage.takes_dots else None),
        "dots_left": workshop.dots_per_participant - sum(placed.values()),
        "review": _review(workshop) if workshop.stage == "review" else None,
        "summary": service.summary(session, workshop) if stage.participant_template == "summary.html" else None,
        "title": workshop.title,
    }
    form = idea_form or dots_form
    return render_template(f"codesign/participant/{stage.participant_template}", form=form, **context)


@bp.get("/w/<code>")
@public
def participant(code: str):
    workshop = workshop_for_code(code)
    if workshop.stage == "finished":
        return render_template("codesign/participant/summary.html", workshop=workshop, stage=stage_of("finished"),
                               summary=service.summary(db.session(), workshop), title=workshop.title)
    me = _me(workshop)
    if me is None:
        return render_template("codesign/participant/join.html", workshop=workshop, form=_join_form(),
                               title=f"Join {workshop.title}")
    return _participant_page(workshop, me)


@bp.post("/w/<code>/join")
@public
def join(code: str):
    workshop = workshop_for_code(code)
    if _me(workshop) is not None:
        return redirect(url_for("codesign.participant", code=workshop.join_code))
    if _limited(JOINS_PER_WORKSHOP, "join", str(workshop.id)):
        abort(429)
    form = _join_form()
    if form.validate_on_submit():
        sector = form.sector.data if form.sector.data != forms.NOT_SAYING else None
        try:
            me = service.join(db.session(), workshop, form.display_name.data or "", sector,
                              ContributionChannel(form.channel.data))
        except ServiceError as error:
            _errors_to(form, error, "display_name")
        else:
            db.session().commit()
            return _remember(redirect(url_for("codesign.participant", code=workshop.join_code)), workshop, me)
    return render_template("codesign/participant/join.html", workshop=workshop, form=form,
                           title=f"Join {workshop.title}")


@bp.post("/w/<code>/ideas")
@public
def add_idea(code: str):
    workshop = workshop_for_code(code)
    me = _me(workshop)
    if me is None:
        return redirect(url_for("codesign.participant", code=workshop.join_code))
    if _limited(PARTICIPANT_LIMIT, "participant", str(me.id)):
        abort(429)
    form = forms.IdeaForm()
    if form.validate_on_submit():
        try:
            service.add_idea(db.session(), workshop, me, form.text.data, form.key.data)
        except ServiceError as error:
            _errors_to(form, error, "text")
        else:
            db.session().commit()
            flash("Idea added.")
            return redirect(url_for("codesign.participant", code=workshop.join_code, _anchor="ideas"))
    return _participant_page(workshop, me, idea_form=form)


@bp.post("/w/<code>/ideas/<int:idea_id>/remove")
@public
def remove_idea(code: str, idea_id: int):
    workshop = workshop_for_code(code)
    me = _me(workshop)
    if me is None:
        return redirect(url_for("codesign.participant", code=workshop.join_code))
    if forms.ButtonForm().validate_on_submit():
        try:
            service.delete_own_idea(db.session(), workshop, me, idea_id)
        except ServiceError as error:
            flash(error.message, "info")
        else:
            db.session().commit()
            flash("Idea removed.")
    return redirect(url_for("codesign.participant", code=workshop.join_code, _anchor="ideas"))


@bp.post("/w/<code>/dots")
@public
@db.reads_first
def dots(code: str):
    workshop = workshop_for_code(code)
    me = _me(workshop)
    if me is None:
        return redirect(url_for("codesign.participant", code=workshop.join_code))
    if _limited(PARTICIPANT_LIMIT, "participant", str(me.id)):
        abort(429)
    session = db.session()
    ideas = service.visible_ideas(session, workshop)
    form = forms.dots_form(ideas, workshop.dots_per_participant, service.dots_of(session, me))
    if form.validate_on_submit():
        try:
            service.set_dots(session, workshop, me, {idea.id: form[f"idea_{idea.id}"].data for idea in ideas})
        except ServiceError as error:
            session.rollback()
            form.submit.errors = [error.message]
        else:
            session.commit()
            flash("Your dots are saved. You can move them until voting closes.")
            return redirect(url_for("codesign.participant", code=workshop.join_code))
    return _participant_page(workshop, me, dots_form=form)


@bp.get("/w/<code>/state")
@public
def state(code: str):
    """What a phone needs to know whether to reload: a few bytes, and 304 while the
    workshop's version is unchanged (one small query)."""
    found = db.session().execute(
        select(Workshop.id, Workshop.stage, Workshop.version, Workshop.stage_locked, Workshop.deadline_at)
        .where(Workshop.join_code == service.normalise_code(code))).one_or_none()
    if _guessing_stopped(found.id if found else None):
        abort(429)
    if found is None:
        _count_wrong_code()
        abort(404)
    response = jsonify(stage=found.stage, version=found.version, locked=found.stage_locked,
                       deadline=found.deadline_at.isoformat() if found.deadline_at else None)
    response.set_etag(f"{found.id}-{found.version}")
    response.headers["Cache-Control"] = "no-cache"  # keep it, but ask each time
    return response.make_conditional(request)
