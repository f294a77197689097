"""The services' refusal messages (English, from the domain) in the reader's language."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

EXACT = {
    "required": _l("Required."),
    "unknown field": _l("This field is not expected here."),
    "must be a string": _l("Must be text."),
    "must be a whole number": _l("Must be a whole number."),
    "must be true or false": _l("Must be yes or no."),
    "must be a date (YYYY-MM-DD)": _l("Must be a date."),
    "must not be in the future": _l("Must not be in the future."),
    "must not be before the case's latest event": _l("Must not be before the case's latest event."),
    "must not be before the clock or case it concerns opened": _l(
        "Must not be before the case or the deadline it concerns began."
    ),
    "must not be more than five minutes in the future": _l(
        "Must not be more than five minutes in the future."
    ),
    "only a granted order has an expiry date": _l("Only a granted order has an expiry date."),
    "required when the order is granted": _l("Required when the order is granted."),
    "must be after today": _l("Must be after today."),
    "no such court panel": _l("No such court panel."),
    "required: name the court panel": _l("Choose the court panel."),
    "cases are registered at a service station": _l("Cases are registered at a service station."),
    "you may register only at your own station": _l("You may register only at your own station."),
    "not a station in your area": _l("Not a station in your area."),
    "no such station": _l("No such station."),
    "must not be before from": _l("Must not be before the start date."),
    "must be a caseworker of the case's station or a supervisor at or above it": _l(
        "Must be a caseworker of the case's station or a supervisor at or above it."
    ),
    "letters, digits and _ only, at most 32": _l("Letters, digits and _ only, at most 32."),
    "there is already a district": _l("There is already a district."),
    "supervisors sit at town or district stations": _l(
        "Supervisors sit at town or district stations."
    ),
    "court liaisons sit at court panels": _l("Court liaisons sit at court panels."),
    "caseworkers and volunteers sit at service stations": _l(
        "Caseworkers and volunteers sit at service stations."
    ),
    "at least 8 characters": _l("At least 8 characters."),
    "2–80 letters, digits or . _ - @": _l("2 to 80 letters, digits or . _ - @."),
    "not an email address": _l("Not an email address."),
    "zh or en": _l("Chinese or English."),
}

PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"must be one of: (.*)"),
        lambda m: _("Must be one of: %(values)s.", values=m.group(1)),
    ),
    (
        re.compile(r"must be at least (-?\d+)"),
        lambda m: _("Must be at least %(n)s.", n=m.group(1)),
    ),
    (re.compile(r"must be at most (-?\d+)"), lambda m: _("Must be at most %(n)s.", n=m.group(1))),
    (
        re.compile(r"an order lasts at most (\d+) months"),
        lambda m: _("An order lasts at most %(n)s months.", n=m.group(1)),
    ),
    (
        re.compile(r"station (\S+) already exists"),
        lambda m: _("Station %(code)s already exists.", code=m.group(1)),
    ),
    (
        re.compile(r"user (\S+) already exists"),
        lambda m: _("User %(name)s already exists.", name=m.group(1)),
    ),
    (re.compile(r"no station (\S+)"), lambda m: _("No station %(code)s.", code=m.group(1))),
    (re.compile(r"a (\w+) has no parent"), lambda m: _("This kind of station has no parent.")),
    (
        re.compile(r"a (\w+) needs a (\w+) parent"),
        lambda m: _("This kind of station needs a parent station."),
    ),
    (
        re.compile(r"a (\w+)'s parent must be a (\w+)"),
        lambda m: _("A village belongs to a town, a town to the district."),
    ),
]


def translate(message: str) -> str:
    """A service message in the current language; unknown ones are shown as they are."""
    known = EXACT.get(message)
    if known is not None:
        return str(known)
    for pattern, render in PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return render(match)
    return message


def translate_fields(fields: dict[str, str]) -> dict[str, str]:
    return {name: translate(message) for name, message in fields.items()}
