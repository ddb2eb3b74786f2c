"""The briefing built from the demo data, its headline, file name and fetcher."""

import hashlib

import pytest
from sqlalchemy import select

from briefings import service
from briefings.pdf import StaticOnlyFetcher, render
from core.models import User
from tests.conftest import demo_surveys, sign_in

pytestmark = pytest.mark.dataset.with_args(demo_surveys)

# tests/surveys/test_demo.py: trust holds in two places and can't be told yet in the
# third; momentum slips and shared focus improves everywhere. The rest is sampling.
EXPECTED = {
    "Brackenford": ("holding", "Momentum is slipping; 8 of 11 are holding, 1 improving, 1 can't tell yet."),
    "Eastholme": ("holding", "Momentum is slipping; 9 of 11 are holding, 1 improving."),
    "Wexcombe Borough": ("cant_tell", "Less bureaucracy and Momentum are slipping; 7 of 11 are holding, 1 improving, "
                                      "1 can't tell yet."),
}


def briefing_for(app, survey, query: str = ""):
    from flask_login import login_user
    from core import db

    with app.test_request_context(f"/briefings/surveys/{survey.id}{query}"):
        login_user(db.session().scalar(select(User).where(User.email == "admin@example.org")))
        selection, results = service.selected(survey.id)
        return service.build(selection, results), service.filename(selection)


def test_demo_briefings_have_the_documented_verdicts(app, demo):
    for survey in demo:
        place = survey.places[0]
        briefing, filename = briefing_for(app, survey, f"?place={place.id}")
        verdicts = {t.name: t.verdict for t in briefing.headline.tiles}
        trust, sentence = EXPECTED[place.name]
        assert verdicts["Momentum"] == "slipping"
        assert verdicts["Shared focus"] == "improving"
        assert verdicts["Trust"] == trust
        assert briefing.headline.sentence == sentence
        assert len(briefing.headline.tiles) == 11
        assert filename == f"{service.slug(place.name)}-wave-2-to-wave-3.pdf"
        assert all(isinstance(w.responses, int) and w.responses % 5 == 0 for w in briefing.headline.waves)


def test_a_small_sector_is_withheld_in_every_section(app, demo):
    eastholme = next(s for s in demo if s.places[0].name == "Eastholme")
    briefing, _ = briefing_for(app, eastholme, f"?place={eastholme.places[0].id}")
    sectors = next(s for s in briefing.sections if isinstance(s, service.Sectors))
    faith = [tile for panel in sectors.panels for tile in panel.tiles if tile.name == "Faith"]
    assert faith and all(tile.withheld == "fewer than 10 responses" for tile in faith)
    trust = next(s for s in briefing.sections if isinstance(s, service.Trust))
    row = next(r for r in trust.rows if r.rater == "Faith")
    assert all(shade in ("withheld", "none") for _, shade in row.cells)
    assert all(shade in ("withheld", "none") for _, shade in next(r for r in trust.changes if r.rater == "Faith").cells)
    # The demo's falling pair: Local authority's trust in the voluntary sector drops in Wave 3.
    column = trust.sectors.index("Voluntary and community")
    text, shade = next(r for r in trust.changes if r.rater == "Local authority").cells[column]
    assert shade == "down" and text.startswith("▼ −")
    # Every sector shown rates or is rated by someone: no row and column of dashes only.
    for i, sector in enumerate(trust.sectors):
        row = next(r for r in trust.rows if r.rater == sector).cells
        column = [r.cells[i] for r in trust.rows]
        assert any(shade != "none" for _, shade in [*row, *column]), sector
    # Too small to reweight: the caveats say it was left out of the sector-mix check.
    caveats = next(s for s in briefing.sections if isinstance(s, service.Caveats))
    assert "Faith" in caveats.mix_left_out and "Voluntary and community" not in caveats.mix_left_out


def test_the_appendix_reproduces_the_results_page_command(app, demo):
    briefing, _ = briefing_for(app, demo[0])
    appendix = next(s for s in briefing.sections if isinstance(s, service.Appendix))
    assert appendix.command.startswith(f"holdfast compare survey-{demo[0].id}-responses.csv --codebook ")
    assert "--reference 'Wave 2' --current 'Wave 3' --baseline 'Wave 1' --margins " in appendix.command
    assert len(appendix.responses_sha256) == 64
    assert all(isinstance(r.current_n, str) or r.current_n % 5 == 0 for r in appendix.rows)


@pytest.mark.parametrize("verdicts, sentence", [
    ([("A", "slipping")] + [("B", "holding")] * 7 + [("C", "improving")] * 2 + [("D", "cant_tell")],
     "A is slipping; 7 of 11 are holding, 2 improving, 1 can't tell yet."),
    ([("A", "holding"), ("B", "improving")], "Nothing is slipping; 1 of 2 is holding, 1 improving."),
    ([("A", "slipping"), ("B", "slipping")], "A and B are slipping."),
    ([(n, "slipping") for n in "ABCDE"] + [("F", "too_few")],
     "A, B, C and 2 more are slipping; 1 of 6 is too few responses."),
])
def test_headline_sentence(verdicts, sentence):
    assert service.headline_sentence(verdicts) == sentence


def test_file_names_are_ascii_slugs():
    assert service.slug("Wexcombe Borough") == "wexcombe-borough"
    assert service.slug("Ærø – Côte <script>") == "r-cote-script"


def test_the_fetcher_refuses_everything_but_the_static_folder(tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "ok.css").write_text("p {}")
    (tmp_path / "secret.txt").write_text("secret")
    fetcher = StaticOnlyFetcher(static)
    assert fetcher.fetch((static / "ok.css").as_uri()).read() == b"p {}"
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    for url in ("http://127.0.0.1:9/x.png", "https://example.org/x.png", "ftp://example.org/x",
                (tmp_path / "secret.txt").as_uri(), (static / ".." / "secret.txt").as_uri(), "file:///etc/passwd"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_a_document_asking_for_remote_and_local_files_gets_neither(tmp_path, monkeypatch):
    import urllib.request

    opened = []
    real_open = urllib.request.OpenerDirector.open

    def recording_open(self, url, *args, **kwargs):
        opened.append(getattr(url, "full_url", url))
        return real_open(self, url, *args, **kwargs)

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", recording_open)
    static = tmp_path / "static"
    static.mkdir()
    html = ('<html lang="en-GB"><head><title>t</title><link rel="stylesheet" href="http://127.0.0.1:9/s.css">'
            '</head><body><img src="http://127.0.0.1:9/x.png" alt="x"><img src="file:///etc/passwd" alt="y">'
            '<p style="background: url(https://example.org/b.png)">text</p></body></html>')
    assert render(html, static).startswith(b"%PDF")
    assert opened == []


def test_the_digest_is_the_export_files_and_kept_while_the_data_is_unchanged(app, db_session, demo, monkeypatch):
    from flask_login import login_user

    from core import db
    from surveys import service as surveys

    survey = demo[0]
    admin = db_session.scalar(select(User).where(User.email == "admin@example.org"))
    client = app.test_client()
    sign_in(client, admin, "holdfast-demo-2026")
    exported = client.get(f"/surveys/{survey.id}/export/responses.csv")
    assert exported.status_code == 200
    briefing, _ = briefing_for(app, survey)
    appendix = next(s for s in briefing.sections if isinstance(s, service.Appendix))
    assert appendix.responses_sha256 == hashlib.sha256(exported.data).hexdigest()

    # A second briefing of the same data (its place rather than all places) reads no response for it.
    def no_reading(*args, **kwargs):
        raise AssertionError("the responses were read again")

    with app.test_request_context(f"/briefings/surveys/{survey.id}?place={survey.places[0].id}"):
        login_user(db.session().get(User, admin.id))
        _, results = service.selected(survey.id)
        monkeypatch.setattr(surveys, "responses_frame", no_reading)
        assert service.responses_digest(survey, results) == appendix.responses_sha256
