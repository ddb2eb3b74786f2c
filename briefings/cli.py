"""`flask --app app briefing SURVEY_ID --reference LABEL --current LABEL [--baseline LABEL]
[--place NAME ...] --out DIR`: every place's briefing PDF at once, for a coordinator to send
round. Everything asked for is checked before anything is written."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from analysis.routes import Selection, _waves_with_responses
from briefings import service
from core import db
from surveys.models import Survey

EXIT_BAD_INPUT = 2


def _fail(message: str):
    click.echo(f"Error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@click.command("briefing", help="Write the briefing PDF of a survey for each of its places.")
@click.argument("survey_id", type=int)
@click.option("--reference", required=True, help="The wave where the gain was seen.")
@click.option("--current", required=True, help="The wave to judge.")
@click.option("--baseline", default=None, help="The wave before the gain.")
@click.option("--place", "places", multiple=True, help="A place by name (repeat; default: every place).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def briefing_command(survey_id, reference, current, baseline, places, out):
    survey = db.session().get(Survey, survey_id)
    if survey is None:
        _fail(f"there is no survey {survey_id}")
    waves = _waves_with_responses(survey)  # closed waves with responses: results exist only for these
    by_label = {wave.label: wave for wave in waves}
    chosen = {}
    for option, label in (("reference", reference), ("current", current), ("baseline", baseline)):
        if label is not None and label not in by_label:
            _fail(f"--{option}: survey {survey_id} has no closed wave with responses called '{label}'")
        chosen[option] = by_label.get(label) if label is not None else None
    if chosen["reference"] == chosen["current"]:
        _fail("the reference and current waves must be different waves")
    if chosen["current"].number < chosen["reference"].number:
        _fail("the current wave must come after the reference wave")
    known = {place.name: place for place in survey.places}
    unknown = [name for name in places if name not in known]
    if unknown:
        _fail(f"--place: survey {survey_id} does not cover a place called '{unknown[0]}'")
    targets = [known[name] for name in places] or list(survey.places)
    out.mkdir(parents=True, exist_ok=True)
    with click.progressbar(targets, label="Briefings", file=sys.stderr) as bar:
        for place in bar:
            selection = Selection(survey, waves, chosen["reference"], chosen["current"], chosen["baseline"], place)
            # Templates build links, so they render inside a request of this app.
            with current_app.test_request_context():
                results = service.PublicResults(selection)
                path = out / service.filename(selection)
                path.write_bytes(service.render_pdf(selection, service.build(selection, results)))
            click.echo(f"wrote {path}")
