"""Forms for reviewing quotes and issuing a briefing."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea
from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from core.forms import strip_whitespace
from surveys.question_types import TEXT_MAX_LENGTH

FOREWORD_MAX_LENGTH = 1500


class QuoteReviewForm(FlaskForm):
    """One answer's review: approve the text in the box (as written, or edited), or reject."""

    text = TextAreaField("Quote as it will appear", widget=GovTextArea(), filters=[strip_whitespace],
                         validators=[Length(max=TEXT_MAX_LENGTH)])
    approve = SubmitField("Approve", widget=GovSubmitInput())
    reject = SubmitField("Reject", widget=GovSubmitInput())


class QuoteChoiceForm(FlaskForm):
    """Put an approved quote in the wave's briefings ("yes") or take it out ("no")."""

    in_briefings = HiddenField()


class IssueForm(FlaskForm):
    foreword = TextAreaField(
        "Foreword", widget=GovTextArea(), filters=[strip_whitespace],
        description="A few sentences from you that open the briefing: what it is for and who it is for.",
        validators=[DataRequired("Enter a foreword"),
                    Length(max=FOREWORD_MAX_LENGTH, message=f"The foreword must be {FOREWORD_MAX_LENGTH} characters or fewer")],
    )
    submit = SubmitField("Issue this briefing", widget=GovSubmitInput())
