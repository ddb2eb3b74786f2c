"""The briefing "Are the gains holding?": an HTML preview and the PDF of the same
selection the Results page compares (the same query string, defaults and checks)."""

from __future__ import annotations

from flask import Blueprint, Response as HttpResponse, current_app, render_template

from briefings import pdf, service
from core.models import Role
from core.security import allow

bp = Blueprint("briefings", __name__, url_prefix="/briefings")
readers = allow(Role.ADMIN, Role.COORDINATOR, Role.EVALUATOR)


@bp.get("/surveys/<int:survey_id>")
@readers
def preview(survey_id: int):
    selection, results = service.selected(survey_id)
    briefing = service.build(selection, results)
    return render_template("briefings/briefing.html", briefing=briefing, selection=selection, for_pdf=False)


@bp.get("/surveys/<int:survey_id>.pdf")
@readers
def download(survey_id: int):
    selection, results = service.selected(survey_id)
    briefing = service.build(selection, results)
    html = render_template("briefings/briefing.html", briefing=briefing, selection=selection, for_pdf=True)
    return HttpResponse(
        pdf.render(html, current_app.static_folder), mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{service.filename(selection)}"'},
    )
