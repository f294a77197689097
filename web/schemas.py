"""The API's request shapes as strict pydantic models; their errors become `validation_error`.

Bodies are validated in strict mode with unknown fields forbidden: `"true"` is not a
boolean and `"1"` not an integer (a legal record has no room for guesses). Query
strings are text by nature, so their models convert exactly the spellings the
contract names (`true`/`false`, decimal digits) and nothing else. Every string is
length-capped and must be encodable text (no NUL, no lone surrogate), so nothing
malformed reaches the database or the sealer.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from workflow.errors import ValidationFailed

CHANNELS = ("visit", "phone", "letter", "online", "referral")
CATEGORIES = (
    "domestic_violence",
    "marriage_family",
    "property_rights",
    "employment",
    "child_protection",
    "sexual_harassment",
    "neighbour_dispute",
    "other",
)
RISKS = ("low", "medium", "high", "emergency")

Channel = Literal["visit", "phone", "letter", "online", "referral"]
Category = Literal[
    "domestic_violence",
    "marriage_family",
    "property_rights",
    "employment",
    "child_protection",
    "sexual_harassment",
    "neighbour_dispute",
    "other",
]
Risk = Literal["low", "medium", "high", "emergency"]

M = TypeVar("M", bound=BaseModel)
MAX_DB_INT = 2**63 - 1
NAME_LENGTH = 200
TEXT_LENGTH = 20_000


# -- scalar types ------------------------------------------------------------------------


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("text", "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("text", "must be valid Unicode text") from None
    return value


Name = Annotated[str, Field(max_length=NAME_LENGTH), AfterValidator(_clean_text)]
Short = Annotated[str, Field(max_length=100), AfterValidator(_clean_text)]
Code = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_clean_text)]
Phone = Annotated[str, Field(max_length=40), AfterValidator(_clean_text)]
LongText = Annotated[str, Field(max_length=TEXT_LENGTH), AfterValidator(_clean_text)]
RequiredText = Annotated[
    str, Field(min_length=1, max_length=TEXT_LENGTH), AfterValidator(_clean_text)
]

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})\Z"
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def parse_timestamp(value: object) -> datetime:
    """An RFC 3339 timestamp with its offset, as an aware UTC datetime."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise PydanticCustomError(
            "timestamp", "must be an RFC 3339 date-time with an offset (2026-11-28T09:30:00+08:00)"
        )
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise PydanticCustomError("timestamp", "not a valid date-time") from None


def parse_day(value: object) -> date:
    """A calendar date, exactly YYYY-MM-DD."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("date", "must be a date (YYYY-MM-DD)")


Timestamp = Annotated[
    datetime,
    PlainValidator(parse_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Day = Annotated[
    date, PlainValidator(parse_day), WithJsonSchema({"type": "string", "format": "date"})
]
RecordId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
Version = Annotated[int, Field(ge=0, le=2**31 - 1)]


def _event_value(value: Any) -> Any:
    """Event data is checked against the workflow's field specs by the service; here only
    what would break below it: overlong or unencodable text, integers beyond 64 bits."""
    if isinstance(value, str):
        if len(value) > TEXT_LENGTH:
            raise PydanticCustomError("text", f"at most {TEXT_LENGTH} characters")
        return _clean_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_DB_INT:
        raise PydanticCustomError("integer", "number out of range")
    return value


EventValue = Annotated[Any, AfterValidator(_event_value)]
EventDataKey = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_clean_text)]


# -- bodies ------------------------------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class TokenRequest(Body):
    username: Annotated[str, Field(min_length=1, max_length=80), AfterValidator(_clean_text)]
    password: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_clean_text)]


class Complainant(Body):
    name: Name | None = None
    phone: Phone | None = None
    id_number: Phone | None = None
    address: Annotated[str, Field(max_length=500), AfterValidator(_clean_text)] | None = None
    is_minor: bool | None = None
    lacks_capacity: bool | None = None
    consents_to_sms: bool | None = None
    safe_phone: Phone | None = None


class Victim(Body):
    name: Name | None = None
    is_minor: bool | None = None
    lacks_capacity: bool | None = None
    relation: Short | None = None


class Respondent(Body):
    name: Name | None = None
    relation: Short | None = None


class CaseRegistration(Body):
    channel: Channel
    received_at: Timestamp | None = None
    station: Code | None = None
    category: Category
    risk: Risk
    complainant: Complainant | None = None
    victim: Victim | None = None
    respondent: Respondent | None = None
    summary: LongText | None = None


class CaseUpdate(Body):
    version: Version
    risk: Risk | None = None
    category: Category | None = None
    victim: Victim | None = None


class TransitionRequest(Body):
    event: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_clean_text)]
    version: Version
    data: Annotated[dict[EventDataKey, EventValue], Field(max_length=50)] | None = None
    occurred_at: Timestamp | None = None


class NoteRequest(Body):
    text: RequiredText


class SessionRequest(Body):
    held_at: Timestamp
    participants: Annotated[list[Name], Field(max_length=50)]
    result: RequiredText
    notes: LongText | None = None


class AssignmentRequest(Body):
    assignee_id: RecordId
    version: Version


class TransferRequest(Body):
    station: Code
    version: Version


class FollowUpRequest(Body):
    contacted_at: Timestamp
    result: RequiredText


class ReportFiledRequest(Body):
    filed_at: Timestamp
    agency: Annotated[str, Field(min_length=1, max_length=NAME_LENGTH), AfterValidator(_clean_text)]
    reference: Name | None = None


class SuspendRequest(Body):
    reason: RequiredText


class ResumeRequest(Body):
    reason: LongText | None = None


class CalendarDayRequest(Body):
    kind: Literal["rest", "work"]
    name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_clean_text)]


# -- query strings -----------------------------------------------------------------------


def _flag(value: object) -> object:
    if value in ("true", "false"):
        return value == "true"
    if isinstance(value, bool):
        return value
    raise PydanticCustomError("flag", "must be true or false")


def _digits(value: object) -> object:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("integer", "must be a whole number")


def _assignee(value: object) -> object:
    if value == "me" or (isinstance(value, str) and re.fullmatch(r"[0-9]{1,18}", value)):
        return value
    raise PydanticCustomError("assignee", "'me' or a user id")


Flag = Annotated[bool, BeforeValidator(_flag), WithJsonSchema({"enum": ["true", "false"]})]
QueryInt = Annotated[int, BeforeValidator(_digits)]
QueryText = Annotated[str, Field(max_length=100), AfterValidator(_clean_text)]


class Query(BaseModel):
    # Unknown query parameters are ignored (cache busters, tracking): only bodies are strict.
    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)


class RevealQuery(Query):
    reveal: Flag = False


class CaseListQuery(Query):
    state: QueryText | None = None
    station: QueryText | None = None
    overdue: Flag | None = None
    assignee: Annotated[str, BeforeValidator(_assignee)] | None = None
    q: QueryText | None = None
    page: Annotated[QueryInt, Field(ge=1, le=1_000_000)] = 1
    per_page: Annotated[QueryInt, Field(ge=1, le=100)] = 20


class NotificationsQuery(Query):
    unread: Flag = False


class UsersQuery(Query):
    station: QueryText | None = None


class SummaryQuery(Query):
    from_: Annotated[Day, Field(alias="from")]
    to: Day
    station: QueryText | None = None


# -- turning pydantic's errors into the contract's ---------------------------------------


def _message(error: Any) -> str:
    kind = error.get("type")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    return str(error.get("msg", "invalid"))


def field_errors(exc: ValidationError) -> dict[str, str]:
    """`{"dotted.path": "message"}`; the first message per field wins."""
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        path = ".".join(str(part) for part in error.get("loc", ())) or "body"
        fields.setdefault(path, _message(error))
    return fields


def validate(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or ValidationFailed naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from None
