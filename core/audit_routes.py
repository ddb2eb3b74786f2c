"""The audit log's pages: a survey's changes for whoever may see the survey, and every
change (users' roles and places too) for admins."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from core import audit, db
from core.models import Role
from core.security import allow
from surveys.routes import survey_or_404
from surveys.service import may_see_all_places

bp = Blueprint("audit", __name__)

LONDON = ZoneInfo("Europe/London")


@bp.app_template_filter("london_time")
def london_time(moment: datetime) -> str:
    """‘3 March 2026, 2:05pm GMT’: the time in the UK, saying which (the clocks change)."""
    local = moment.astimezone(LONDON)
    if (local.hour, local.minute) in ((0, 0), (12, 0)):
        clock = "midnight" if local.hour == 0 else "midday"
    else:
        clock = f"{local.hour % 12 or 12}:{local.minute:02d}{'am' if local.hour < 12 else 'pm'}"
    return f"{local.day} {local:%B %Y}, {clock} {local.tzname()}"


@bp.app_template_filter("email_breaks")
def email_breaks(email: str) -> Markup:
    """The address may break after its @ on a phone (<wbr>: copied, it is unchanged)."""
    return Markup("@<wbr>").join(email.split("@"))


def _pagination(page: audit.AuditPage, endpoint: str, **args) -> dict | None:
    """GOV.UK pagination: the first and last pages, and those either side of this one."""
    if page.pages == 1:
        return None

    def link(number: int) -> str:
        return url_for(endpoint, **args, page=number)

    shown = sorted({1, page.number - 1, page.number, page.number + 1, page.pages} & set(range(1, page.pages + 1)))
    items, previous = [], 0
    for number in shown:
        if number > previous + 1:
            items.append({"ellipsis": True})
        items.append({"number": number, "href": link(number), "current": number == page.number})
        previous = number
    return {
        "items": items,
        "previous": {"href": link(page.number - 1)} if page.number > 1 else None,
        "next": {"href": link(page.number + 1)} if page.number < page.pages else None,
    }


def _log_page(survey=None):
    number = request.args.get("page", 1, type=int)
    page = audit.entries(db.session(), number, survey_id=survey.id if survey else None)
    if page is None:
        abort(404)
    pagination = (
        _pagination(page, "audit.survey_log", survey_id=survey.id) if survey else _pagination(page, "audit.everything")
    )
    return render_template("core/audit.html", page=page, survey=survey, pagination=pagination)


# Evaluators have read-only access to every survey; a survey's log is part of its record
# (a margin changed after a wave opened bears on the verdicts they judge), so they read it.
@bp.get("/surveys/<int:survey_id>/audit")
@allow(Role.ADMIN, Role.COORDINATOR, Role.EVALUATOR)
def survey_log(survey_id: int):
    survey = survey_or_404(survey_id)
    # Imports name their counts and files, place by place: a coordinator of some of the
    # survey's places would read other places' figures, so the log is for those who may
    # see them all.
    if not may_see_all_places(current_user, survey):
        abort(403)
    return _log_page(survey)


@bp.get("/admin/audit")
@allow(Role.ADMIN)
def everything():
    return _log_page()
