"""The respondent's pages, without an account: by invitation link (/s/TOKEN) or open
link (/o/SLUG), page by page, check your answers, send (the work is in
surveys.respondent). Each journey also has a privacy notice (…/privacy), linked from the
start page and the footer of every respondent page."""

from __future__ import annotations


from flask import (
    abort, flash, make_response, redirect, render_template, request, session as cookie_session, url_for,
)

from core import db
from core.db import utcnow
from core.lazy import cached_property
from core.security import public
from core.service import ServiceError, list_sectors
from surveys import respondent
from surveys.forms import ConfirmForm
from surveys.models import AnonymityMode, Draft, Invitation, Wave, WaveStatus
from surveys.question_types import DONT_KNOW, DONT_KNOW_LABEL, TRUST_DIMENSIONS
from surveys.routes import bp
from surveys.service import Respondent


class Journey:
    """One respondent's way through a wave: by invitation token or by open link.

    What every page needs is read here, up front, while the request holds no lock. The
    pages (`steps`) are read when first asked for, which is always before a write: a page
    of questions asks for them before saving its answers, and check your answers only to
    show itself or after a refused send, which never began writing; a send that goes
    through does without them. Nothing is loaded inside a write transaction (see
    core.db.start_writing), and the lock-free cached_property cannot make a cycle with
    the writer queue (issue 28)."""

    def __init__(self, wave: Wave, draft: Draft, endpoint_args: dict, prefix: str):
        self.wave = wave
        self.draft = draft
        self.args = endpoint_args
        self.prefix = prefix
        self.dont_know: bool = respondent.offers_dont_know(wave)

    @cached_property
    def steps(self) -> list[respondent.Step]:
        sectors = respondent.sectors_to_rate(db.session(), self.wave.survey, self.draft.place_id, self.draft.sector_id)
        return respondent.journey_steps(respondent.questions(db.session(), self.wave), sectors)

    @property
    def start_url(self) -> str:
        return url_for(f"surveys.{self.prefix}_start", **self.args)

    @property
    def privacy_url(self) -> str:
        return self.url("privacy")

    def url(self, page: str, **kwargs) -> str:
        return url_for(f"surveys.{self.prefix}_{page}", **self.args, **kwargs)


# --- pages shown instead of the survey ------------------------------------------------------


def _token_invitation(token: str) -> Invitation:
    invitation = respondent.invitation_for_token(db.session(), token)
    if invitation is None:
        replaced = respondent.replaced_link(db.session(), token)
        if replaced is not None:
            invitation = db.session().get(Invitation, replaced.invitation_id)
            abort(_page(410, "surveys/respond/replaced.html", wave=invitation.wave))
        abort(404)
    return invitation


def _page(status: int, template: str, **context):
    return make_response(render_template(template, **context), status)


def _unavailable_page(wave: Wave, draft: Draft | None, privacy_url: str | None = None):
    """The page to show instead of the survey when this respondent may not answer now
    (not open yet, closed, or closed and the grace period over), else None."""
    now = utcnow()
    if respondent.may_still_send(wave, draft, now):
        return None
    started = draft is not None and draft.id is not None and bool(draft.answers)
    return render_template(
        "surveys/respond/closed.html",
        wave=wave,
        opens_later=respondent.opens_later(wave, now),
        started=started and wave.status == WaveStatus.CLOSED and wave.closes_at is not None,
        grace_ends=wave.grace_ends,
        privacy_url=privacy_url,
    )


def _token_unusable(invitation: Invitation, token: str, draft: Draft | None):
    """The page for a revoked or used link, or a wave this respondent may not answer now."""
    if invitation.revoked_at is not None:
        return _page(410, "surveys/respond/revoked.html", wave=invitation.wave)
    if invitation.used_at is not None:
        return render_template("surveys/respond/already_done.html", wave=invitation.wave)
    return _unavailable_page(invitation.wave, draft, url_for("surveys.token_privacy", token=token))


def _token_journey(token: str):
    """The journey for a token, or a page to show instead (revoked, used, closed).

    Only a POST makes the draft, so a GET never writes: link checkers and prefetching open
    links that nobody answers. Until the first answers are sent, a page shows an empty,
    unsaved draft.
    """
    invitation = _token_invitation(token)
    draft = respondent.existing_draft(db.session(), invitation)
    other_page = _token_unusable(invitation, token, draft)
    if other_page:
        return None, other_page
    if request.method == "POST":
        draft = respondent.draft_for_invitation(db.session(), invitation)
    elif draft is None:
        draft = Draft(sector_id=invitation.sector_id, place_id=invitation.place_id, answers={}, section=0)
    return Journey(invitation.wave, draft, {"token": token}, "token"), None


def _openwave_or_404(slug: str) -> Wave:
    wave = respondent.wave_for_open_link(db.session(), slug)
    if wave is None:
        abort(404)
    return wave


def _open_key_name(wave: Wave) -> str:
    return f"open-draft-{wave.id}"


def _open_draft(wave: Wave) -> Draft | None:
    return respondent.open_draft(db.session(), wave, cookie_session.get(_open_key_name(wave)))


def _open_journey(slug: str):
    wave = _openwave_or_404(slug)
    draft = _open_draft(wave)
    unavailable = _unavailable_page(wave, draft, url_for("surveys.open_privacy", slug=slug))
    if unavailable:
        return None, unavailable
    if draft is None:
        return None, redirect(url_for("surveys.open_about_you", slug=slug))
    return Journey(wave, draft, {"slug": slug}, "open"), None


def _start_page(wave: Wave, draft: Draft | None, steps, start_url: str, privacy_url: str, open_link: bool):
    resume = draft is not None and draft.id is not None and bool(draft.answers)
    now = utcnow()
    return render_template(
        "surveys/respond/start.html",
        wave=wave,
        survey=wave.survey,
        minutes=respondent.minutes_to_complete(steps),
        start_url=start_url,
        resume=resume,
        open_link=open_link,
        privacy_url=privacy_url,
        in_grace=respondent.in_grace(wave, now),
        grace_ends=wave.grace_ends,
    )


def _privacy_page(wave: Wave, back: str, invited: bool):
    return render_template(
        "surveys/respond/privacy.html", wave=wave, survey=wave.survey, back=back, invited=invited,
        pseudonymous=invited and wave.survey.anonymity == AnonymityMode.PSEUDONYMOUS,
    )


# --- by invitation link --------------------------------------------------------------------------


@bp.get("/s/<token>")
@public
def token_start(token: str):
    invitation = _token_invitation(token)
    draft = respondent.existing_draft(db.session(), invitation)
    other_page = _token_unusable(invitation, token, draft)
    if other_page:
        return other_page
    resume = draft is not None and bool(draft.answers)
    sectors = respondent.sectors_to_rate(db.session(), invitation.wave.survey, invitation.place_id, invitation.sector_id)
    steps = respondent.journey_steps(respondent.questions(db.session(), invitation.wave), sectors)
    index = min(draft.section, len(steps) - 1) if resume else 0
    return _start_page(
        invitation.wave, draft, steps, url_for("surveys.token_step", token=token, index=index),
        url_for("surveys.token_privacy", token=token), open_link=False,
    )


@bp.get("/s/<token>/privacy")
@public
def token_privacy(token: str):
    invitation = _token_invitation(token)
    return _privacy_page(invitation.wave, url_for("surveys.token_start", token=token), invited=True)


@bp.route("/s/<token>/<int:index>", methods=["GET", "POST"])
@public
@db.reads_first
def token_step(token: str, index: int):
    journey, other_page = _token_journey(token)
    return other_page or _step(journey, index)


@bp.route("/s/<token>/check", methods=["GET", "POST"])
@public
@db.reads_first
def token_check(token: str):
    invitation = _token_invitation(token)
    if invitation.used_at is not None and invitation.revoked_at is None:
        return redirect(url_for("surveys.token_done", token=token))
    draft = respondent.existing_draft(db.session(), invitation)
    other_page = _token_unusable(invitation, token, draft)
    if other_page:
        return other_page
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
    return render_template(
        "surveys/respond/done.html", wave=invitation.wave, survey=invitation.wave.survey,
        privacy_url=url_for("surveys.token_privacy", token=token),
    )


# --- by open link --------------------------------------------------------------------------------


@bp.get("/o/<slug>")
@public
def open_start(slug: str):
    wave = _openwave_or_404(slug)
    draft = _open_draft(wave)
    privacy_url = url_for("surveys.open_privacy", slug=slug)
    unavailable = _unavailable_page(wave, draft, privacy_url)
    if unavailable:
        return unavailable
    resume = draft is not None and bool(draft.answers)
    if draft is not None:
        sectors = respondent.sectors_to_rate(db.session(), wave.survey, draft.place_id, draft.sector_id)
    else:
        # The respondent's sector and place are not known yet: estimate as if they rate
        # every sector in the survey's places but one (their own).
        sectors = respondent.sectors_to_rate(db.session(), wave.survey, None, None)[1:]
    steps = respondent.journey_steps(respondent.questions(db.session(), wave), sectors)
    start_url = (url_for("surveys.open_step", slug=slug, index=min(draft.section, len(steps) - 1))
                 if resume else url_for("surveys.open_about_you", slug=slug))
    return _start_page(wave, draft, steps, start_url, privacy_url, open_link=True)


@bp.get("/o/<slug>/privacy")
@public
def open_privacy(slug: str):
    wave = _openwave_or_404(slug)
    return _privacy_page(wave, url_for("surveys.open_start", slug=slug), invited=False)


@bp.route("/o/<slug>/about-you", methods=["GET", "POST"])
@public
@db.reads_first
def open_about_you(slug: str):
    wave = _openwave_or_404(slug)
    privacy_url = url_for("surveys.open_privacy", slug=slug)
    if wave.status != WaveStatus.OPEN:
        # Nobody starts after the close, grace period or not.
        return _unavailable_page(wave, None, privacy_url)
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
        "surveys/respond/about_you.html", wave=wave, sectors=sectors, places=places, errors=errors,
        form_values=request.form, privacy_url=privacy_url,
    )


@bp.route("/o/<slug>/<int:index>", methods=["GET", "POST"])
@public
@db.reads_first
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
    return render_template(
        "surveys/respond/done.html", wave=wave, survey=wave.survey, open_link=True,
        privacy_url=url_for("surveys.open_privacy", slug=slug),
    )


# --- the pages both journeys share ------------------------------------------------------------


def _step(journey: Journey, index: int):
    if not 0 <= index < len(journey.steps):
        abort(404)
    step = journey.steps[index]
    answers = dict(journey.draft.answers or {})
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        answers, errors = respondent.apply_step(step, answers, request.form, journey.dont_know)
        clear = request.form.get("clear")
        if clear:
            # "Clear my answer": keep what else was given on the page, drop that answer.
            answers = respondent.clear_answer(step, answers, clear)
            respondent.save_draft(db.session(), journey.draft, answers, index)
            back_to = request.args.get("return")
            return redirect(journey.url("step", index=index, **({"return": back_to} if back_to else {})) + f"#{clear}")
        action = request.form.get("action", "continue")
        if action == "save":
            respondent.save_draft(db.session(), journey.draft, answers, index)
            return render_template(
                "surveys/respond/saved.html", journey=journey, resume_url=journey.url("step", index=index),
                privacy_url=journey.privacy_url,
            )
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
        dont_know=(DONT_KNOW, DONT_KNOW_LABEL) if journey.dont_know else None,
        minutes_left=respondent.minutes_to_complete(journey.steps, index),
        back=journey.url("step", index=index - 1) if index else journey.start_url,
        privacy_url=journey.privacy_url,
    )


def _check(journey: Journey, who: Respondent, invitation, after_submit=None):
    answers = journey.draft.answers or {}
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        # The draft's own key, never one from the form: one draft, one response.
        try:
            respondent.submit_response(
                db.session(), journey.wave, who, answers, journey.draft.submission_key, invitation, draft=journey.draft
            )
        except respondent.AlreadySubmitted:
            pass
        except ServiceError as error:
            if error.field == "wave":
                # The grace period ended while they were on this page.
                return _unavailable_page(journey.wave, journey.draft, journey.privacy_url) or abort(409)
            # Something is missing or no longer acceptable: back to the page that asks it.
            flash("Some questions still need an answer.", "info")
            incomplete = respondent.first_incomplete_step(journey.steps, answers, journey.dont_know)
            return redirect(journey.url("step", index=incomplete or 0))
        if after_submit:
            after_submit()
        return redirect(journey.url("done"))
    now = utcnow()
    return render_template(
        "surveys/respond/check.html",
        journey=journey,
        sections=respondent.check_answers_rows(journey.steps, answers),
        incomplete=respondent.first_incomplete_step(journey.steps, answers, journey.dont_know),
        confirm=ConfirmForm(),
        in_grace=respondent.in_grace(journey.wave, now),
        grace_ends=journey.wave.grace_ends,
        privacy_url=journey.privacy_url,
    )
