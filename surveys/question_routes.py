"""Pages of the question editor of a draft wave (the work is in surveys.questions)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from core import db
from core.service import ServiceError
from surveys import questions
from surveys.forms import ConfirmForm, ItemForm
from surveys.models import Construct, WaveStatus
from surveys.question_types import AGREEMENT_5, QUESTION_TYPES
from surveys.routes import bp, form_errors_to, managers, require_running, wave_or_404


def _item_form(item):
    constructs = db.session().query(Construct).order_by(Construct.position).all()
    if item is None:
        # A new question starts as a five-point agreement question, the built-in constructs' scale.
        form = ItemForm(data={"required": True, "type": "likert", "choices": "\n".join(AGREEMENT_5)})
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
    """The choices as typed, numbered from 1 (from the construct's lowest point for an
    agreement question measuring one). None typed means none: surveys.questions refuses
    a choice question with fewer than two, rather than inventing them."""
    kind = QUESTION_TYPES[form.type.data]
    if form.type.data in ("likert", "single", "multi"):
        labels = [line.strip() for line in (form.choices.data or "").splitlines() if line.strip()]
        construct = db.session().get(Construct, form.construct.data) if form.construct.data else None
        start = construct.scale_min if construct is not None and form.type.data == "likert" else 1
        return {"choices": [{"value": start + offset, "label": label} for offset, label in enumerate(labels)]}
    if form.type.data == "number":
        low = float(form.minimum.data) if form.minimum.data is not None else None
        high = float(form.maximum.data) if form.maximum.data is not None else None
        return {"min": low, "max": high}
    return kind.default_options()


@bp.route("/waves/<int:wave_id>/questions/new", methods=["GET", "POST"], defaults={"item_id": None})
@bp.route("/waves/<int:wave_id>/questions/<int:item_id>", methods=["GET", "POST"])
@managers
def edit_item(wave_id: int, item_id: int | None):
    wave = wave_or_404(wave_id)
    require_running(wave.survey)
    item = questions.get_item(wave, item_id) if item_id else None
    if item_id and item is None:
        abort(404)
    form = _item_form(item)
    if form.validate_on_submit():
        try:
            questions.save_item(
                db.session(), wave, item, form.code.data, form.section.data, form.text.data, form.hint.data,
                form.type.data, _options_from_form(form), form.construct.data or None,
                form.reverse.data, form.required.data,
            )
        except ServiceError as error:
            form_errors_to(form, error, {"options": "choices", "type": "type", "construct": "construct"}.get(
                error.field, "code"))
        else:
            flash("Question saved.")
            return redirect(url_for("surveys.wave", wave_id=wave.id) + "#questions")
    title = "Edit question" if item else "Add a question"
    return render_template("surveys/item.html", form=form, title=title, wave=wave, item=item)


@bp.post("/waves/<int:wave_id>/questions/<int:item_id>/move/<direction>")
@managers
def move_item(wave_id: int, item_id: int, direction: str):
    wave = wave_or_404(wave_id)
    require_running(wave.survey)
    item = questions.get_item(wave, item_id)
    if item is None or direction not in ("up", "down") or not ConfirmForm().validate_on_submit():
        abort(404)
    try:
        questions.move_item(db.session(), wave, item, -1 if direction == "up" else 1)
    except ServiceError as error:
        flash(error.message, "info")
    return redirect(url_for("surveys.wave", wave_id=wave.id) + "#questions")


@bp.route("/waves/<int:wave_id>/questions/<int:item_id>/delete", methods=["GET", "POST"])
@managers
def delete_item(wave_id: int, item_id: int):
    """GET: a page saying what removing the question does; POST: remove it."""
    wave = wave_or_404(wave_id)
    require_running(wave.survey)
    item = questions.get_item(wave, item_id)
    if item is None:
        abort(404)
    questions_page = url_for("surveys.wave", wave_id=wave.id) + "#questions"
    if request.method == "GET":
        if wave.status != WaveStatus.DRAFT:
            flash("The questions of an opened wave cannot change", "info")
            return redirect(questions_page)
        return render_template(
            "surveys/confirm/remove_question.html", wave=wave, survey=wave.survey, item=item, confirm=ConfirmForm(),
            in_last_wave=questions.in_previous_version(db.session(), wave.instrument, item.code),
        )
    if not ConfirmForm().validate_on_submit():
        abort(404)
    try:
        questions.delete_item(db.session(), wave, item)
    except ServiceError as error:
        flash(error.message, "info")
    else:
        flash(f"Question {item.code} removed.")
    return redirect(questions_page)
