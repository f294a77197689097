"""The console's fixed forms (sign-in, intake, administration) and their field checks.

CSRF is checked for every POST by CSRFProtect (app-wide), so the forms themselves do not
check it a second time. Forms whose fields come from the workflow definition (the
transitions) are built from `transition_options` in the case views instead.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from web.console.labels import CATEGORIES, CHANNELS, RISKS, ROLES, STATION_KINDS
from web.console.labels import choices as label_choices

try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None

REQUIRED = _l("Required.")
PHONE = Regexp(r"^[0-9+()\- ]{3,40}$", message=_l("Digits, spaces, + - ( ) only."))


def _too_long(limit: int) -> Length:
    return Length(max=limit, message=_l("At most %(max)d characters.", max=limit))


def options(pairs: list[tuple[str, Any]]) -> list[Any]:
    """Select options in the form the installed WTForms expects."""
    if SelectChoice is None:
        return [(value, str(text)) for value, text in pairs]
    return [SelectChoice(value=value, label=str(text)) for value, text in pairs]


def choices(table: Any, names: Any = None) -> list[tuple[str, str]]:
    return label_choices(table, names)


def blank(label: Any) -> list[tuple[str, str]]:
    return [("", str(label))]


class LocalDateTime:
    """A `datetime-local` value: YYYY-MM-DDTHH:MM."""

    pattern = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")

    def __call__(self, form: Any, field: Any) -> None:
        if field.data and not self.pattern.match(field.data.strip()):
            raise ValidationError(str(_l("Must be a date and time.")))


class ConsoleForm(FlaskForm):
    class Meta:
        csrf = False  # CSRFProtect checks every POST of the app before any view runs


class LoginForm(ConsoleForm):
    username = StringField(_l("Username"), [DataRequired(REQUIRED), _too_long(80)])
    password = PasswordField(_l("Password"), [DataRequired(REQUIRED), _too_long(1000)])


class RegistrationForm(ConsoleForm):
    # One value per opened form: a second press of "Register" (or a resent POST) finds
    # the first case under it instead of making another.
    submission = HiddenField(validators=[Optional(), Regexp(r"^[0-9a-f]{32}$")])
    channel = SelectField(_l("How the complaint came in"), [DataRequired(REQUIRED)])
    received_at = StringField(_l("Received at"), [Optional(), LocalDateTime()])
    station = SelectField(_l("Station"), [Optional()])
    category = SelectField(_l("Category"), [DataRequired(REQUIRED)])
    risk = SelectField(_l("Risk"), [DataRequired(REQUIRED)])
    c_name = StringField(_l("Name"), [Optional(), _too_long(200)])
    c_phone = StringField(_l("Phone"), [Optional(), PHONE])
    c_id_number = StringField(_l("ID number"), [Optional(), _too_long(40)])
    c_address = StringField(_l("Address"), [Optional(), _too_long(500)])
    c_is_minor = BooleanField(_l("The complainant is a minor"))
    c_lacks_capacity = BooleanField(_l("The complainant lacks legal capacity"))
    c_consents_to_sms = BooleanField(_l("She agrees to receive text messages"))
    c_safe_phone = StringField(_l("Safe phone number for messages"), [Optional(), PHONE])
    v_name = StringField(_l("Name"), [Optional(), _too_long(200)])
    v_is_minor = BooleanField(_l("The victim is a minor"))
    v_lacks_capacity = BooleanField(_l("The victim lacks legal capacity"))
    v_relation = StringField(_l("Relation to the complainant"), [Optional(), _too_long(100)])
    r_name = StringField(_l("Name"), [Optional(), _too_long(200)])
    r_relation = StringField(_l("Relation to the complainant"), [Optional(), _too_long(100)])
    summary = TextAreaField(_l("What happened"), [Optional(), _too_long(20_000)])

    def fill_choices(self, stations: list[tuple[str, str]]) -> None:
        pick = _l("— choose —")
        self.channel.choices = options(blank(pick) + choices(CHANNELS))
        self.category.choices = options(blank(pick) + choices(CATEGORIES))
        self.risk.choices = options(blank(pick) + choices(RISKS))
        self.station.choices = options(stations)

    def victim_given(self) -> bool:
        return bool(self.v_name.data or self.v_is_minor.data or self.v_lacks_capacity.data) or bool(
            self.v_relation.data
        )


# Registration form fields by the API's dotted field names (for the services' messages).
REGISTRATION_FIELDS = {
    "channel": "channel",
    "received_at": "received_at",
    "station": "station",
    "category": "category",
    "risk": "risk",
    "summary": "summary",
    "complainant.name": "c_name",
    "complainant.phone": "c_phone",
    "complainant.id_number": "c_id_number",
    "complainant.address": "c_address",
    "complainant.safe_phone": "c_safe_phone",
    "victim.name": "v_name",
    "victim.relation": "v_relation",
    "respondent.name": "r_name",
    "respondent.relation": "r_relation",
}


class StationForm(ConsoleForm):
    code = StringField(
        _l("Code"),
        [
            DataRequired(REQUIRED),
            Regexp(r"^[A-Za-z0-9_]{1,32}$", message=_l("Letters, digits and _ only, at most 32.")),
        ],
    )
    name = StringField(_l("Name"), [DataRequired(REQUIRED), _too_long(200)])
    kind = SelectField(_l("Kind"), [DataRequired(REQUIRED)])
    parent = SelectField(_l("Parent station"), [Optional()])

    def fill_choices(self, parents: list[tuple[str, str]]) -> None:
        self.kind.choices = options(blank(_l("— choose —")) + choices(STATION_KINDS))
        self.parent.choices = options(blank(_l("none (district or court)")) + parents)


class UserForm(ConsoleForm):
    username = StringField(
        _l("Username"),
        [
            DataRequired(REQUIRED),
            Regexp(r"^[A-Za-z0-9_.@-]{2,80}$", message=_l("2 to 80 letters, digits or . _ - @.")),
        ],
    )
    role = SelectField(_l("Role"), [DataRequired(REQUIRED)])
    station = SelectField(_l("Station"), [DataRequired(REQUIRED)])
    password = PasswordField(
        _l("Initial password"),
        [
            DataRequired(REQUIRED),
            Length(min=8, max=1000, message=_l("At least 8 characters.")),
        ],
    )
    email = StringField(
        _l("Email (optional)"),
        [
            Optional(),
            Regexp(r"^[^@\s]+@[^@\s]+$", message=_l("Not an email address.")),
            _too_long(200),
        ],
    )
    language = SelectField(_l("Language"), [DataRequired(REQUIRED)])

    def fill_choices(self, stations: list[tuple[str, str]]) -> None:
        self.role.choices = options(blank(_l("— choose —")) + choices(ROLES))
        self.station.choices = options(blank(_l("— choose —")) + stations)
        self.language.choices = options([("zh", "中文"), ("en", "English")])


class CalendarDayForm(ConsoleForm):
    day = StringField(
        _l("Date"),
        [
            DataRequired(REQUIRED),
            Regexp(r"^\d{4}-\d{2}-\d{2}$", message=_l("Must be a date.")),
        ],
    )
    kind = SelectField(_l("The day is"), [DataRequired(REQUIRED)])
    name = StringField(_l("Name (holiday or reason)"), [DataRequired(REQUIRED), _too_long(100)])

    def fill_choices(self) -> None:
        self.kind.choices = options([("rest", _l("Rest day")), ("work", _l("Working day"))])


class ScheduleForm(ConsoleForm):
    year = StringField(
        _l("Year"), [DataRequired(REQUIRED), Regexp(r"^\d{4}$", message=_l("A year, like 2027."))]
    )
    days = TextAreaField(_l("Days, one a line"), [DataRequired(REQUIRED), _too_long(20_000)])
