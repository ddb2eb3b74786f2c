"""The respondent's pages, without an account: by invitation link (/s/TOKEN) or open
link (/o/SLUG), page by page, check your answers, send (the work is in
surveys.respondent)."""

from __future__ import annotations

from functools import cached_property

from flask import abort, flash, redirect, render_template, request, session as cookie_session, url_for

from core import db
from core.security import public
from core.service import ServiceError, list_sectors
from surveys import respondent
from surveys.forms import ConfirmForm
from surveys.models import AnonymityMode, Draft, Invitation, Wave, WaveStatus
from surveys.question_types import TRUST_DIMENSIONS
from surveys.routes import bp
from surveys.service import Respondent


class Journey:
    """One respondent's way through a wave: by invitation token or by open link."""

    def __init__(self, wave: Wave, draft: Draft, endpoint_args: dict, prefix: str):
        self.wave = wave
        self.draft = draft
        self.args = endpoint_args
        self.prefix = prefix

    @cached_property
    def steps(self) -> list[respondent.Step]:
        return respondent.journey_steps(self.wave.instrument, self.draft.sector_id, list_sectors(db.session()))

    @property
    def start_url(self) -> str:
        return url_for(f"surveys.{self.prefix}_start", **self.args)

    def url(self, page: str, **kwargs) -> str:
        return url_for(f"surveys.{self.prefix}_{page}", **self.args, **kwargs)


def _token_invitation(token: str) -> Invitation:
    invitation = respondent.invitation_for_token(db.session(), token)
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
        draft = respondent.draft_for_invitation(db.session(), invitation)
    else:
        draft = respondent.existing_draft(db.session(), invitation) or Draft(
            sector_id=invitation.sector_id, place_id=invitation.place_id, answers={}, section=0
        )
    return Journey(invitation.wave, draft, {"token": token}, "token"), None


def _openwave_or_404(slug: str) -> Wave:
    wave = respondent.wave_for_open_link(db.session(), slug)
    if wave is None:
        abort(404)
    return wave


def _open_key_name(wave: Wave) -> str:
    return f"open-draft-{wave.id}"


def _open_journey(slug: str):
    wave = _openwave_or_404(slug)
    closed = _closed_page(wave)
    if closed:
        return None, closed
    draft = respondent.open_draft(db.session(), wave, cookie_session.get(_open_key_name(wave)))
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
    draft = respondent.existing_draft(db.session(), invitation)
    resume = draft is not None and bool(draft.answers)
    steps = respondent.journey_steps(invitation.wave.instrument, invitation.sector_id, list_sectors(db.session()))
    return render_template(
        "surveys/respond/start.html",
        wave=invitation.wave,
        survey=invitation.wave.survey,
        minutes=respondent.minutes_to_complete(steps),
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
    draft = respondent.existing_draft(db.session(), invitation)
    if draft is None:
        # Submitted a moment ago by another click (the draft goes with it), or never started.
        db.session().refresh(invitation)
        done = invitation.used_at is not None
        return redirect(url_for("surveys.token_done" if done else "surveys.token_start", token=token))
    journey = Journey(invitation.wave, draft, {"token": token}, "token")
    pseudonymous = invitation.wave.survey.anonymity == AnonymityMode.PSEUDONYMOUS
    who = Respondent(
        invitation.sector_id,
        invitation.place_id,
        invitation.organisation_id,
        invitation.panel_key if pseudonymous else None,
        "link",
    )
    return _check(journey, who, invitation)


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
    wave = _openwave_or_404(slug)
    closed = _closed_page(wave)
    if closed:
        return closed
    draft = respondent.open_draft(db.session(), wave, cookie_session.get(_open_key_name(wave)))
    resume = draft is not None and bool(draft.answers)
    sectors = list_sectors(db.session())
    # The respondent's sector is not known yet: estimate as if they rate every other one.
    steps = respondent.journey_steps(wave.instrument, sectors[0].id if sectors else 0, sectors)
    return render_template(
        "surveys/respond/start.html",
        wave=wave,
        survey=wave.survey,
        minutes=respondent.minutes_to_complete(steps),
        start_url=url_for("surveys.open_step", slug=slug, index=draft.section)
        if resume
        else url_for("surveys.open_about_you", slug=slug),
        resume=resume,
        open_link=True,
    )


@bp.route("/o/<slug>/about-you", methods=["GET", "POST"])
@public
def open_about_you(slug: str):
    wave = _openwave_or_404(slug)
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
                draft = respondent.start_open_draft(db.session(), wave, int(sector_id), int(place_id))
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
        if request.method == "POST" and respondent.response_for_key(db.session(), request.form.get("submission_key", "")):
            return redirect(url_for("surveys.open_done", slug=slug))
        return other_page
    draft = journey.draft
    who = Respondent(draft.sector_id, draft.place_id, None, None, "open")
    return _check(journey, who, None, after_submit=lambda: cookie_session.pop(_open_key_name(journey.wave), None))


@bp.get("/o/<slug>/done")
@public
def open_done(slug: str):
    wave = _openwave_or_404(slug)
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
        answers, errors = respondent.apply_step(step, answers, request.form)
        action = request.form.get("action", "continue")
        if action == "save":
            respondent.save_draft(db.session(), journey.draft, answers, index)
            return render_template("surveys/respond/saved.html", journey=journey, resume_url=journey.url("step", index=index))
        if not errors:
            next_index = index + 1
            respondent.save_draft(db.session(), journey.draft, answers, next_index if next_index < len(journey.steps) else index)
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


def _check(journey: Journey, who: Respondent, invitation, after_submit=None):
    answers = journey.draft.answers or {}
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        # The draft's own key, never one from the form: one draft, one response.
        try:
            respondent.submit_response(db.session(), journey.wave, who, answers, journey.draft.submission_key, invitation)
        except respondent.AlreadySubmitted:
            pass
        except ServiceError:
            # Something is missing or no longer acceptable: back to the page that asks it.
            flash("Some questions still need an answer.", "info")
            return redirect(journey.url("step", index=respondent.first_incomplete_step(journey.steps, answers) or 0))
        if after_submit:
            after_submit()
        return redirect(journey.url("done"))
    incomplete = respondent.first_incomplete_step(journey.steps, answers)
    return render_template(
        "surveys/respond/check.html",
        journey=journey,
        rows=respondent.check_answers_rows(journey.steps, answers),
        incomplete=incomplete,
        confirm=ConfirmForm(),
    )

