"""Pages for importing responses collected in another survey tool: upload, match the
columns, match the answers, preview and import (the work is in surveys.importing)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from core import audit, db
from core.models import Role
from core.service import ServiceError
from surveys import importing, service
from surveys.forms import ConfirmForm, ImportUploadForm
from surveys.models import WaveStatus
from surveys.routes import bp, managers, wave_or_404


def _import_or_404(import_id: int):
    """An import in progress: for whoever uploaded it, or someone who may run the whole
    survey (its file may hold rows of any of the survey's places)."""
    record = importing.get_import(db.session(), import_id)
    if record is None or record.imported_at is not None:
        abort(404)
    wave = wave_or_404(record.wave_id)
    if record.user_id != current_user.id and not service.may_run_survey(current_user, wave.survey):
        abort(403)
    require_open_or_admin(wave)
    return record


def require_open_or_admin(wave) -> None:
    """Once a wave is closed its results may be published, so only an admin may change
    its responses, and each change is logged and shown beside its results."""
    if wave.status == WaveStatus.CLOSED and current_user.role != Role.ADMIN:
        abort(403)


def _import_places(record) -> list:
    return service.places_for(current_user, record.wave.survey)


@bp.route("/waves/<int:wave_id>/import", methods=["GET", "POST"])
@managers
def import_upload(wave_id: int):
    wave = wave_or_404(wave_id)
    require_open_or_admin(wave)
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
    parsed = importing.parse_stored(record.content)
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
        targets=importing.column_targets(db.session(), record.wave),
        title=("Error: " if error else "") + "Match the columns",
    )


@bp.route("/imports/<int:import_id>/values", methods=["GET", "POST"])
@managers
def import_values(import_id: int):
    """One matching per distinct set of answers (all agreement questions together), each
    suggestion shown selected: nothing is used until the user presses Continue."""
    record = _import_or_404(import_id)
    sets = importing.answer_sets(db.session(), record, _import_places(record))
    if not sets:
        return redirect(url_for("surveys.import_preview", import_id=record.id))
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        values = {}
        for si, answer_set in enumerate(sets):
            allowed = answer_set.allowed()
            chosen = {text: allowed.get(request.form.get(f"value-{si}-{ti}", "")) for ti, text in enumerate(answer_set.texts)}
            for column, _target in answer_set.columns:
                values[column] = {text: value for text, value in chosen.items() if value is not None}
        importing.save_values(db.session(), record, values)
        return redirect(url_for("surveys.import_preview", import_id=record.id))
    targets = importing.column_targets(db.session(), record.wave)
    return render_template("surveys/import/values.html", record=record, sets=sets, targets=targets,
                           confirm=ConfirmForm())


# Which earlier import an upload in progress replaces, by the new import's id: kept in
# the signed session cookie between the matching pages, and checked again on each use.
REPLACING = "import_replacing"
REPLACING_KEPT = 10


def _replacing(record):
    """The import that this upload will replace, if it was uploaded as a replacement."""
    done_id = (session.get(REPLACING) or {}).get(str(record.id))
    if done_id is None:
        return None
    done = _done_import_or_404(done_id)
    if done.undone or done.wave_id != record.wave_id:
        return None
    return done


@bp.route("/imports/<int:import_id>/preview", methods=["GET", "POST"])
@managers
def import_preview(import_id: int):
    """The rows as they will be stored; for a replacement, also exactly what goes, and the
    confirmation that replaces the earlier import."""
    record = _import_or_404(import_id)
    places = _import_places(record)
    replacing = _replacing(record)
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        try:
            if replacing is not None:
                removed, imported = importing.replace_import(db.session(), replacing, record, places,
                                                             actor=current_user)
            else:
                imported = importing.commit_import(db.session(), record, places, actor=current_user)
        except ServiceError as error:
            flash(error.message, "info")
            return redirect(url_for("surveys.import_preview", import_id=record.id))
        wave = record.wave
        if replacing is not None:
            session[REPLACING] = {k: v for k, v in (session.get(REPLACING) or {}).items() if k != str(record.id)}
            counted = audit.count_of_responses(removed, wave.survey.k_internal).lower()
            flash(f"Import of {replacing.record.filename} replaced by {record.filename}: {counted} removed, "
                  f"{imported} response{'s' if imported != 1 else ''} imported into {wave.label}.")
        else:
            flash(f"{imported} response{'s' if imported != 1 else ''} imported into {wave.label}.")
        return redirect(url_for("surveys.wave", wave_id=record.wave_id))
    result = importing.preview(db.session(), record, places, replacing)
    items = {item.code: item for item in importing.importable_items(record.wave)}
    trust = importing.trust_item(record.wave)
    return render_template(
        "surveys/import/preview.html", record=record, result=result, items=items, confirm=ConfirmForm(),
        mapped=[target for target in record.columns.values() if target in items],
        trust_code=trust.code if trust is not None and importing.has_trust_columns(record) else None,
        names=importing.respondent_names(db.session(), places), replacing=replacing,
    )


def _done_import_or_404(imported_id: int):
    """An import carried out: undone by whoever made it, or someone who may run the whole
    survey; once the wave is closed, only by an admin."""
    done = importing.imported_file(db.session(), imported_id)
    if done is None:
        abort(404)
    wave = wave_or_404(done.wave_id)
    if done.record.user_id != current_user.id and not service.may_run_survey(current_user, wave.survey):
        abort(403)
    require_open_or_admin(wave)
    return done


@bp.route("/imported/<int:imported_id>/undo", methods=["GET", "POST"])
@managers
def import_undo(imported_id: int):
    """GET says exactly what undoing will remove; POST removes it."""
    done = _done_import_or_404(imported_id)
    wave = done.record.wave
    if request.method == "POST" and not done.undone:
        if not ConfirmForm().validate_on_submit():
            abort(400)
        try:
            removed = importing.undo_import(db.session(), done, actor=current_user)
        except ServiceError as error:
            flash(error.message, "info")
        else:
            counted = audit.count_of_responses(removed, wave.survey.k_internal).lower()
            flash(f"Import of {done.record.filename} undone: {counted} removed from {wave.label}.")
        return redirect(url_for("surveys.wave", wave_id=wave.id) + "#imports")
    return render_template("surveys/import/undo.html", done=done, record=done.record, wave=wave,
                           confirm=ConfirmForm())


@bp.route("/imported/<int:imported_id>/replace", methods=["GET", "POST"])
@managers
def import_replace(imported_id: int):
    """Upload a corrected file to replace an import; the matching pages follow, and the
    preview asks to confirm before anything changes."""
    done = _done_import_or_404(imported_id)
    wave = done.record.wave
    form = ImportUploadForm()
    if not done.undone and form.validate_on_submit():
        upload = form.file.data
        try:
            record = importing.start_import(db.session(), wave, current_user, upload.filename, upload.read())
        except ServiceError as error:
            form.file.errors = [error.message]
        else:
            # The latest few only: a replacement abandoned part-way need not stay in the cookie.
            kept = list((session.get(REPLACING) or {}).items())[-(REPLACING_KEPT - 1):]
            session[REPLACING] = {**dict(kept), str(record.id): done.import_id}
            return redirect(url_for("surveys.import_columns", import_id=record.id))
    return render_template("surveys/import/replace.html", form=form, done=done, record=done.record, wave=wave,
                           title=f"Replace the import of {done.record.filename}")
