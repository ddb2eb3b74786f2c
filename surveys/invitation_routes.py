"""Pages for inviting people to a wave and keeping in touch: the list of addresses in,
single-use links out, the invitee list, new links, revoking, reminders, "stop reminding
me", the wave's timetable and the open link's QR code."""

from __future__ import annotations

import csv
import io
from collections import Counter

import segno
from flask import Response as HttpResponse, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from core import audit, db, outbox
from core.downloads import download
from core.models import Organisation, Sector
from core.security import public
from core.service import ServiceError
from surveys import invitations as invitations_service, respondent, schedule, service
from surveys.forms import ConfirmForm, ScheduleForm, invitation_form
from surveys.models import WaveStatus
from surveys.routes import bp, managers, require_running, wave_or_404


@bp.route("/waves/<int:wave_id>/invitations", methods=["GET", "POST"])
@managers
def invitations(wave_id: int):
    wave = wave_or_404(wave_id)
    places = service.places_for(current_user, wave.survey)
    session = db.session()
    form = invitation_form(
        session.scalars(select(Organisation).where(Organisation.place_id.in_([p.id for p in places]))
                        .order_by(Organisation.name)),
        session.scalars(select(Sector).order_by(Sector.position)),
    )
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
            parsed = invitations_service.parse_invitees(
                session, places, text, invitations_service.invited_emails(session, wave),
                default_organisation_id=form.default_organisation.data or None,
                default_sector_id=form.default_sector.data or None,
            )
            errors = parsed.errors
            if errors:
                form.invitees.errors = ["Some lines have problems. Nobody was invited. Fix the lines listed below and try again."]
            else:
                try:
                    mail = _mail_configured()
                    issued = invitations_service.create_invitations(
                        session, wave, parsed.invitees, current_app.config["PANEL_SECRET"],
                        current_app.config["SECRET_KEY"], email_link=respondent_link if mail else None,
                        actor=current_user,
                    )
                except ServiceError as error:
                    form.invitees.errors = [error.message]
                else:
                    # Shown once, straight from the POST: only hashes of the tokens are kept.
                    return render_template(
                        "surveys/links.html", wave=wave, links=issued, link_for=respondent_link, emailed=mail
                    )
    return render_template(
        "surveys/invitations.html", form=form, wave=wave, errors=errors, places=places, mail=_mail_configured(),
        all_places=service.may_see_all_places(current_user, wave.survey),
    )


@bp.get("/waves/<int:wave_id>/outbox")
@managers
def wave_outbox(wave_id: int):
    wave = wave_or_404(wave_id)
    messages = invitations_service.wave_messages(db.session(), wave, service.places_for(current_user, wave.survey))
    mail = _mail_configured()
    # Without mail, what an invitation and a reminder would say, with a made-up link.
    example = url_for("surveys.token_start", token="example-link", _external=True)
    previews = None if mail else {
        "invitation": invitations_service.invitation_email(wave, example),
        "reminder": invitations_service.reminder_email(wave, example, example + "/stop-reminders"),
    }
    return render_template("surveys/outbox.html", wave=wave, messages=messages, mail=mail, previews=previews)


def respondent_link(token: str) -> str:
    return url_for("surveys.token_start", token=token, _external=True)


@bp.post("/waves/<int:wave_id>/invitations/links.csv")
@managers
def invitation_links_csv(wave_id: int):
    wave = wave_or_404(wave_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    links = invitations_service.links_for_tokens(
        db.session(), wave, request.form.getlist("token")[:invitations_service.INVITEE_MAX_ROWS],
        service.places_for(current_user, wave.survey),
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "organisation", "sector", "place", "link"])
    for link in links:
        inv = link.invitation
        writer.writerow([
            _csv_safe(link.email or ""), _csv_safe(inv.organisation.name if inv.organisation else ""),
            _csv_safe(inv.sector.name), _csv_safe(inv.place.name), respondent_link(link.token),
        ])
    return HttpResponse(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="wave-{wave.id}-links.csv"'},
    )


def _csv_safe(value: str) -> str:
    # Spreadsheets run cells starting with these as formulas.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value




def stop_link(token: str) -> str:
    return url_for("surveys.token_stop_reminders", token=token, _external=True)


def _mail_configured() -> bool:
    return outbox.MailSettings.from_config(current_app.config) is not None


# --- the invitee list: who has answered, new links, revoking, reminders -------------------


@bp.get("/waves/<int:wave_id>/invitees")
@managers
def invitees(wave_id: int):
    wave = wave_or_404(wave_id)
    places = service.places_for(current_user, wave.survey)
    rows = invitations_service.invitee_rows(db.session(), wave, places)
    return render_template(
        "surveys/invitees.html", wave=wave, rows=rows, mail=_mail_configured(),
        reminders_due=invitations_service.reminders_due(db.session(), wave, places),
        counts=Counter(row.status for row in rows),
    )


def _invitation_or_404(wave, invitation_id: int):
    invitation = invitations_service.invitation_in(
        db.session(), wave, invitation_id, service.places_for(current_user, wave.survey))
    if invitation is None:
        abort(404)
    return invitation


@bp.route("/waves/<int:wave_id>/invitees/<int:invitation_id>/reissue", methods=["GET", "POST"])
@managers
def reissue_link(wave_id: int, invitation_id: int):
    wave = wave_or_404(wave_id)
    invitation = _invitation_or_404(wave, invitation_id)
    mail = _mail_configured()
    if not ConfirmForm().validate_on_submit():
        return render_template("surveys/confirm/reissue.html", wave=wave, survey=wave.survey, confirm=ConfirmForm(),
                               invitation=invitation, mail=mail, back=url_for("surveys.invitees", wave_id=wave.id))
    try:
        token = invitations_service.reissue(db.session(), invitation, current_app.config["SECRET_KEY"],
                                            respondent_link if mail else None, actor=current_user)
    except ServiceError as error:
        flash(error.message, "info")
        return redirect(url_for("surveys.invitees", wave_id=wave.id))
    email = invitation.identity.email if invitation.identity else None
    if mail and email:
        flash(f"A new link is being emailed to {email}. The old link no longer works.")
        return redirect(url_for("surveys.invitees", wave_id=wave.id))
    # Shown once, straight from the POST, like any new link.
    return render_template("surveys/links.html", wave=wave, emailed=False, link_for=respondent_link,
                           links=[invitations_service.IssuedLink(invitation, email, token)], replaced=True)


@bp.route("/waves/<int:wave_id>/invitees/<int:invitation_id>/revoke", methods=["GET", "POST"])
@managers
def revoke_invitation(wave_id: int, invitation_id: int):
    wave = wave_or_404(wave_id)
    invitation = _invitation_or_404(wave, invitation_id)
    if not ConfirmForm().validate_on_submit():
        return render_template("surveys/confirm/revoke.html", wave=wave, survey=wave.survey, confirm=ConfirmForm(),
                               invitation=invitation, back=url_for("surveys.invitees", wave_id=wave.id))
    try:
        invitations_service.revoke(db.session(), invitation, actor=current_user)
    except ServiceError as error:
        flash(error.message, "info")
    else:
        flash("The invitation is revoked: its link no longer works and no more email goes to this person.")
    return redirect(url_for("surveys.invitees", wave_id=wave.id))


@bp.route("/waves/<int:wave_id>/reminders", methods=["GET", "POST"])
@managers
def send_reminders(wave_id: int):
    wave = wave_or_404(wave_id)
    places = service.places_for(current_user, wave.survey)
    if not _mail_configured():
        flash("Reminders are sent by email, and no mail server is set up for Holdfast.", "info")
        return redirect(url_for("surveys.invitees", wave_id=wave.id))
    if not ConfirmForm().validate_on_submit():
        return render_template("surveys/confirm/reminders.html", wave=wave, survey=wave.survey, confirm=ConfirmForm(),
                               due=invitations_service.reminders_due(db.session(), wave, places),
                               gap=invitations_service.ON_DEMAND_GAP.days,
                               back=url_for("surveys.invitees", wave_id=wave.id))
    sent = invitations_service.send_reminders(
        db.session(), wave, current_app.config["SECRET_KEY"], respondent_link, stop_link, places=places,
        actor=current_user)
    flash(f"{audit.count_of(sent, 'reminder')} queued to send." if sent
          else "Nobody is due a reminder now: nothing was sent.")
    return redirect(url_for("surveys.invitees", wave_id=wave.id))


@bp.route("/s/<token>/stop-reminders", methods=["GET", "POST"])
@public
def token_stop_reminders(token: str):
    invitation = respondent.invitation_for_token(db.session(), token)
    if invitation is None:
        abort(404)
    form = ConfirmForm()
    stopped = invitation.reminders_stopped_at is not None
    if form.validate_on_submit():
        invitations_service.stop_reminders(db.session(), invitation)
        return redirect(url_for("surveys.token_stop_reminders", token=token))
    return render_template("surveys/stop_reminders.html", wave=invitation.wave, form=form, stopped=stopped,
                           answered=invitation.used_at is not None, token=token)


# --- the wave's timetable, and the open link's QR code ------------------------------------------


@bp.route("/waves/<int:wave_id>/schedule", methods=["GET", "POST"])
@managers
def wave_schedule(wave_id: int):
    wave = wave_or_404(wave_id)
    require_running(wave.survey)
    form = ScheduleForm(obj=wave) if request.method == "GET" else ScheduleForm()
    if request.method == "GET":
        form.opens_at.data = schedule.uk_time_text(wave.opens_at) if wave.status == WaveStatus.DRAFT else ""
        form.closes_at.data = schedule.uk_time_text(wave.closes_at)
    if form.validate_on_submit():
        try:
            choices = schedule.ScheduleChoices(
                opens_at=(schedule.parse_uk_time(form.opens_at.data, "opens_at") if wave.status == WaveStatus.DRAFT
                          else wave.opens_at),
                closes_at=schedule.parse_uk_time(form.closes_at.data, "closes_at", end_of_day=True),
                grace_minutes=form.grace_minutes.data, reminders_automatic=form.reminders_automatic.data,
                reminder_delay_days=form.reminder_delay_days.data, reminder_limit=form.reminder_limit.data,
                erase_after_days=form.erase_after_days.data,
            )
            schedule.set_schedule(db.session(), wave, choices, actor=current_user)
        except ServiceError as error:
            getattr(form, error.field).errors = [error.message]
        else:
            flash(f"The schedule of {wave.label} is saved.")
            return redirect(url_for("surveys.wave", wave_id=wave.id))
    return render_template("surveys/schedule.html", wave=wave, form=form, mail=_mail_configured())


@bp.get("/waves/<int:wave_id>/open-link.svg")
@managers
def open_link_qr(wave_id: int):
    wave = wave_or_404(wave_id)
    link = url_for("surveys.open_start", slug=wave.open_link_slug, _external=True)
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="svg", scale=8, title=link)
    return download(buffer.getvalue(), "image/svg+xml", f"{wave.survey.name} {wave.label} open link.svg")

