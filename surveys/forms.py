"""Forms for coordinators: surveys, settings, questions, waves, invitations, import."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.forms import NumberField, required_text, strip_whitespace

from surveys.instruments import templates
from surveys.models import AnonymityMode, WaveRole
from surveys.question_types import QUESTION_TYPES

ANONYMITY_CHOICES = [
    (AnonymityMode.ANONYMOUS.value, "Anonymous: answers cannot be linked between waves"),
    (
        AnonymityMode.PSEUDONYMOUS.value,
        "Pseudonymous panel: answers from the same invited person are linked between waves by a "
        "coded key. This is pseudonymous, not anonymous: whoever holds the key secret and the "
        "invitation list could work out who answered.",
    ),
]
ROLE_CHOICES = [
    (WaveRole.BASELINE.value, "Baseline: before the gain"),
    (WaveRole.GAIN.value, "Gain: when the gain was seen"),
    (WaveRole.FOLLOW_UP.value, "Follow-up: is the gain holding?"),
]


class SurveyForm(FlaskForm):
    name = required_text("Survey name", "Enter a name for the survey", 200)
    run_by = required_text(
        "Who runs the survey",
        "Enter who runs the survey",
        200,
        description="Respondents see this, for example ‘Brackenford Partnership Board’.",
    )
    purpose = TextAreaField(
        "How the answers will be used (optional)",
        widget=GovTextArea(),
        description="Respondents see this before they start.",
        validators=[Length(max=2000)],
    )
    template = RadioField("Questions to start from", widget=GovRadioInput(), validators=[InputRequired("Select the questions to start from")])
    places = SelectMultipleField("Places", coerce=int, widget=GovCheckboxesInput(), validators=[InputRequired("Select at least one place")])
    anonymity = RadioField("Anonymity", choices=ANONYMITY_CHOICES, default=AnonymityMode.ANONYMOUS.value, widget=GovRadioInput(), validators=[InputRequired("Select how answers are kept")])
    submit = SubmitField("Create survey", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        found, default = templates()
        self.template.choices = [(t.code, t.name) for t in found]
        if not self.template.data:
            self.template.data = default


class SettingsForm(FlaskForm):
    anonymity = RadioField("Anonymity", choices=ANONYMITY_CHOICES, widget=GovRadioInput(), validators=[InputRequired("Select how answers are kept")])
    k_internal = IntegerField(
        "Smallest group shown on pages and in exports (k)",
        widget=GovTextInput(),
        description="Never below 5. Can only be raised.",
        validators=[InputRequired("Enter the smallest group size"), NumberRange(min=5, max=1000, message="Enter a whole number from 5 to 1000")],
    )
    k_briefing = IntegerField(
        "Smallest group shown in PDF briefings",
        widget=GovTextInput(),
        description="Never below 10. Can only be raised.",
        validators=[InputRequired("Enter the smallest group size for briefings"), NumberRange(min=10, max=1000, message="Enter a whole number from 10 to 1000")],
    )
    min_organisations = IntegerField(
        "Fewest organisations behind any figure",
        widget=GovTextInput(),
        description="Never below 3. Can only be raised.",
        validators=[InputRequired("Enter the fewest organisations"), NumberRange(min=3, max=100, message="Enter a whole number from 3 to 100")],
    )
    offer_dont_know = BooleanField(
        "Offer “Don’t know” on agreement questions", widget=GovCheckboxInput(),
        description="Counted as no answer in every figure. Applies to waves not yet open; an open or closed wave keeps what it offered.",
    )
    trust_sectors = SelectMultipleField(
        "Sectors the trust matrix asks about", coerce=int, widget=GovCheckboxesInput(),
        description="Leave all unticked to ask about the sectors with organisations in each respondent’s place. "
        "A respondent is never asked about their own sector or “Other”.",
    )
    submit = SubmitField("Save settings", widget=GovSubmitInput())


def margin_field_name(construct_id: int) -> str:
    return f"margin_{construct_id}"


def settings_form(survey, sectors=()) -> SettingsForm:
    """The settings form with a margin field per construct of the survey, and every
    sector but "Other" to choose for the trust matrix."""
    class Form(SettingsForm):
        pass

    data = {
        "anonymity": survey.anonymity,
        "k_internal": survey.k_internal,
        "k_briefing": survey.k_briefing,
        "min_organisations": survey.min_organisations,
        "offer_dont_know": survey.offer_dont_know,
        "trust_sectors": list(survey.trust_sector_ids or []),
    }
    for margin in sorted(survey.margins, key=lambda m: m.construct.position):
        name = margin_field_name(margin.construct_id)
        setattr(
            Form,
            name,
            NumberField(
                f"Margin for {margin.construct.name}", "Enter a margin from 0.01 to 4 scale points",
                widget=SettingsForm.k_internal.kwargs["widget"],
                places=2,
                validators=[
                    InputRequired(f"Enter a margin for {margin.construct.name}"),
                    NumberRange(min=Decimal("0.01"), max=Decimal("4"), message="Enter a margin from 0.01 to 4 scale points"),
                ],
            ),
        )
        data[name] = Decimal(str(margin.margin))
    form = Form(data=data)
    form.trust_sectors.choices = [(s.id, s.name) for s in sectors if s.name.strip().casefold() != "other"]
    return form


class ItemForm(FlaskForm):
    code = required_text("Code", "Enter a code", 40, description="Stable across waves, for example tr_5.")
    section = required_text(
        "Section", "Enter a section", 120, description="Questions in the same section are shown on one page."
    )
    text = TextAreaField(
        "Question",
        widget=GovTextArea(),
        filters=[strip_whitespace],
        validators=[DataRequired("Enter the question"), Length(max=1000)],
    )
    hint = TextAreaField("Hint (optional)", widget=GovTextArea(), validators=[Length(max=1000)])
    type = SelectField("Question type", widget=GovSelect(), choices=[(name, kind.label) for name, kind in QUESTION_TYPES.items()])
    choices = TextAreaField(
        "Choices (for agreement, single and multiple choice)",
        widget=GovTextArea(),
        description="One per line, in order, at least two. For an agreement scale, lowest agreement first; "
        "a question measuring a construct has as many choices as the construct’s scale has points "
        "(5 for the built-in constructs).",
        validators=[Length(max=4000)],
    )
    minimum = NumberField("Smallest number allowed (for number questions)",
                          "Enter the smallest number allowed as a number, for example 0",
                          widget=GovTextInput(), validators=[Optional()])
    maximum = NumberField("Largest number allowed (for number questions)",
                          "Enter the largest number allowed as a number, for example 100",
                          widget=GovTextInput(), validators=[Optional()])
    construct = SelectField("Construct (for agreement questions)", coerce=int, widget=GovSelect())
    reverse = BooleanField("Reverse-worded: agreeing is the unhealthy answer", widget=GovCheckboxInput())
    required = BooleanField("An answer is required", widget=GovCheckboxInput())
    submit = SubmitField("Save question", widget=GovSubmitInput())


class WaveForm(FlaskForm):
    label = required_text("Wave name", "Enter a name for the wave", 80)
    role = RadioField("What this wave is for", choices=ROLE_CHOICES, default=WaveRole.FOLLOW_UP.value, widget=GovRadioInput(), validators=[InputRequired("Select what this wave is for")])
    submit = SubmitField("Create the next wave", widget=GovSubmitInput())


class ConfirmForm(FlaskForm):
    """A button that changes something (open, close, erase, move, delete)."""

    submit = SubmitField("Confirm", widget=GovSubmitInput())


class InvitationForm(FlaskForm):
    default_organisation = SelectField(
        "Organisation for addresses on their own", widget=GovSelect(), coerce=int, default=0,
        description="Used for each line that gives only an email address. Its sector and place come with it.",
    )
    default_sector = SelectField(
        "Or a sector for addresses on their own", widget=GovSelect(), coerce=int, default=0,
        description="Used when no organisation is chosen above.",
    )
    invitees = TextAreaField(
        "People to invite",
        widget=GovTextArea(),
        description="One per line: an email address on its own, or email, organisation, sector (and place, "
        "if the survey covers several). A value on a line overrides the choices above.",
        validators=[Length(max=500_000)],
    )
    file = FileField("Or upload a CSV file with the same columns", widget=GovFileInput())
    submit = SubmitField("Invite these people", widget=GovSubmitInput())


def invitation_form(organisations, sectors) -> InvitationForm:
    """The invitation form with the organisations of the user's places and every sector to choose from."""
    form = InvitationForm()
    form.default_organisation.choices = [(0, "None")] + [
        (o.id, f"{o.name} ({o.sector.name}, {o.place.name})") for o in organisations
    ]
    form.default_sector.choices = [(0, "None")] + [(s.id, s.name) for s in sectors]
    return form


class ScheduleForm(FlaskForm):
    """When a wave opens and closes by itself, and its reminder and erasing rules."""

    opens_at = StringField(
        "Open the wave at", widget=GovTextInput(), filters=[strip_whitespace],
        description="UK time, for example 1/3/2027 09:00. Leave blank to open it yourself.",
    )
    closes_at = StringField(
        "Close the wave at", widget=GovTextInput(), filters=[strip_whitespace],
        description="UK time, for example 31/3/2027 17:00. Leave blank to close it yourself.",
    )
    grace_minutes = IntegerField(
        "Minutes after closing that people part-way through may still send", widget=GovTextInput(),
        validators=[InputRequired("Enter the minutes people part-way through may still send"),
                    NumberRange(0, 24 * 60, "Enter a number of minutes from 0 to 1440")],
    )
    reminders_automatic = BooleanField("Send reminders by themselves", widget=GovCheckboxInput())
    reminder_delay_days = IntegerField(
        "Days to wait before each reminder", widget=GovTextInput(),
        validators=[InputRequired("Enter the days to wait before a reminder"),
                    NumberRange(1, 60, "Enter a number of days from 1 to 60")],
    )
    reminder_limit = IntegerField(
        "Most reminders to send each person", widget=GovTextInput(),
        validators=[InputRequired("Enter the most reminders to send each person"),
                    NumberRange(0, 10, "Enter a number from 0 to 10")],
    )
    erase_after_days = IntegerField(
        "Days after closing to erase who was invited", widget=GovTextInput(),
        description="Their email addresses and the wave’s email are deleted then. Responses are kept.",
        validators=[InputRequired("Enter the days after closing to erase who was invited"),
                    NumberRange(0, 3650, "Enter a number of days from 0 to 3650")],
    )
    submit = SubmitField("Save the schedule", widget=GovSubmitInput())


class ImportUploadForm(FlaskForm):
    file = FileField(
        "CSV or Excel file exported from another survey tool",
        widget=GovFileInput(),
        description="A CSV file (UTF-8) or an Excel Workbook (.xlsx; the first sheet is read, and workbooks with "
        "macros are refused). One row per response, with the column names in the first row. Up to 5 MB.",
        validators=[FileRequired("Select a CSV or Excel file")],
    )
    submit = SubmitField("Upload and match the columns", widget=GovSubmitInput())
