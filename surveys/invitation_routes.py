"""Pages for inviting people to a wave: the list of addresses in, single-use links out."""

from __future__ import annotations

import csv
import io

from flask import Response as HttpResponse, abort, current_app, render_template, request, url_for
from flask_login import current_user

from core import db, outbox
from core.service import ServiceError
from surveys import invitations as invitations_service, service
from surveys.forms import ConfirmForm, InvitationForm
from surveys.routes import bp, managers, wave_or_404


@bp.route("/waves/<int:wave_id>/invitations", methods=["GET", "POST"])
@managers
def invitations(wave_id: int):
    wave = wave_or_404(wave_id)
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
            parsed = invitations_service.parse_invitees(db.session(), places, text, invitations_service.invited_emails(db.session(), wave))
            errors = parsed.errors
            if errors:
                form.invitees.errors = ["Some lines have problems. Nobody was invited. Fix the lines listed below and try again."]
            else:
                try:
                    mail = outbox.MailSettings.from_config(current_app.config) is not None
                    issued = invitations_service.create_invitations(
                        db.session(), wave, parsed.invitees, current_app.config["PANEL_SECRET"],
                        current_app.config["SECRET_KEY"], email_link=_respondent_link if mail else None,
                        actor=current_user,
                    )
                except ServiceError as error:
                    form.invitees.errors = [error.message]
                else:
                    # Shown once, straight from the POST: only hashes of the tokens are kept.
                    return render_template(
                        "surveys/links.html", wave=wave, links=issued, link_for=_respondent_link, emailed=mail
                    )
    return render_template(
        "surveys/invitations.html", form=form, wave=wave, errors=errors, places=places,
        all_places=service.may_see_all_places(current_user, wave.survey),
    )


@bp.get("/waves/<int:wave_id>/outbox")
@managers
def wave_outbox(wave_id: int):
    wave = wave_or_404(wave_id)
    messages = invitations_service.wave_messages(db.session(), wave, service.places_for(current_user, wave.survey))
    return render_template("surveys/outbox.html", wave=wave, messages=messages,
                           mail=outbox.MailSettings.from_config(current_app.config) is not None)


def _respondent_link(token: str) -> str:
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


