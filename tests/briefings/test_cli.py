"""`flask --app app briefing`: every place's PDF at once, bad input refused before writing."""

import pytest

from tests.briefings.test_routes import survey_in
from tests.conftest import demo_surveys

pytestmark = pytest.mark.dataset.with_args(demo_surveys)


def test_writes_one_pdf_per_place_with_a_line_each(app, demo, tmp_path):
    survey = survey_in(demo, "Brackenford")
    result = app.test_cli_runner().invoke(args=[
        "briefing", str(survey.id), "--reference", "Wave 2", "--current", "Wave 3", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["brackenford-wave-2-to-wave-3.pdf"]
    assert f"wrote {tmp_path / 'out' / written[0]}" in result.output
    assert (tmp_path / "out" / written[0]).read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("arguments, message", [
    (["999999", "--reference", "Wave 2", "--current", "Wave 3"], "there is no survey 999999"),
    (["{id}", "--reference", "Wave 9", "--current", "Wave 3"], "--reference: survey {id} has no closed wave"),
    (["{id}", "--reference", "Wave 2", "--current", "Wave 3", "--place", "Atlantis"],
     "--place: survey {id} does not cover a place called 'Atlantis'"),
    (["{id}", "--reference", "Wave 3", "--current", "Wave 3"], "must be different waves"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(app, demo, tmp_path, arguments, message):
    survey = survey_in(demo, "Brackenford")
    out = tmp_path / "out"
    result = app.test_cli_runner().invoke(args=["briefing", *(a.format(id=survey.id) for a in arguments),
                                                 "--out", str(out)])
    assert result.exit_code == 2
    assert message.format(id=survey.id) in result.output
    assert not out.exists()
