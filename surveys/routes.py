"""Coordinator pages for surveys and waves, the blueprint every surveys page is on, and
what those pages share: the loaders that check access (`survey_or_404`, `wave_or_404`),
the role groups and the template filters that shape values for the GOV.UK macros.

The other journeys' pages are in `question_routes`, `invitation_routes`, `import_routes`
and `respondent_routes`, imported at the end of this module."""

from __future__ import annotations


import segno
from flask import (
    Blueprint,
    Response as HttpResponse,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from core import audit, db
from core.models import Role
from core.security import allow
from core.service import ServiceError, list_places, list_sectors
from surveys import charts, dashboard, exports, importing, questions, respondent, service
from surveys import invitations
from surveys.forms import ConfirmForm, SurveyForm, WaveForm, margin_field_name, settings_form
from surveys.models import AnonymityMode, Wave, WaveRole, WaveStatus
from surveys.question_types import QUESTION_TYPES, labelled_choices

bp = Blueprint("surveys", __name__)


@bp.app_context_processor
def question_registry() -> dict:
    return {"registry": QUESTION_TYPES}

readers = allow(Role.ADMIN, Role.COORDINATOR, Role.EVALUATOR)
managers = allow(Role.ADMIN, Role.COORDINATOR)
exporters = allow(Role.ADMIN, Role.EVALUATOR)  # raw, record-level data


# --- template helpers: shape values for the GOV.UK macros ---------------------------------


@bp.app_template_filter("radio_item")
def radio_item(choice: dict, selected) -> dict:
    return {"value": choice["value"], "text": choice["label"], "checked": choice["value"] == selected}


@bp.app_template_filter("checkbox_item")
def checkbox_item(choice: dict, selected: list) -> dict:
    return {"value": choice["value"], "text": choice["label"], "checked": choice["value"] in selected}


@bp.app_template_filter("enumerate_choices")
def enumerate_choices(labels: list[str]) -> list[dict]:
    return labelled_choices(labels)["choices"]


@bp.app_template_filter("id_choice")
def id_choice(row) -> dict:
    return {"value": row.id, "label": row.name}


@bp.app_template_filter("error_link")
def error_link(field_and_message: tuple[str, str]) -> dict:
    field_id, message = field_and_message
    return {"text": message, "href": f"#{field_id}"}


@bp.app_template_filter("responses_count")
def responses_count(number: int, k: int) -> str:
    """‘12 responses’, or ‘Fewer than 5 responses’ below the disclosure threshold (a count
    of part of a wave, such as one import, read by more people than the one who knew it)."""
    return audit.count_of_responses(number, k)


@bp.app_template_filter("summary_row")
def summary_row(question_and_answer: tuple[str, str], change_url: str, section: str) -> dict:
    question, answer = question_and_answer
    return {
        "key": {"text": question},
        "value": {"text": answer},
        "actions": {"items": [{"href": change_url, "text": "Change", "visuallyHiddenText": f"{section}: {question}"}]},
    }


def survey_or_404(survey_id: int):
    survey = service.get_survey(db.session(), survey_id)
    if survey is None:
        abort(404)
    if not service.can_see_survey(current_user, survey):
        abort(403)
    return survey


def wave_or_404(wave_id: int) -> Wave:
    wave = service.get_wave(db.session(), wave_id)
    if wave is None:
        abort(404)
    survey_or_404(wave.survey_id)
    return wave


def require_running(survey) -> None:
    """Changes for every place of the survey: refused to a coordinator of only some of them."""
    if not service.may_run_survey(current_user, survey):
        abort(403)


@bp.app_template_global()
def my_places(survey) -> list:
    """The survey's places whose figures the signed-in user may see (the results place picker)."""
    return service.places_for(current_user, survey)


@bp.app_template_global()
def sees_all_places(survey) -> bool:
    return service.may_see_all_places(current_user, survey)


def form_errors_to(form, error: ServiceError, fallback: str) -> None:
    target = getattr(form, error.field, None) or getattr(form, fallback)
    target.errors = list(target.errors) + [error.message]


# --- surveys ---------------------------------------------------------------------------


@bp.get("/surveys")
@readers
def surveys():
    return render_template("surveys/list.html", surveys=service.list_surveys(db.session(), current_user))


@bp.route("/surveys/new", methods=["GET", "POST"])
@managers
def new_survey():
    form = SurveyForm()
    form.places.choices = [(p.id, p.name) for p in current_user_places()]
    if form.validate_on_submit():
        try:
            survey = service.create_survey(
                db.session(),
                form.name.data,
                form.run_by.data,
                form.purpose.data,
                form.template.data,
                form.places.data,
                AnonymityMode(form.anonymity.data),
            )
        except ServiceError as error:
            form_errors_to(form, error, "name")
        else:
            flash(f"{survey.name} created. Check its settings and questions, then open wave 1.")
            return redirect(url_for("surveys.survey", survey_id=survey.id))
    return render_template("form_page.html", form=form, title="Create a survey", back=url_for("surveys.surveys"))


def current_user_places():
    return list_places(db.session(), for_user=current_user)


@bp.get("/surveys/<int:survey_id>")
@readers
def survey(survey_id: int):
    survey = survey_or_404(survey_id)
    # Counting who answered is not an answer: each wave's total is shown exactly, as on its own page.
    counts = {wave.id: dashboard.response_count(db.session(), wave) for wave in survey.waves}
    return render_template(
        "surveys/survey.html",
        survey=survey,
        counts=counts,
        changes=service.margin_changes(db.session(), survey),
        can_run=service.may_run_survey(current_user, survey),
        places=service.places_for(current_user, survey),
    )


@bp.route("/surveys/<int:survey_id>/settings", methods=["GET", "POST"])
@managers
def settings(survey_id: int):
    survey = survey_or_404(survey_id)
    require_running(survey)
    form = settings_form(survey, list_sectors(db.session()))
    if form.validate_on_submit():
        margins = {m.construct_id: float(form[margin_field_name(m.construct_id)].data) for m in survey.margins}
        try:
            service.update_settings(
                db.session(),
                survey,
                current_user,
                AnonymityMode(form.anonymity.data),
                form.k_internal.data,
                form.k_briefing.data,
                form.min_organisations.data,
                margins,
                offer_dont_know=form.offer_dont_know.data,
                trust_sector_ids=form.trust_sectors.data or [],
            )
        except ServiceError as error:
            form_errors_to(form, error, "anonymity")
        else:
            flash("Settings saved.")
            return redirect(url_for("surveys.survey", survey_id=survey.id))
    return render_template("surveys/settings.html", form=form, survey=survey)


# --- waves -------------------------------------------------------------------------


def _wave_dashboard(wave: Wave):
    """The wave's counts and its responses by sector and place, through the disclosure rules."""
    counts = dashboard.wave_counts(db.session(), wave)
    return counts, dashboard.wave_disclosure(db.session(), wave, counts)


@bp.get("/waves/<int:wave_id>")
@readers
def wave(wave_id: int):
    wave = wave_or_404(wave_id)
    survey = wave.survey
    session = db.session()
    counts, table = _wave_dashboard(wave)
    # The wave's total stays whole; its breakdown is by the places this user may see.
    all_places = service.may_see_all_places(current_user, survey)
    places = service.places_for(current_user, survey)
    can_manage = current_user.role in (Role.ADMIN, Role.COORDINATOR)
    can_run = service.may_run_survey(current_user, survey)
    open_link = url_for("surveys.open_start", slug=wave.open_link_slug, _external=True)
    breakdown = table if all_places else dashboard.places_view(table, places)
    dashboard.publish_counts(wave, breakdown, counts.total)
    return render_template(
        "surveys/wave.html",
        wave=wave,
        survey=survey,
        counts=counts,
        table=table,
        breakdown=breakdown,
        all_places=all_places,
        places=places,
        daily=counts.daily_table(survey.k_internal, table.grand_total_suppressed),
        rates=counts.response_rates(survey.k_internal),
        trend=questions.trend_report(session, wave.instrument),
        confirm=ConfirmForm(),
        can_manage=can_manage,
        can_run=can_run,
        imports=[done for done in importing.imports_of(session, wave) if can_run or done.record.user_id == current_user.id]
        if can_manage else [],
        may_undo=wave.status != WaveStatus.CLOSED or current_user.role == Role.ADMIN,
        can_export=current_user.role in (Role.ADMIN, Role.EVALUATOR),
        open_link=open_link,
        dont_know=respondent.offers_dont_know(wave),
        # Inline, so it prints with the page; its title reads the link out to screen readers.
        open_link_qr=segno.make(open_link, error="m").svg_inline(scale=4, title=f"QR code for {open_link}"),
    )


@bp.get("/waves/<int:wave_id>/daily.svg")
@readers
def daily_chart(wave_id: int):
    wave = wave_or_404(wave_id)
    counts, table = _wave_dashboard(wave)
    daily = counts.daily_table(wave.survey.k_internal, table.grand_total_suppressed)
    return HttpResponse(charts.daily_responses_svg(daily), mimetype="image/svg+xml")


def _wave_action(wave_id: int, action, done: str, page: str, refused, **facts):
    """GET: a page saying exactly what the action will do (or, if it cannot be done now,
    back to the wave saying why); POST: do it."""
    wave = wave_or_404(wave_id)
    require_running(wave.survey)
    if request.method == "GET":
        reason = refused(wave)
        if reason:
            flash(reason, "info")
            return redirect(url_for("surveys.wave", wave_id=wave.id))
        found = {name: fact(wave) for name, fact in facts.items()}
        return render_template(f"surveys/confirm/{page}.html", wave=wave, survey=wave.survey, confirm=ConfirmForm(),
                               **found)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        action(db.session(), wave, actor=current_user)
    except ServiceError as error:
        flash(error.message, "info")
    else:
        flash(done.format(wave=wave))
    return redirect(url_for("surveys.wave", wave_id=wave.id))


def _unless(status: WaveStatus, message: str):
    return lambda wave: message if wave.status != status else None


@bp.route("/waves/<int:wave_id>/open", methods=["GET", "POST"])
@managers
def open_wave(wave_id: int):
    return _wave_action(
        wave_id, service.open_wave, "{wave.label} is open. Invite people or share the open link.", "open",
        _unless(WaveStatus.DRAFT, "Only a draft wave can be opened"),
        other_open=lambda wave: next((w for w in wave.survey.waves if w.status == WaveStatus.OPEN), None),
        trend=lambda wave: questions.trend_report(db.session(), wave.instrument),
    )


@bp.route("/waves/<int:wave_id>/close", methods=["GET", "POST"])
@managers
def close_wave(wave_id: int):
    return _wave_action(
        wave_id, service.close_wave, "{wave.label} is closed.", "close",
        _unless(WaveStatus.OPEN, "Only an open wave can be closed"),
        responses=lambda wave: dashboard.response_count(db.session(), wave),
        in_progress=lambda wave: respondent.drafts_in_progress(db.session(), wave),
    )


def _erase_refused(wave) -> str | None:
    if wave.status != WaveStatus.CLOSED:
        return "Close the wave before erasing who was invited"
    if wave.identities_erased_at is not None:
        return f"Who was invited to {wave.label} was erased on {wave.identities_erased_at.strftime('%-d %B %Y')}"
    return None


@bp.route("/waves/<int:wave_id>/erase-identities", methods=["GET", "POST"])
@managers
def erase_identities(wave_id: int):
    return _wave_action(
        wave_id, invitations.erase_identities, "Who was invited to {wave.label} has been erased. Responses are kept.",
        "erase", _erase_refused,
        addresses=lambda wave: len(invitations.invited_emails(db.session(), wave)),
    )


@bp.route("/surveys/<int:survey_id>/waves/new", methods=["GET", "POST"])
@managers
def new_wave(survey_id: int):
    survey = survey_or_404(survey_id)
    require_running(survey)
    form = WaveForm()
    if request.method == "GET":
        form.label.data = f"Wave {len(survey.waves) + 1}"
    if form.validate_on_submit():
        try:
            wave = service.clone_wave(db.session(), survey, form.label.data, WaveRole(form.role.data))
        except ServiceError as error:
            form_errors_to(form, error, "label")
        else:
            flash(f"{wave.label} created as a copy of the last wave's questions.")
            return redirect(url_for("surveys.wave", wave_id=wave.id))
    return render_template(
        "form_page.html", form=form, title=f"Next wave of {survey.name}", back=url_for("surveys.survey", survey_id=survey.id)
    )


@bp.get("/waves/<int:wave_id>/export")
@exporters
def export(wave_id: int):
    wave = wave_or_404(wave_id)
    kind = request.args.get("format", "csv")
    if kind not in exports.FORMATS:
        abort(404)
    session = db.session()
    data = service.responses_frame(session, [wave])
    table = exports.export_table(data, wave.instrument.items, request.args.get("panel_keys") == "yes")
    body = {
        "csv": lambda: exports.to_csv(table),
        "xlsx": lambda: exports.to_xlsx(table),
        "sav": lambda: exports.to_sav(table),
    }[kind]()
    mimetype, extension = exports.FORMATS[kind]
    filename = f"survey-{wave.survey_id}-wave-{wave.number}-responses.{extension}"
    return HttpResponse(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/surveys/<int:survey_id>/export/<part>.csv")
@exporters
def export_for_compare(survey_id: int, part: str):
    """Every wave in one file, with its codebook: the input of `flask compare`."""
    survey = survey_or_404(survey_id)
    if part not in ("responses", "codebook"):
        abort(404)
    data = service.responses_frame(db.session(), list(survey.waves))
    responses, codebook = exports.compare_files(data, request.args.get("panel_keys") == "yes")
    body = responses if part == "responses" else codebook
    filename = f"survey-{survey.id}-{part}.csv"
    return HttpResponse(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})



# The other journeys' pages, on this same blueprint (their endpoints keep the `surveys.`
# prefix). Imported last: each module takes `bp` and the loaders above from here.
from surveys import import_routes, invitation_routes, question_routes, respondent_routes  # noqa: E402, F401
