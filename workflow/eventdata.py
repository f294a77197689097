"""Validation of an event's data against its field specs: cleaned values and field errors."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from types import MappingProxyType

from workflow.definition import EventDef, FieldSpec

# A protection order lasts at most six months (Anti-Domestic Violence Law art. 30).
ORDER_MONTHS = 6
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")

Errors = dict[str, str]


def validate_event_data(
    event: EventDef, data: Mapping[str, object], today: date
) -> tuple[dict[str, object], Errors]:
    """Check `data` against the event's fields; return (cleaned data, {field: message}).

    Cleaned values are typed (ISO dates become `date`); a null or blank value counts
    as absent. `today` is the local date the event happens on: for a backdated
    transition, the local date of its `occurred_at`. Event-specific rules (the
    `rule` expiry, the `settle` default) run only on fields that passed.
    """
    if not isinstance(data, Mapping):
        return {}, {"data": "must be an object"}
    errors: Errors = {}
    for name in data:
        if name not in event.data:
            errors[str(name)] = "unknown field"
    clean: dict[str, object] = {}
    for name, spec in event.data.items():
        value = data.get(name)
        if _absent(value):
            if spec.required:
                errors[name] = "required"
            continue
        coerced, message = _coerce(spec, value)
        if message is not None:
            errors[name] = message
        else:
            clean[name] = coerced
    extra = _EVENT_RULES.get(event.name)
    if extra is not None:
        extra(clean, errors, today)
    return clean, errors


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _coerce(spec: FieldSpec, value: object) -> tuple[object, str | None]:
    if spec.type in ("string", "text"):
        return _coerce_text(spec, value)
    if spec.type == "integer":
        return _coerce_integer(spec, value)
    if spec.type == "boolean":
        # JSON booleans only: "true", 1 and "yes" are ambiguous in a legal record.
        if isinstance(value, bool):
            return value, None
        return None, "must be true or false"
    return _coerce_date(value)


def _coerce_text(spec: FieldSpec, value: object) -> tuple[object, str | None]:
    if not isinstance(value, str):
        return None, "must be a string"
    if spec.enum is not None and value not in spec.enum:
        return None, f"must be one of: {', '.join(spec.enum)}"
    return value, None


def _coerce_integer(spec: FieldSpec, value: object) -> tuple[object, str | None]:
    # bool is an int subclass in Python; `true` is not a number of days.
    if not isinstance(value, int) or isinstance(value, bool):
        return None, "must be a whole number"
    if spec.min is not None and value < spec.min:
        return None, f"must be at least {spec.min}"
    if spec.max is not None and value > spec.max:
        return None, f"must be at most {spec.max}"
    return value, None


def _coerce_date(value: object) -> tuple[object, str | None]:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value, None
    # Only YYYY-MM-DD: fromisoformat also takes week dates and compact forms.
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value), None
        except ValueError:
            pass
    return None, "must be a date (YYYY-MM-DD)"


def add_months(day: date, months: int) -> date:
    """The same day `months` on, or that month's last day (the legal-period rule)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _rule_expiry(clean: dict[str, object], errors: Errors, today: date) -> None:
    if "outcome" in errors or "expires_on" in errors:
        return
    expires_on = clean.get("expires_on")
    if clean.get("outcome") != "granted":
        if expires_on is not None:
            errors["expires_on"] = "only a granted order has an expiry date"
        return
    if not isinstance(expires_on, date):
        errors["expires_on"] = "required when the order is granted"
    elif expires_on <= today:
        errors["expires_on"] = "must be after today"
    elif expires_on > add_months(today, ORDER_MONTHS):
        errors["expires_on"] = f"an order lasts at most {ORDER_MONTHS} months"


def _settle_effective_on(clean: dict[str, object], errors: Errors, today: date) -> None:
    # The spec's default: the agreement takes effect on the day it is recorded. It
    # is stored explicitly so the judicial-confirmation window can be counted later.
    if "effective_on" not in errors:
        clean.setdefault("effective_on", today)


_EVENT_RULES: Mapping[str, Callable[[dict[str, object], Errors, date], None]] = MappingProxyType(
    {"rule": _rule_expiry, "settle": _settle_effective_on}
)
