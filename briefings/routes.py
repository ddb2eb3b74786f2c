"""The briefing "Are the gains holding?": an HTML preview and the PDF of the same
selection the Results page compares (the same query string, defaults and checks); issuing
it; and reviewing free-text answers as quotes for it."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response as HttpResponse,
    abort,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user

from analysis import tables
from briefings import issuing, quotes, service
from briefings.forms import IssueForm, QuoteChoiceForm, QuoteReviewForm
from briefings.models import IssuedBriefing, QuoteStatus
from core import db
from core.audit_routes import london_time
from core.models import Role
from core.security import allow
from core.service import ServiceError
from surveys import service as surveys
from surveys.routes import survey_or_404

bp = Blueprint("briefings", __name__, url_prefix="/briefings")
readers = allow(Role.ADMIN, Role.COORDINATOR, Role.EVALUATOR)


def _pdf(body: bytes, filename: str) -> HttpResponse:
    return HttpResponse(body, mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _preview(survey_id: int, form: IssueForm):
    selection, results = service.selected(survey_id)
    briefing = service.build(selection, results)
    return render_template(
        "briefings/briefing.html", briefing=briefing, selection=selection, for_pdf=False, form=form,
        difference=issuing.difference(db.session(), selection, briefing), verdicts=tables.VERDICTS,
    )


@bp.get("/surveys/<int:survey_id>")
@readers
def preview(survey_id: int):
    return _preview(survey_id, IssueForm())


@bp.get("/surveys/<int:survey_id>.pdf")
@readers
def download(survey_id: int):
    selection, results = service.selected(survey_id)
    return _pdf(service.render_pdf(selection, service.build(selection, results)), service.filename(selection))


@bp.post("/surveys/<int:survey_id>/issue")
@readers
def issue(survey_id: int):
    form = IssueForm()
    if not form.validate_on_submit():
        return _preview(survey_id, form)
    selection, results = service.selected(survey_id)
    issued, new = issuing.issue(db.session(), selection, results, form.foreword.data, current_user)
    flash("Briefing issued." if new else
          f"Nothing has changed since this briefing was issued ({london_time(issued.issued_at)}): it is listed below.")
    return redirect(url_for("briefings.issued", survey_id=survey_id))


@bp.get("/surveys/<int:survey_id>/issued")
@readers
def issued(survey_id: int):
    survey = survey_or_404(survey_id)
    found = issuing.issued_for(db.session(), survey, current_user, surveys.may_see_all_places(current_user, survey))
    return render_template("briefings/issued.html", survey=survey, issued=found)


@bp.get("/issued/<int:issued_id>.pdf")
@readers
def issued_pdf(issued_id: int):
    found = db.session().get(IssuedBriefing, issued_id)
    if found is None:
        abort(404)
    survey = survey_or_404(found.survey_id)
    if not issuing.may_download(found, current_user, surveys.may_see_all_places(current_user, survey)):
        abort(403)
    return _pdf(found.pdf, found.filename)


# --- quotes ------------------------------------------------------------------------------


def _wave_of(survey_id: int, wave_id: int):
    survey = survey_or_404(survey_id)
    wave = next((w for w in survey.waves if w.id == wave_id), None)
    if wave is None:
        abort(404)
    return survey, wave


@bp.get("/surveys/<int:survey_id>/waves/<int:wave_id>/quotes")
@readers
def quote_review(survey_id: int, wave_id: int):
    survey, wave = _wave_of(survey_id, wave_id)
    found = quotes.candidates(db.session(), wave, surveys.places_for(current_user, survey))
    return render_template("briefings/quotes.html", survey=survey, wave=wave, candidates=found,
                           review_form=QuoteReviewForm(), choice_form=QuoteChoiceForm(), failed=None)


def _candidate_or_404(survey_id: int, wave_id: int, response_id: int, item_code: str):
    survey, wave = _wave_of(survey_id, wave_id)
    found = quotes.candidate(db.session(), wave, surveys.places_for(current_user, survey), response_id, item_code)
    if found is None:
        abort(404)
    return survey, wave, found


@bp.post("/surveys/<int:survey_id>/waves/<int:wave_id>/quotes/<int:response_id>/<item_code>")
@readers
def review_quote(survey_id: int, wave_id: int, response_id: int, item_code: str):
    survey, wave, found = _candidate_or_404(survey_id, wave_id, response_id, item_code)
    form = QuoteReviewForm()
    if form.validate_on_submit() and (form.approve.data or form.reject.data):
        decision = QuoteStatus.APPROVED if form.approve.data else QuoteStatus.REJECTED
        try:
            quotes.review(db.session(), wave, found, decision, form.text.data or "", current_user)
        except ServiceError as error:
            form.text.errors = [*form.text.errors, error.message]
        else:
            flash("Quote approved." if decision == QuoteStatus.APPROVED else "Quote rejected: it will not appear.")
            return redirect(url_for("briefings.quote_review", survey_id=survey_id, wave_id=wave_id,
                                    _anchor=f"quote-{found.key}"))
    elif not form.errors:
        form.text.errors = ["Choose approve or reject"]
    candidates = quotes.candidates(db.session(), wave, surveys.places_for(current_user, survey))
    return render_template("briefings/quotes.html", survey=survey, wave=wave, candidates=candidates,
                           review_form=QuoteReviewForm(formdata=None), choice_form=QuoteChoiceForm(),
                           failed=(found.key, form))


@bp.post("/surveys/<int:survey_id>/waves/<int:wave_id>/quotes/<int:response_id>/<item_code>/choose")
@readers
def choose_quote(survey_id: int, wave_id: int, response_id: int, item_code: str):
    _, _, found = _candidate_or_404(survey_id, wave_id, response_id, item_code)
    form = QuoteChoiceForm()
    if form.validate_on_submit() and form.in_briefings.data in ("yes", "no"):
        try:
            quotes.choose(db.session(), found, form.in_briefings.data == "yes")
        except ServiceError as error:
            flash(error.message, "info")
        else:
            flash("Quote added to this wave's briefings." if form.in_briefings.data == "yes"
                  else "Quote taken out of this wave's briefings.")
    return redirect(url_for("briefings.quote_review", survey_id=survey_id, wave_id=wave_id,
                            _anchor=f"quote-{found.key}"))
