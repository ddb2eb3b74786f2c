"""Coordinator pages for surveys and waves, and the respondent journey."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from functools import cached_property

from flask import (
    Blueprint,
    Response as HttpResponse,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session as cookie_session,
    url_for,
)
from flask_login import current_user
from wtforms import DecimalField
from wtforms.validators import InputRequired, NumberRange

from core import db
from core.models import Role
from core.security import allow, public
from core.service import ServiceError, list_places, list_sectors
from surveys import charts, exports, importing, service
from surveys.forms import (
    ConfirmForm,
    ImportUploadForm,
    InvitationForm,
    ItemForm,
    SettingsForm,
    SurveyForm,
    WaveForm,
    margin_field_name,
)
from surveys.models import AnonymityMode, Construct, Draft, Invitation, Wave, WaveRole, WaveStatus
from surveys.question_types import QUESTION_TYPES, TRUST_DIMENSIONS, labelled_choices

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


def _wave_or_404(wave_id: int) -> Wave:
    wave = service.get_wave(db.session(), wave_id)
    if wave is None:
        abort(404)
    survey_or_404(wave.survey_id)
    return wave


def _require_running(survey) -> None:
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


def _form_errors_to(form, error: ServiceError, fallback: str) -> None:
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
            _form_errors_to(form, error, "name")
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
    counts = {wave.id: service.response_count(db.session(), wave) for wave in survey.waves}
    return render_template(
        "surveys/survey.html",
        survey=survey,
        counts=counts,
        changes=service.margin_changes(db.session(), survey),
        can_run=service.may_run_survey(current_user, survey),
        places=service.places_for(current_user, survey),
    )


def _settings_form(survey):
    class Form(SettingsForm):
        pass

    data = {
        "anonymity": survey.anonymity,
        "k_internal": survey.k_internal,
        "k_briefing": survey.k_briefing,
        "min_organisations": survey.min_organisations,
    }
    for margin in sorted(survey.margins, key=lambda m: m.construct.position):
        name = margin_field_name(margin.construct_id)
        setattr(
            Form,
            name,
            DecimalField(
                f"Margin for {margin.construct.name}",
                widget=SettingsForm.k_internal.kwargs["widget"],
                places=2,
                validators=[
                    InputRequired(f"Enter a margin for {margin.construct.name}"),
                    NumberRange(min=Decimal("0.01"), max=Decimal("4"), message="Enter a margin from 0.01 to 4 scale points"),
                ],
            ),
        )
        data[name] = Decimal(str(margin.margin))
    return Form(data=data)


@bp.route("/surveys/<int:survey_id>/settings", methods=["GET", "POST"])
@managers
def settings(survey_id: int):
    survey = survey_or_404(survey_id)
    _require_running(survey)
    form = _settings_form(survey)
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
            )
        except ServiceError as error:
            _form_errors_to(form, error, "anonymity")
        else:
            flash("Settings saved.")
            return redirect(url_for("surveys.survey", survey_id=survey.id))
    return render_template("surveys/settings.html", form=form, survey=survey)


# --- waves -------------------------------------------------------------------------


def _wave_dashboard(wave: Wave):
    """The wave's counts and its responses by sector and place, through the disclosure rules."""
    counts = service.wave_counts(db.session(), wave)
    return counts, service.wave_disclosure(db.session(), wave, counts)


@bp.get("/waves/<int:wave_id>")
@readers
def wave(wave_id: int):
    wave = _wave_or_404(wave_id)
    survey = wave.survey
    session = db.session()
    counts, table = _wave_dashboard(wave)
    # The wave's total stays whole; its breakdown is by the places this user may see.
    all_places = service.may_see_all_places(current_user, survey)
    places = service.places_for(current_user, survey)
    return render_template(
        "surveys/wave.html",
        wave=wave,
        survey=survey,
        counts=counts,
        table=table,
        breakdown=table if all_places else service.places_view(table, places),
        all_places=all_places,
        places=places,
        daily=counts.daily_table(survey.k_internal, table.grand_total_suppressed),
        rates=counts.response_rates(survey.k_internal),
        trend=service.trend_report(session, wave.instrument),
        confirm=ConfirmForm(),
        can_manage=current_user.role in (Role.ADMIN, Role.COORDINATOR),
        can_run=service.may_run_survey(current_user, survey),
        can_export=current_user.role in (Role.ADMIN, Role.EVALUATOR),
        open_link=url_for("surveys.open_start", slug=wave.open_link_slug, _external=True),
    )


@bp.get("/waves/<int:wave_id>/daily.svg")
@readers
def daily_chart(wave_id: int):
    wave = _wave_or_404(wave_id)
    counts, table = _wave_dashboard(wave)
    daily = counts.daily_table(wave.survey.k_internal, table.grand_total_suppressed)
    return HttpResponse(charts.daily_responses_svg(daily), mimetype="image/svg+xml")


def _wave_action(wave_id: int, action, done: str):
    wave = _wave_or_404(wave_id)
    _require_running(wave.survey)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        action(db.session(), wave, actor=current_user)
    except ServiceError as error:
        flash(error.message, "info")
    else:
        flash(done.format(wave=wave))
    return redirect(url_for("surveys.wave", wave_id=wave.id))


@bp.post("/waves/<int:wave_id>/open")
@managers
def open_wave(wave_id: int):
    return _wave_action(wave_id, service.open_wave, "{wave.label} is open. Invite people or share the open link.")


@bp.post("/waves/<int:wave_id>/close")
@managers
def close_wave(wave_id: int):
    return _wave_action(wave_id, service.close_wave, "{wave.label} is closed.")


@bp.post("/waves/<int:wave_id>/erase-identities")
@managers
def erase_identities(wave_id: int):
    return _wave_action(
        wave_id, service.erase_identities, "Who was invited to {wave.label} has been erased. Responses are kept."
    )


@bp.route("/surveys/<int:survey_id>/waves/new", methods=["GET", "POST"])
@managers
def new_wave(survey_id: int):
    survey = survey_or_404(survey_id)
    _require_running(survey)
    form = WaveForm()
    if request.method == "GET":
        form.label.data = f"Wave {len(survey.waves) + 1}"
    if form.validate_on_submit():
        try:
            wave = service.clone_wave(db.session(), survey, form.label.data, WaveRole(form.role.data))
        except ServiceError as error:
            _form_errors_to(form, error, "label")
        else:
            flash(f"{wave.label} created as a copy of the last wave's questions.")
            return redirect(url_for("surveys.wave", wave_id=wave.id))
    return render_template(
        "form_page.html", form=form, title=f"Next wave of {survey.name}", back=url_for("surveys.survey", survey_id=survey.id)
    )


@bp.get("/waves/<int:wave_id>/export")
@exporters
def export(wave_id: int):
    wave = _wave_or_404(wave_id)
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


# --- importing responses from another tool ----------------------------------------------


def _import_or_404(import_id: int):
    """An import in progress: for whoever uploaded it, or someone who may run the whole
    survey (its file may hold rows of any of the survey's places)."""
    record = importing.get_import(db.session(), import_id)
    if record is None or record.imported_at is not None:
        abort(404)
    wave = _wave_or_404(record.wave_id)
    if record.user_id != current_user.id and not service.may_run_survey(current_user, wave.survey):
        abort(403)
    _require_open_or_admin(wave)
    return record


def _require_open_or_admin(wave) -> None:
    """Once a wave is closed its results may be published, so only an admin may change
    its responses, and each change is logged and shown beside its results."""
    if wave.status == WaveStatus.CLOSED and current_user.role != Role.ADMIN:
        abort(403)


def _import_places(record) -> list:
    return service.places_for(current_user, record.wave.survey)


@bp.route("/waves/<int:wave_id>/import", methods=["GET", "POST"])
@managers
def import_upload(wave_id: int):
    wave = _wave_or_404(wave_id)
    _require_open_or_admin(wave)
    form = ImportUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            record = importing.start_import(db.session(), wave, current_user, upload.filename, upload.read())
        except ServiceError as error:
            form.file.errors = [error.message]
        else:
            return redirect(url_for("surveys.import_columns", import_id=record.id))
    return render_template("surveys/import/upload.html", form=form, wave=wave)


@bp.route("/imports/<int:import_id>/columns", methods=["GET", "POST"])
@managers
def import_columns(import_id: int):
    record = _import_or_404(import_id)
    parsed = importing.parse_file(record.content.encode())
    error = None
    columns = record.columns
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        columns = {header: request.form.get(f"column-{i}", "") for i, header in enumerate(parsed.headers)}
        try:
            importing.save_columns(db.session(), record, columns)
        except ServiceError as problem:
            error = problem.message
        else:
            return redirect(url_for("surveys.import_values", import_id=record.id))
    return render_template(
        "surveys/import/columns.html", record=record, parsed=parsed, columns=columns, error=error,
        items=importing.importable_items(record.wave), fields=importing.RESPONDENT_FIELDS,
        title=("Error: " if error else "") + "Match the columns",
    )


@bp.route("/imports/<int:import_id>/values", methods=["GET", "POST"])
@managers
def import_values(import_id: int):
    record = _import_or_404(import_id)
    questions = importing.value_questions(db.session(), record, _import_places(record))
    if not questions:
        return redirect(url_for("surveys.import_preview", import_id=record.id))
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        values = {}
        for qi, question in enumerate(questions):
            allowed = {str(value): value for value, _ in question.choices}
            chosen = {text: allowed.get(request.form.get(f"value-{qi}-{ti}", "")) for ti, text in enumerate(question.texts)}
            values[question.column] = {text: value for text, value in chosen.items() if value is not None}
        importing.save_values(db.session(), record, values)
        return redirect(url_for("surveys.import_preview", import_id=record.id))
    return render_template("surveys/import/values.html", record=record, questions=questions, confirm=ConfirmForm())


@bp.route("/imports/<int:import_id>/preview", methods=["GET", "POST"])
@managers
def import_preview(import_id: int):
    record = _import_or_404(import_id)
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        try:
            imported = importing.commit_import(db.session(), record, _import_places(record), actor=current_user)
        except ServiceError as error:
            flash(error.message, "info")
            return redirect(url_for("surveys.import_preview", import_id=record.id))
        flash(f"{imported} response{'s' if imported != 1 else ''} imported into {record.wave.label}.")
        return redirect(url_for("surveys.wave", wave_id=record.wave_id))
    result = importing.preview(db.session(), record, _import_places(record))
    items = {item.code: item for item in importing.importable_items(record.wave)}
    return render_template(
        "surveys/import/preview.html", record=record, result=result, items=items, confirm=ConfirmForm(),
        mapped=[target for target in record.columns.values() if target in items],
    )


# --- questions of a draft wave -----------------------------------------------------------


def _item_form(item):
    constructs = db.session().query(Construct).order_by(Construct.position).all()
    if item is None:
        form = ItemForm(data={"required": True, "type": "likert", "choices": _choices_text(labelled_choices([]))})
    else:
        form = ItemForm(
            data={
                "code": item.code, "section": item.section, "text": item.text, "hint": item.hint,
                "type": item.type, "choices": _choices_text(item.options),
                "minimum": item.options.get("min"), "maximum": item.options.get("max"),
                "construct": item.construct_id or 0, "reverse": item.reverse, "required": item.required,
            }
        )
    form.construct.choices = [(0, "None")] + [(c.id, c.name) for c in constructs]
    return form


def _choices_text(options) -> str:
    return "\n".join(choice["label"] for choice in options.get("choices", []))


def _options_from_form(form) -> dict:
    kind = QUESTION_TYPES[form.type.data]
    if form.type.data in ("likert", "single", "multi"):
        labels = [line.strip() for line in (form.choices.data or "").splitlines() if line.strip()]
        return labelled_choices(labels) if labels else kind.default_options()
    if form.type.data == "number":
        low = float(form.minimum.data) if form.minimum.data is not None else None
        high = float(form.maximum.data) if form.maximum.data is not None else None
        return {"min": low, "max": high}
    return kind.default_options()


@bp.route("/waves/<int:wave_id>/questions/new", methods=["GET", "POST"], defaults={"item_id": None})
@bp.route("/waves/<int:wave_id>/questions/<int:item_id>", methods=["GET", "POST"])
@managers
def edit_item(wave_id: int, item_id: int | None):
    wave = _wave_or_404(wave_id)
    _require_running(wave.survey)
    item = service.get_item(wave, item_id) if item_id else None
    if item_id and item is None:
        abort(404)
    form = _item_form(item)
    if form.validate_on_submit():
        try:
            service.save_item(
                db.session(), wave, item, form.code.data, form.section.data, form.text.data, form.hint.data,
                form.type.data, _options_from_form(form), form.construct.data or None,
                form.reverse.data, form.required.data,
            )
        except ServiceError as error:
            _form_errors_to(form, error, {"options": "choices", "type": "type"}.get(error.field, "code"))
        else:
            flash("Question saved.")
            return redirect(url_for("surveys.wave", wave_id=wave.id) + "#questions")
    title = "Edit question" if item else "Add a question"
    return render_template("surveys/item.html", form=form, title=title, wave=wave, item=item)


@bp.post("/waves/<int:wave_id>/questions/<int:item_id>/move/<direction>")
@managers
def move_item(wave_id: int, item_id: int, direction: str):
    wave = _wave_or_404(wave_id)
    _require_running(wave.survey)
    item = service.get_item(wave, item_id)
    if item is None or direction not in ("up", "down") or not ConfirmForm().validate_on_submit():
        abort(404)
    try:
        service.move_item(db.session(), wave, item, -1 if direction == "up" else 1)
    except ServiceError as error:
        flash(error.message, "info")
    return redirect(url_for("surveys.wave", wave_id=wave.id) + "#questions")


@bp.post("/waves/<int:wave_id>/questions/<int:item_id>/delete")
@managers
def delete_item(wave_id: int, item_id: int):
    wave = _wave_or_404(wave_id)
    _require_running(wave.survey)
    item = service.get_item(wave, item_id)
    if item is None or not ConfirmForm().validate_on_submit():
        abort(404)
    try:
        service.delete_item(db.session(), wave, item)
    except ServiceError as error:
        flash(error.message, "info")
    else:
        flash(f"Question {item.code} removed.")
    return redirect(url_for("surveys.wave", wave_id=wave.id) + "#questions")


# --- invitations -----------------------------------------------------------------------


@bp.route("/waves/<int:wave_id>/invitations", methods=["GET", "POST"])
@managers
def invitations(wave_id: int):
    wave = _wave_or_404(wave_id)
    places = service.places_for(current_user, wave.survey)
    form = InvitationForm()
    errors = []
    if form.validate_on_submit():
        text = form.invitees.data or ""
        if form.file.data:
            try:
                text = form.file.data.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                text = None
                form.file.errors = ["The file must be a CSV saved as UTF-8"]
        if text is not None:
            parsed = service.parse_invitees(db.session(), places, text, service.invited_emails(db.session(), wave))
            errors = parsed.errors
            if errors:
                form.invitees.errors = ["Some lines have problems. Nobody was invited. Fix the lines listed below and try again."]
            else:
                try:
                    issued = service.create_invitations(
                        db.session(), wave, parsed.invitees, current_app.config["PANEL_SECRET"]
                    )
                except ServiceError as error:
                    form.invitees.errors = [error.message]
                else:
                    # Shown once, straight from the POST: only hashes of the tokens are kept.
                    return render_template(
                        "surveys/links.html", wave=wave, links=issued, link_for=_respondent_link
                    )
    return render_template(
        "surveys/invitations.html", form=form, wave=wave, errors=errors, places=places,
        all_places=service.may_see_all_places(current_user, wave.survey),
    )


def _respondent_link(token: str) -> str:
    return url_for("surveys.token_start", token=token, _external=True)


@bp.post("/waves/<int:wave_id>/invitations/links.csv")
@managers
def invitation_links_csv(wave_id: int):
    wave = _wave_or_404(wave_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    links = service.links_for_tokens(
        db.session(), wave, request.form.getlist("token")[:service.INVITEE_MAX_ROWS],
        service.places_for(current_user, wave.survey),
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "organisation", "sector", "place", "link"])
    for link in links:
        inv = link.invitation
        writer.writerow([
            _csv_safe(link.email or ""), _csv_safe(inv.organisation.name if inv.organisation else ""),
            _csv_safe(inv.sector.name), _csv_safe(inv.place.name), _respondent_link(link.token),
        ])
    return HttpResponse(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="wave-{wave.id}-links.csv"'},
    )


def _csv_safe(value: str) -> str:
    # Spreadsheets run cells starting with these as formulas.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- the respondent journey --------------------------------------------------------------


class Journey:
    """One respondent's way through a wave: by invitation token or by open link."""

    def __init__(self, wave: Wave, draft: Draft, endpoint_args: dict, prefix: str):
        self.wave = wave
        self.draft = draft
        self.args = endpoint_args
        self.prefix = prefix

    @cached_property
    def steps(self) -> list[service.Step]:
        return service.journey_steps(self.wave.instrument, self.draft.sector_id, list_sectors(db.session()))

    @property
    def start_url(self) -> str:
        return url_for(f"surveys.{self.prefix}_start", **self.args)

    def url(self, page: str, **kwargs) -> str:
        return url_for(f"surveys.{self.prefix}_{page}", **self.args, **kwargs)


def _token_invitation(token: str) -> Invitation:
    invitation = service.invitation_for_token(db.session(), token)
    if invitation is None:
        abort(404)
    return invitation


def _closed_page(wave: Wave):
    """The page to show instead of the survey while the wave is not open, else None."""
    if wave.status != WaveStatus.OPEN:
        return render_template("surveys/respond/closed.html", wave=wave)
    return None


def _unusable_link_page(invitation: Invitation):
    """The page to show instead of the survey for a used link or a wave not open, else None."""
    if invitation.used_at is not None:
        return render_template("surveys/respond/already_done.html", wave=invitation.wave)
    return _closed_page(invitation.wave)


def _token_journey(token: str):
    """The journey for a token, or a page to show instead (used, closed).

    Only a POST makes the draft, so a GET never writes: link checkers and prefetching open
    links that nobody answers. Until the first answers are sent, a page shows an empty,
    unsaved draft.
    """
    invitation = _token_invitation(token)
    other_page = _unusable_link_page(invitation)
    if other_page:
        return None, other_page
    if request.method == "POST":
        draft = service.draft_for_invitation(db.session(), invitation)
    else:
        draft = service.existing_draft(db.session(), invitation) or Draft(
            sector_id=invitation.sector_id, place_id=invitation.place_id, answers={}, section=0
        )
    return Journey(invitation.wave, draft, {"token": token}, "token"), None


def _open_wave_or_404(slug: str) -> Wave:
    wave = service.wave_for_open_link(db.session(), slug)
    if wave is None:
        abort(404)
    return wave


def _open_key_name(wave: Wave) -> str:
    return f"open-draft-{wave.id}"


def _open_journey(slug: str):
    wave = _open_wave_or_404(slug)
    closed = _closed_page(wave)
    if closed:
        return None, closed
    draft = service.open_draft(db.session(), wave, cookie_session.get(_open_key_name(wave)))
    if draft is None:
        return None, redirect(url_for("surveys.open_about_you", slug=slug))
    return Journey(wave, draft, {"slug": slug}, "open"), None


@bp.get("/s/<token>")
@public
def token_start(token: str):
    invitation = _token_invitation(token)
    other_page = _unusable_link_page(invitation)
    if other_page:
        return other_page
    draft = service.existing_draft(db.session(), invitation)
    resume = draft is not None and bool(draft.answers)
    steps = service.journey_steps(invitation.wave.instrument, invitation.sector_id, list_sectors(db.session()))
    return render_template(
        "surveys/respond/start.html",
        wave=invitation.wave,
        survey=invitation.wave.survey,
        minutes=service.minutes_to_complete(steps),
        start_url=url_for("surveys.token_step", token=token, index=(draft.section if resume else 0)),
        resume=resume,
    )


@bp.route("/s/<token>/<int:index>", methods=["GET", "POST"])
@public
def token_step(token: str, index: int):
    journey, other_page = _token_journey(token)
    return other_page or _step(journey, index)


@bp.route("/s/<token>/check", methods=["GET", "POST"])
@public
@db.reads_first
def token_check(token: str):
    invitation = _token_invitation(token)
    if invitation.used_at is not None:
        return redirect(url_for("surveys.token_done", token=token))
    closed = _closed_page(invitation.wave)
    if closed:
        return closed
    draft = service.existing_draft(db.session(), invitation)
    if draft is None:
        # Submitted a moment ago by another click (the draft goes with it), or never started.
        db.session().refresh(invitation)
        done = invitation.used_at is not None
        return redirect(url_for("surveys.token_done" if done else "surveys.token_start", token=token))
    journey = Journey(invitation.wave, draft, {"token": token}, "token")
    pseudonymous = invitation.wave.survey.anonymity == AnonymityMode.PSEUDONYMOUS
    respondent = service.Respondent(
        invitation.sector_id,
        invitation.place_id,
        invitation.organisation_id,
        invitation.panel_key if pseudonymous else None,
        "link",
    )
    return _check(journey, respondent, invitation)


@bp.get("/s/<token>/done")
@public
def token_done(token: str):
    invitation = _token_invitation(token)
    if invitation.used_at is None:
        return redirect(url_for("surveys.token_start", token=token))
    return render_template("surveys/respond/done.html", wave=invitation.wave, survey=invitation.wave.survey)


@bp.get("/o/<slug>")
@public
def open_start(slug: str):
    wave = _open_wave_or_404(slug)
    closed = _closed_page(wave)
    if closed:
        return closed
    draft = service.open_draft(db.session(), wave, cookie_session.get(_open_key_name(wave)))
    resume = draft is not None and bool(draft.answers)
    sectors = list_sectors(db.session())
    # The respondent's sector is not known yet: estimate as if they rate every other one.
    steps = service.journey_steps(wave.instrument, sectors[0].id if sectors else 0, sectors)
    return render_template(
        "surveys/respond/start.html",
        wave=wave,
        survey=wave.survey,
        minutes=service.minutes_to_complete(steps),
        start_url=url_for("surveys.open_step", slug=slug, index=draft.section)
        if resume
        else url_for("surveys.open_about_you", slug=slug),
        resume=resume,
        open_link=True,
    )


@bp.route("/o/<slug>/about-you", methods=["GET", "POST"])
@public
def open_about_you(slug: str):
    wave = _open_wave_or_404(slug)
    closed = _closed_page(wave)
    if closed:
        return closed
    sectors = list_sectors(db.session())
    places = wave.survey.places
    errors = {}
    if request.method == "POST":
        sector_id, place_id = request.form.get("sector", ""), request.form.get("place", "")
        if len(places) == 1:
            place_id = str(places[0].id)
        if not sector_id.isdigit():
            errors["sector"] = "Select the sector your organisation is in"
        if not place_id.isdigit():
            errors["place"] = "Select the place you work in"
        if not errors:
            try:
                draft = service.start_open_draft(db.session(), wave, int(sector_id), int(place_id))
            except ServiceError as error:
                errors["sector"] = error.message
            else:
                cookie_session[_open_key_name(wave)] = draft.open_key
                return redirect(url_for("surveys.open_step", slug=slug, index=0))
    return render_template(
        "surveys/respond/about_you.html", wave=wave, sectors=sectors, places=places, errors=errors, form_values=request.form
    )


@bp.route("/o/<slug>/<int:index>", methods=["GET", "POST"])
@public
def open_step(slug: str, index: int):
    journey, other_page = _open_journey(slug)
    return other_page or _step(journey, index)


@bp.route("/o/<slug>/check", methods=["GET", "POST"])
@public
@db.reads_first
def open_check(slug: str):
    journey, other_page = _open_journey(slug)
    if other_page:
        # A replayed submit after the draft is gone still lands on the confirmation.
        if request.method == "POST" and service.response_for_key(db.session(), request.form.get("submission_key", "")):
            return redirect(url_for("surveys.open_done", slug=slug))
        return other_page
    draft = journey.draft
    respondent = service.Respondent(draft.sector_id, draft.place_id, None, None, "open")
    return _check(journey, respondent, None, after_submit=lambda: cookie_session.pop(_open_key_name(journey.wave), None))


@bp.get("/o/<slug>/done")
@public
def open_done(slug: str):
    wave = _open_wave_or_404(slug)
    return render_template("surveys/respond/done.html", wave=wave, survey=wave.survey, open_link=True)


def _step(journey: Journey, index: int):
    if not 0 <= index < len(journey.steps):
        abort(404)
    step = journey.steps[index]
    answers = dict(journey.draft.answers or {})
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        answers, errors = service.apply_step(step, answers, request.form)
        action = request.form.get("action", "continue")
        if action == "save":
            service.save_draft(db.session(), journey.draft, answers, index)
            return render_template("surveys/respond/saved.html", journey=journey, resume_url=journey.url("step", index=index))
        if not errors:
            next_index = index + 1
            service.save_draft(db.session(), journey.draft, answers, next_index if next_index < len(journey.steps) else index)
            if request.args.get("return") == "check" or next_index >= len(journey.steps):
                return redirect(journey.url("check"))
            return redirect(journey.url("step", index=next_index))
    return render_template(
        "surveys/respond/step.html",
        journey=journey,
        step=step,
        index=index,
        answers=answers,
        errors=errors,
        dimensions=TRUST_DIMENSIONS,
        back=journey.url("step", index=index - 1) if index else journey.start_url,
    )


def _check(journey: Journey, respondent, invitation, after_submit=None):
    answers = journey.draft.answers or {}
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        # The draft's own key, never one from the form: one draft, one response.
        try:
            service.submit_response(db.session(), journey.wave, respondent, answers, journey.draft.submission_key, invitation)
        except service.AlreadySubmitted:
            pass
        except ServiceError:
            # Something is missing or no longer acceptable: back to the page that asks it.
            flash("Some questions still need an answer.", "info")
            return redirect(journey.url("step", index=service.first_incomplete_step(journey.steps, answers) or 0))
        if after_submit:
            after_submit()
        return redirect(journey.url("done"))
    incomplete = service.first_incomplete_step(journey.steps, answers)
    return render_template(
        "surveys/respond/check.html",
        journey=journey,
        rows=service.check_answers_rows(journey.steps, answers),
        incomplete=incomplete,
        confirm=ConfirmForm(),
    )
