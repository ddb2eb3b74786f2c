"""The preview and the PDF: who may read them, what the PDF is, and that nothing small,
hostile or remote gets through."""

import re
import subprocess

import pytest
from sqlalchemy import select

from core.models import Role, User
from tests.conftest import demo_surveys, sign_in

pytestmark = pytest.mark.dataset.with_args(demo_surveys)

CONSTRUCTS = ["Speed of working together", "Shared focus", "Pooling data and resources", "Less bureaucracy",
              "Open boundaries", "Trust", "Momentum", "Skills and resources", "Keeping up with need",
              "Meaningful participation", "Sharing data"]


def pdf_text(data: bytes, tmp_path, *options: str) -> str:
    path = tmp_path / "briefing.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", *options, str(path), "-"], capture_output=True, text=True, check=True).stdout


def pdf_info(data: bytes, tmp_path) -> str:
    path = tmp_path / "info.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout


def demo_user(db_session, email: str) -> User:
    return db_session.scalar(select(User).where(User.email == email))


def survey_in(demo, place: str):
    return next(s for s in demo if s.places[0].name == place)


def test_a_coordinator_previews_and_downloads_their_place(app, db_session, demo, tmp_path):
    client = app.test_client()
    sign_in(client, demo_user(db_session, "coordinator@example.org"), "holdfast-demo-2026")
    survey = survey_in(demo, "Eastholme")
    place = {"place": survey.places[0].id}
    preview = client.get(f"/briefings/surveys/{survey.id}", query_string=place)
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "Momentum is slipping; 9 of 11 are holding, 1 improving." in html
    response = client.get(f"/briefings/surveys/{survey.id}.pdf", query_string=place)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="eastholme-wave-2-to-wave-3.pdf"'

    info = pdf_info(response.data, tmp_path)
    assert re.search(r"^Tagged:\s+yes$", info, re.M)
    assert re.search(r"^Title:\s+Are the gains holding\? Working together in Eastholme: Eastholme, Wave 3 against Wave 2$",
                     info, re.M)
    assert re.search(r"^Page size:\s+595.27\d* x 841.89 pts \(A4\)$", info, re.M)
    text = " ".join(pdf_text(response.data, tmp_path).split())
    assert "Momentum is slipping; 9 of 11 are holding, 1 improving." in text
    for name in CONSTRUCTS:
        assert name in text
    for caveat in ("People chose whether to answer", "Bonferroni", "No workshop actions are recorded yet.",
                   "Reweighting Wave 3 to Wave 2’s mix"):
        assert caveat in text
    assert f"holdfast compare survey-{survey.id}-responses.csv --codebook survey-{survey.id}-codebook.csv" in text


def test_a_small_sector_shows_words_never_its_count_or_mean(app, db_session, demo, tmp_path):
    """Faith answers 3 times a wave in Eastholme: every section says so in words."""
    client = app.test_client()
    sign_in(client, demo_user(db_session, "evaluator@example.org"), "holdfast-demo-2026")
    survey = survey_in(demo, "Eastholme")
    html = client.get(f"/briefings/surveys/{survey.id}").get_data(as_text=True)
    faith_tiles = re.findall(r'<span class="hf-tile__name">Faith</span>\s*<span class="hf-tile__verdict">([^<]*)</span>',
                             html)
    assert faith_tiles and set(faith_tiles) == {"Fewer than 10 responses"}
    faith_row = re.search(r'<th scope="row" class="govuk-table__header">Faith</th>(.*?)</tr>', html, re.S).group(1)
    assert not re.search(r"\d\.\d", faith_row)  # no trust mean
    text = " ".join(pdf_text(client.get(f"/briefings/surveys/{survey.id}.pdf").data, tmp_path).split())
    assert re.search(r"Faith Fewer than 10 responses", text)
    assert not re.search(r"Faith \d", text)


@pytest.mark.parametrize("role, status", [(Role.FACILITATOR, 403), ("anonymous", 302)])
def test_facilitators_and_visitors_cannot_read_briefings(app, db_session, demo, make_user, role, status):
    client = app.test_client()
    if role != "anonymous":
        sign_in(client, make_user(role, places=[demo[0].places[0]]))
    for path in (f"/briefings/surveys/{demo[0].id}", f"/briefings/surveys/{demo[0].id}.pdf"):
        response = client.get(path)
        assert response.status_code == status
        if status == 302:
            assert response.location.startswith("/sign-in")


def test_a_coordinator_cannot_read_another_place(app, db_session, demo):
    client = app.test_client()
    sign_in(client, demo_user(db_session, "coordinator@example.org"), "holdfast-demo-2026")
    wexcombe = survey_in(demo, "Wexcombe Borough")
    eastholme = survey_in(demo, "Eastholme")
    assert client.get(f"/briefings/surveys/{wexcombe.id}.pdf").status_code == 403
    other_place = {"place": wexcombe.places[0].id}
    assert client.get(f"/briefings/surveys/{eastholme.id}", query_string=other_place).status_code == 404
    bad = client.get(f"/briefings/surveys/{eastholme.id}", query_string={"reference": "999", "current": "999"})
    assert bad.status_code == 404


def test_an_admin_briefs_all_places(app, db_session, demo):
    client = app.test_client()
    sign_in(client, demo_user(db_session, "admin@example.org"), "holdfast-demo-2026")
    response = client.get(f"/briefings/surveys/{demo[0].id}.pdf")
    assert response.headers["Content-Disposition"] == 'attachment; filename="all-places-wave-2-to-wave-3.pdf"'


HOSTILE_TITLE = "<script>alert('x')</script> " + "Unbrokenword" * 13 + " \u202eevil\u202c"  # within the 200 characters a title may have


def test_hostile_text_is_escaped_and_wraps(app, db_session, demo, tmp_path):
    survey = survey_in(demo, "Eastholme")
    survey.name = HOSTILE_TITLE
    survey.places[0].name = "<img src=x onerror=alert(1)>" + "Longplace" * 9  # within the 120 characters a name may have
    db_session.flush()
    client = app.test_client()
    sign_in(client, demo_user(db_session, "admin@example.org"), "holdfast-demo-2026")
    html = client.get(f"/briefings/surveys/{survey.id}", query_string={"place": survey.places[0].id}).get_data(
        as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    response = client.get(f"/briefings/surveys/{survey.id}.pdf", query_string={"place": survey.places[0].id})
    assert response.status_code == 200
    filename = response.headers["Content-Disposition"]
    assert filename.isascii() and "<" not in filename
    text = pdf_text(response.data, tmp_path)
    assert "<script>alert('x')</script>" in text
    assert "Unbrokenword" in text
    # Every word lies within the page (595.28 points wide): nothing runs off it.
    boxes = pdf_text(response.data, tmp_path, "-bbox")
    right_edges = [float(x) for x in re.findall(r'xMax="([\d.]+)"', boxes)]
    assert right_edges and max(right_edges) <= 595.28
