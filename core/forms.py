"""Forms for signing in, managing users and managing places, sectors and organisations."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovDateInput,
    GovFileInput,
    GovPasswordInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    StopValidation,
    ValidationError,
)

from core.models import Role
from core.security import CONTROLS, LARGEST_ID
from core.service import MIN_PASSWORD_LENGTH, ORGANISATION_NAME_MAX

ROLE_CHOICES = [(role.value, role.label) for role in Role]


def strip_whitespace(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def choice_id(value) -> int:
    """Coerce a posted id; anything that is not an id (not a number, or one larger than
    any id) becomes 0, which no row has, so the view answers with its own plain-English
    message instead of WTForms' (or the database's error)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return number if 0 < number <= LARGEST_ID else 0


def one_line(message: str):
    """Refuse a line break (any that Python's splitlines knows, as the email library
    does). A browser never sends one from a one-line box, but a crafted form can, and
    these names reach email subjects and file names, where a line break would end the
    header."""

    def check(_form, field) -> None:
        if isinstance(field.data, str) and len(field.data.splitlines()) > 1:
            raise StopValidation(message)

    return check


def required_text(label: str, message: str, max_length: int, **kwargs) -> StringField:
    """A one-line text field that trims spaces, refuses an answer of only spaces, and
    refuses line breaks ("Enter a name for the survey without line breaks")."""
    return StringField(
        label,
        widget=GovTextInput(),
        filters=[strip_whitespace],
        validators=[DataRequired(message), one_line(f"{message} without line breaks"), Length(max=max_length)],
        **kwargs,
    )


class DayMonthYearField(DateField):
    """A date typed into GOV.UK's three boxes, which post day, month and year under one
    name. Anything else (one value, four, a date that does not exist) is one
    plain-English error, `invalid_message`. The widget draws the boxes again from
    exactly three values, so what came is padded or cut to three: it would fail to
    unpack any other number, and the page would be a 500."""

    def __init__(self, label: str, invalid_message: str, **kwargs) -> None:
        super().__init__(label, format="%d %m %Y", widget=GovDateInput(), **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist: list[str]) -> None:
        self.raw_data = [*valuelist, "", "", ""][:3]
        if not any(self.raw_data):
            return  # left blank: the field's InputRequired says so
        if len(valuelist) != 3:
            raise ValueError(self.invalid_message)
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(self.invalid_message) from None


class NumberField(DecimalField):
    """A decimal number, and one that is a number: Python's Decimal also reads "NaN",
    "sNaN" and "Infinity", which no range check can compare (a signalling NaN raises).
    Anything else is one plain-English error, `invalid_message`."""

    def __init__(self, label: str, invalid_message: str, **kwargs) -> None:
        super().__init__(label, **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(self.invalid_message) from None
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(self.invalid_message)


class SignInForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired("Enter your email address"), Length(max=254)],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[InputRequired("Enter your password"), Length(max=256)],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        widget=GovPasswordInput(),
        description=f"Use at least {MIN_PASSWORD_LENGTH} characters. A few unrelated words work well.",
        validators=[
            InputRequired("Enter a new password"),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=256,
                message=f"Password must be between {MIN_PASSWORD_LENGTH} and 256 characters",
            ),
        ],
    )
    confirm = PasswordField(
        "Confirm new password",
        widget=GovPasswordInput(),
        validators=[
            InputRequired("Enter the new password again"),
            EqualTo("password", "The passwords do not match"),
        ],
    )
    submit = SubmitField("Set password", widget=GovSubmitInput())


class _PersonFields(FlaskForm):
    # Declared before the access fields so the invite form asks for the person first.
    name = required_text("Full name", "Enter the person’s name", 120)
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        filters=[strip_whitespace],
        validators=[
            DataRequired("Enter an email address"),
            Length(max=254),
            Email("Enter an email address in the correct format, like name@example.org"),
        ],
    )


class _UserAccessForm(FlaskForm):
    role = RadioField(
        "Role", choices=ROLE_CHOICES, widget=GovRadioInput(), validators=[InputRequired("Select a role")]
    )
    places = SelectMultipleField(
        "Places",
        coerce=choice_id,
        validate_choice=False,  # the service answers unknown places in plain English
        widget=GovCheckboxesInput(),
        description="Coordinators and facilitators only see the places they are attached to.",
    )

    def validate_places(self, field: SelectMultipleField) -> None:
        if self.role.data not in Role._value2member_map_:
            return  # the role field reports a value that is not one of its choices
        if Role(self.role.data).is_place_scoped and not field.data:
            raise ValidationError("Select at least one place for a coordinator or facilitator")


class InviteUserForm(_PersonFields, _UserAccessForm):
    submit = SubmitField("Invite user", widget=GovSubmitInput())


class EditUserForm(_UserAccessForm):
    active = BooleanField("Account is active", widget=GovCheckboxInput())
    submit = SubmitField("Save changes", widget=GovSubmitInput())


def no_controls(message: str):
    """Refuse tabs, line breaks and other control characters, which the request filter lets
    through for multi-line answers but a name or an email address never holds. It stops
    the field's other checks, so the person sees one message for it."""

    def check(_form, field) -> None:
        if isinstance(field.data, str) and CONTROLS.search(field.data):
            raise StopValidation(message)

    return check


class UserDetailsForm(FlaskForm):
    name = StringField(
        "Full name",
        widget=GovTextInput(),
        filters=[strip_whitespace],
        validators=[
            DataRequired("Enter the person’s name"),
            no_controls("The name must not contain unusual characters such as tabs or line breaks"),
            Length(max=120, message="Name must be 120 characters or fewer"),
        ],
    )
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        description="They sign in with this address. Their password stays the same.",
        filters=[strip_whitespace],
        validators=[
            DataRequired("Enter an email address"),
            no_controls("The email address must not contain unusual characters such as tabs or line breaks"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            Email("Enter an email address in the correct format, like name@example.org"),
        ],
    )
    submit = SubmitField("Save name and email", widget=GovSubmitInput())


class RenewLinkForm(FlaskForm):
    submit = SubmitField("Create a new set-password link", widget=GovSubmitInput())


class PlaceForm(FlaskForm):
    name = required_text("Name", "Enter a name", 120)
    description = TextAreaField(
        "Description (optional)", widget=GovTextArea(), validators=[Length(max=2000)]
    )
    submit = SubmitField("Save place", widget=GovSubmitInput())


class SectorForm(FlaskForm):
    name = required_text("Name", "Enter a name", 120)
    submit = SubmitField("Save sector", widget=GovSubmitInput())


class OrganisationForm(FlaskForm):
    name = required_text("Name", "Enter a name", ORGANISATION_NAME_MAX)
    # Unknown or missing ids become 0, which the service answers with "Select a … from the list".
    sector = SelectField("Sector", coerce=choice_id, widget=GovSelect(), validate_choice=False, default=0)
    place = SelectField("Place", coerce=choice_id, widget=GovSelect(), validate_choice=False, default=0)
    submit = SubmitField("Save organisation", widget=GovSubmitInput())


class OrganisationImportForm(FlaskForm):
    file = FileField(
        "Upload a CSV file",
        widget=GovFileInput(),
        description="The first row must be: name, sector, place. Sectors and places must already exist.",
        validators=[FileRequired("Select a CSV file")],
    )
    submit = SubmitField("Import organisations", widget=GovSubmitInput())


class MergeChoiceForm(FlaskForm):
    # Unknown ids become 0, which the service answers with "Select … from the list".
    survivor = SelectField(
        "Merge into", coerce=choice_id, widget=GovSelect(), validate_choice=False,
        description="Only organisations in the same place are listed.",
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class ConfirmMergeForm(FlaskForm):
    submit = SubmitField("Merge organisations", widget=GovSubmitInput())


class ConfirmDeleteForm(FlaskForm):
    submit = SubmitField("Delete", widget=GovSubmitInput())
