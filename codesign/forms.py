"""Forms for preparing and running workshops, joining one, and updating actions. Forms
with a field per idea or group are built from data here (`dots_form`, `assign_form`,
`paper_form`, `priorities_form`); each such field is named `<kind>_<row id>`."""

from __future__ import annotations

import secrets

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovCheckboxesInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import AnyOf, Email, InputRequired, Length, NumberRange, Optional

from codesign.models import ActionStatus, ContributionChannel
from codesign.service import IDEA_MAX, IMPACT_EFFORT
from codesign.stages import STAGES
from core.forms import DayMonthYearField, choice_id, required_text, strip_whitespace

NOT_SAYING = 0  # the sector choice "Prefer not to say"
MAX_DOTS = 20


def optional_choice_id(value) -> int | None:
    return None if value in (None, "", "none") else choice_id(value)


class WorkshopForm(FlaskForm):
    place = SelectField("Place", coerce=choice_id, widget=GovSelect(),
                        validators=[InputRequired("Select the place the workshop is for")])
    title = required_text("Title", "Enter a title for the workshop", 200)
    held_on = DayMonthYearField(
        "Date", "Enter the date of the workshop as a real date, for example 27 3 2027",
        description="For example, 27 3 2027",
        validators=[InputRequired("Enter the date of the workshop as day, month and year")])
    constructs = SelectMultipleField(
        "What the workshop focuses on", coerce=choice_id, widget=GovCheckboxesInput(),
        description="Prompts are proposed from these. Choose none to look at every construct.")
    dots = IntegerField(
        "Dots each participant can place", default=5, widget=GovTextInput(),
        validators=[InputRequired("Enter how many dots each participant can place"),
                    NumberRange(min=1, max=MAX_DOTS, message=f"Enter a whole number from 1 to {MAX_DOTS}")])
    submit = SubmitField("Create workshop", widget=GovSubmitInput())


class PromptsForm(FlaskForm):
    prompts = TextAreaField(
        "Prompts", widget=GovTextArea(), filters=[strip_whitespace],
        description="One “How might we…” question a line. Keep, edit or remove the proposed ones.",
        validators=[Length(max=5000)])
    submit = SubmitField("Save prompts", widget=GovSubmitInput())


class ButtonForm(FlaskForm):
    """A button that changes something (open, lock, hide); only its CSRF token is checked."""

    submit = SubmitField("Confirm", widget=GovSubmitInput())


class StageForm(FlaskForm):
    stage = HiddenField(validators=[InputRequired("Choose a stage"),
                                    AnyOf(list(STAGES), message="Choose a stage from the list")])
    submit = SubmitField("Move everyone on", widget=GovSubmitInput())


class TimerForm(FlaskForm):
    minutes = IntegerField(
        "Minutes", widget=GovTextInput(), description="0 clears the timer.",
        validators=[InputRequired("Enter the number of minutes"),
                    NumberRange(min=0, max=240, message="Enter a whole number of minutes from 0 to 240")])
    submit = SubmitField("Set timer", widget=GovSubmitInput())


class JoinCodeForm(FlaskForm):
    code = StringField("Join code", widget=GovTextInput(), filters=[strip_whitespace],
                       description="6 letters and numbers, shown on the screen in the room",
                       validators=[InputRequired("Enter the join code"), Length(max=20)])
    submit = SubmitField("Continue", widget=GovSubmitInput())


class JoinForm(FlaskForm):
    display_name = StringField(
        "Your name (optional)", widget=GovTextInput(), filters=[strip_whitespace],
        description="Shown to the facilitator only. Leave it blank to take part without a name.",
        validators=[Length(max=60, message="Your name must be 60 characters or fewer")])
    sector = RadioField("Which sector do you work in?", coerce=choice_id, widget=GovRadioInput(),
                        validators=[InputRequired("Select your sector, or ‘Prefer not to say’")])
    channel = RadioField(
        "Where are you taking part from?", widget=GovRadioInput(),
        choices=[(ContributionChannel.IN_ROOM.value, "In the room"),
                 (ContributionChannel.REMOTE.value, "Remotely")],
        validators=[InputRequired("Select whether you are in the room or joining remotely")])
    submit = SubmitField("Join the workshop", widget=GovSubmitInput())


class IdeaForm(FlaskForm):
    text = TextAreaField(
        "Your idea", widget=GovCharacterCount(), filters=[strip_whitespace],
        validators=[InputRequired("Enter your idea"),
                    Length(max=IDEA_MAX, message=f"Your idea must be {IDEA_MAX} characters or fewer")])
    key = HiddenField(default=lambda: secrets.token_hex(16),
                      validators=[InputRequired("Reload the page and try again"), Length(max=64)])
    submit = SubmitField("Add idea", widget=GovSubmitInput())


class ClusterForm(FlaskForm):
    name = required_text("Group name", "Enter a name for the group", 120)
    submit = SubmitField("Add group", widget=GovSubmitInput())


class RenameForm(FlaskForm):
    name = required_text("New name", "Enter a name for the group", 120)
    submit = SubmitField("Rename", widget=GovSubmitInput())


def dots_form(ideas, allowed: int, placed: dict[int, int]):
    """A number of dots per idea, 0 to the dots allowed, set to what is placed now."""
    class DotsForm(FlaskForm):
        submit = SubmitField("Save my dots", widget=GovSubmitInput())

    choices = [(n, str(n)) for n in range(allowed + 1)]
    for idea in ideas:
        setattr(DotsForm, f"idea_{idea.id}", SelectField(
            idea.text, coerce=int, choices=choices, default=placed.get(idea.id, 0), widget=GovSelect(),
            validators=[InputRequired("Choose a number of dots")]))
    return DotsForm()


def assign_form(ideas, clusters):
    class AssignForm(FlaskForm):
        submit = SubmitField("Save groups", widget=GovSubmitInput())

    choices = [("none", "No group"), *[(str(c.id), c.name) for c in clusters]]
    for idea in ideas:
        setattr(AssignForm, f"idea_{idea.id}", SelectField(
            idea.text, choices=choices, default=str(idea.cluster_id) if idea.cluster_id else "none",
            widget=GovSelect()))
    return AssignForm()


def paper_form(ideas, sectors, people_count: int = 0, votes: dict[int, int] | None = None):
    class PaperForm(FlaskForm):
        sector = SelectField("Sector", coerce=choice_id, choices=[(s.id, s.name) for s in sectors],
                             widget=GovSelect(), validators=[InputRequired("Select a sector")])
        people = IntegerField(
            "People from this sector voting on paper or by show of hands", default=people_count, widget=GovTextInput(),
            validators=[InputRequired("Enter how many people voted"),
                        NumberRange(min=0, max=1000, message="Enter a whole number from 0 to 1000")])
        submit = SubmitField("Save paper votes", widget=GovSubmitInput())

    for idea in ideas:
        setattr(PaperForm, f"idea_{idea.id}", IntegerField(
            idea.text, default=(votes or {}).get(idea.id, 0), widget=GovTextInput(),
            validators=[InputRequired("Enter a number of votes, or 0"),
                        NumberRange(min=0, max=10000, message="Enter a whole number of votes, or 0")]))
    return PaperForm()


def priorities_form(clusters):
    class PrioritiesForm(FlaskForm):
        submit = SubmitField("Save the grid", widget=GovSubmitInput())

    choices = [("", "Not placed"), *[(str(n), str(n)) for n in IMPACT_EFFORT]]
    for cluster in clusters:
        for axis in ("impact", "effort"):
            setattr(PrioritiesForm, f"{axis}_{cluster.id}", SelectField(
                f"{axis.capitalize()} of {cluster.name}", choices=choices,
                default=str(getattr(cluster, axis) or ""), widget=GovSelect()))
    return PrioritiesForm()


class ActionForm(FlaskForm):
    title = required_text("What will be done", "Enter what will be done", 200)
    organisation = SelectField("Owning organisation", coerce=choice_id, widget=GovSelect(),
                               validators=[InputRequired("Select the organisation that owns the action")])
    owner_name = required_text("Owner’s name", "Enter the owner’s name", 120)
    owner_email = StringField(
        "Owner’s email address (optional)", widget=GovTextInput(), filters=[strip_whitespace],
        description="They get a link to update the action without an account, and a reminder if it falls overdue.",
        validators=[Optional(), Email("Enter an email address in the correct format, like name@example.org"),
                    Length(max=254)])
    due_on = DayMonthYearField("Due date", "Enter the due date as a real date, for example 27 3 2027",
                               description="For example, 27 3 2027",
                               validators=[InputRequired("Enter the due date as day, month and year")])
    construct = SelectField("What it aims to move", coerce=choice_id, widget=GovSelect(),
                            validators=[InputRequired("Select what the action aims to move")])
    cluster = SelectField("From the group of ideas", coerce=optional_choice_id, widget=GovSelect(),
                          validators=[Optional()])
    submit = SubmitField("Add action", widget=GovSubmitInput())


class ActionUpdateForm(FlaskForm):
    status = RadioField("Status", widget=GovRadioInput(),
                        choices=[(s.value, s.label) for s in ActionStatus],
                        validators=[InputRequired("Select the action’s status")])
    note = TextAreaField("Note (optional)", widget=GovTextArea(), filters=[strip_whitespace],
                         validators=[Length(max=2000, message="The note must be 2000 characters or fewer")])
    submit = SubmitField("Save update", widget=GovSubmitInput())
