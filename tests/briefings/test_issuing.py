"""Issuing: the PDF is kept byte for byte with who, when, the foreword and the data version;
it downloads unchanged after new answers arrive, while the preview says it now differs."""

import hashlib

import pytest
from sqlalchemy import select

from briefings.models import IssuedBriefing
from core.audit import AuditAction, AuditEntry
from core.models import Role, Sector
from surveys import service as survey_service
from tests.briefings.test_routes import demo_user, pdf_text, survey_in
from tests.conftest import count, demo_surveys, sign_in

pytestmark = pytest.mark.dataset.with_args(demo_surveys)

DEMO_PASSWORD = "holdfast-demo-2026"
FOREWORD = "This briefing is for the Eastholme partnership board.\nPlease share it with your teams."


def test_issuing_keeps_the_pdf_unchanged_while_the_preview_moves_on(app, db_session, demo, tmp_path):
    survey = survey_in(demo, "Eastholme")
    coordinator = demo_user(db_session, "coordinator@example.org")
    client = app.test_client()
    sign_in(client, coordinator, DEMO_PASSWORD)
    where = {"place": survey.places[0].id}
    preview = client.get(f"/briefings/surveys/{survey.id}", query_string=where).get_data(as_text=True)
    assert "Issue this briefing" in preview and "differs" not in preview

    response = client.post(f"/briefings/surveys/{survey.id}/issue", query_string=where, data={"foreword": FOREWORD})
    assert response.status_code == 302 and response.location.endswith(f"/briefings/surveys/{survey.id}/issued")
    client.post(f"/briefings/surveys/{survey.id}/issue", query_string=where, data={"foreword": FOREWORD})  # twice
    [issued] = db_session.scalars(select(IssuedBriefing)).all()
    assert (issued.issued_by_email, issued.foreword, issued.place_id) == (coordinator.email, FOREWORD, survey.places[0].id)
    assert issued.filename == "eastholme-wave-2-to-wave-3.pdf" and issued.headline.startswith("Momentum is slipping")
    assert issued.sha256 == hashlib.sha256(issued.pdf).hexdigest()
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == AuditAction.BRIEFING_ISSUED.value))
    assert entry.data["sha256"] == issued.sha256

    assert f"/briefings/surveys/{survey.id}/issued" in client.get(f"/surveys/{survey.id}").get_data(as_text=True)
    listing = client.get(f"/briefings/surveys/{survey.id}/issued").get_data(as_text=True)
    assert f"/briefings/issued/{issued.id}.pdf" in listing and issued.data_version[:12] in listing
    first = client.get(f"/briefings/issued/{issued.id}.pdf")
    assert first.data == issued.pdf
    assert first.headers["Content-Disposition"] == 'attachment; filename="eastholme-wave-2-to-wave-3.pdf"'
    text = " ".join(pdf_text(first.data, tmp_path).split())
    assert "This briefing is for the Eastholme partnership board." in text and issued.data_version[:12] in text
    same = client.get(f"/briefings/surveys/{survey.id}", query_string=where).get_data(as_text=True)
    assert "built from the same data as the briefing issued" in same

    # New answers arrive in the current wave (an admin's late import, say).
    wave, place = survey.waves[-1], survey.places[0]
    sector = db_session.scalar(select(Sector).where(Sector.name == "Housing"))
    for index in range(12):
        answers = {item.code: 1 for item in wave.instrument.items if item.type == "likert"}
        survey_service.insert_response(db_session, wave, survey_service.Respondent(sector.id, place.id), answers,
                                       f"late-{index}")
    db_session.flush()
    assert client.get(f"/briefings/issued/{issued.id}.pdf").data == issued.pdf  # byte for byte
    moved = client.get(f"/briefings/surveys/{survey.id}", query_string=where).get_data(as_text=True)
    assert "This preview differs from the briefing issued" in moved and issued.data_version[:12] in moved
    client.post(f"/briefings/surveys/{survey.id}/issue", query_string=where, data={"foreword": FOREWORD})
    assert count(db_session, IssuedBriefing) == 2  # the same foreword over newer data is a new briefing


def test_a_foreword_is_required_and_nothing_is_issued_without_one(app, db_session, demo):
    survey = survey_in(demo, "Eastholme")
    client = app.test_client()
    sign_in(client, demo_user(db_session, "coordinator@example.org"), DEMO_PASSWORD)
    for foreword in ("", "   ", "x" * 1501):
        response = client.post(f"/briefings/surveys/{survey.id}/issue", data={"foreword": foreword})
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "<title>Error: " in html and 'href="#foreword"' in html
    assert count(db_session, IssuedBriefing) == 0


def test_only_readers_of_the_place_download_an_issued_briefing(app, db_session, demo, make_user):
    survey = survey_in(demo, "Eastholme")
    client = app.test_client()
    sign_in(client, demo_user(db_session, "admin@example.org"), DEMO_PASSWORD)
    client.post(f"/briefings/surveys/{survey.id}/issue", data={"foreword": FOREWORD})
    issued = db_session.scalar(select(IssuedBriefing))
    other_place = survey_in(demo, "Wexcombe Borough").places[0]
    for user, status in ((make_user(Role.COORDINATOR, places=[other_place]), 403),
                         (make_user(Role.FACILITATOR, places=[survey.places[0]]), 403),
                         (make_user(Role.EVALUATOR), 200)):
        reader = app.test_client()
        sign_in(reader, user)
        assert reader.get(f"/briefings/issued/{issued.id}.pdf").status_code == status
    anonymous = app.test_client().get(f"/briefings/issued/{issued.id}.pdf")
    assert anonymous.status_code == 302 and anonymous.location.startswith("/sign-in")
