"""What every console view needs: the signed-in user, one transaction, local times, replies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, g, request
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import UserMixin, current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from web.api.support import client_address, runtime, transaction
from workflow.runtime import Runtime
from workflow.services.actors import Actor
from workflow.storage.models import Station, User

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["client_address", "runtime", "transaction"]


class ConsoleUser(UserMixin):
    """The signed-in person: the services' Actor, and a fingerprint of their password.

    The session stores "id:fingerprint", so a password reset or a deactivation ends every
    console session of that user at their next request.
    """

    def __init__(self, actor: Actor, fingerprint: str) -> None:
        self.actor = actor
        self.fingerprint = fingerprint

    def get_id(self) -> str:
        return f"{self.actor.id}:{self.fingerprint}"


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def session_id(user: User) -> str:
    return f"{user.id}:{password_fingerprint(user.password_hash)}"


def load_user(user_id: str) -> ConsoleUser | None:
    """Flask-Login's loader: the active user the session names, or nobody."""
    raw_id, _sep, fingerprint = user_id.partition(":")
    if not raw_id.isascii() or not raw_id.isdigit() or len(raw_id) > 18:
        return None
    with runtime().sessions() as session:
        row = session.execute(
            select(User, Station)
            .join(Station, Station.id == User.station_id)
            .where(User.id == int(raw_id))
        ).first()
        if row is None:
            return None
        user, station = row
        if not user.active or password_fingerprint(user.password_hash) != fingerprint:
            return None
        return ConsoleUser(Actor.of(user, station), fingerprint)


def actor() -> Actor:
    found: Actor = current_user.actor
    return found


@contextmanager
def acting() -> Iterator[tuple[Session, Actor]]:
    """The request's transaction and the signed-in user."""
    with transaction() as session:
        yield session, actor()


def roles(*allowed: str) -> Callable[[F], F]:
    """Sign-in required; other roles get the friendly 403 page."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if allowed and actor().role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


STAFF = ("caseworker", "supervisor")
CASE_READERS = ("caseworker", "volunteer", "supervisor", "court_liaison")


# -- times ------------------------------------------------------------------------------------


def rt() -> Runtime:
    return runtime()


def now() -> datetime:
    return runtime().now()


def parse_instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def local(value: Any) -> datetime | None:
    moment = parse_instant(value)
    return moment.astimezone(runtime().tz) if moment is not None else None


def format_local(value: Any, with_seconds: bool = False) -> str:
    """Local date and time; a deadline at midnight reads "24:00" of its last day, as the law
    counts it (a period ends at 24:00 of its last day), not 00:00 of the next."""
    moment = local(value)
    if moment is None:
        return ""
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        day = (moment - timedelta(days=1)).strftime("%Y-%m-%d")
        return f"{day} 24:00:00" if with_seconds else f"{day} 24:00"
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def input_value(value: datetime | None = None) -> str:
    """A `datetime-local` input's value in the local zone (default: now)."""
    moment = (value or now()).astimezone(runtime().tz)
    return moment.strftime("%Y-%m-%dT%H:%M")


def parse_local_input(value: str | None) -> datetime | None:
    """A `datetime-local` value (local time, no zone) as an aware instant; None if blank.

    Raises ValueError when it is not a date and time.
    """
    if value is None or not value.strip():
        return None
    text = value.strip().replace(" ", "T")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=runtime().tz)
    return moment


def duration(seconds: float) -> str:
    """A span of time in words: "3 days 4 hours", "5 hours 10 minutes", "12 minutes"."""
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts: list[str] = []
    if days:
        parts.append(ngettext("%(num)d day", "%(num)d days", days))
    if hours and days < 10:
        parts.append(ngettext("%(num)d hour", "%(num)d hours", hours))
    if not days and (minutes or not hours):
        parts.append(ngettext("%(num)d minute", "%(num)d minutes", minutes))
    return " ".join(parts)


def clock_remaining(clock: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """How a clock stands now: open or not, time left, or how long it has been overdue."""
    at = at or now()
    due = parse_instant(clock.get("due_at"))
    status = clock.get("status")
    is_open = clock.get("stopped_at") is None and status in ("running", "suspended", "breached")
    info: dict[str, Any] = {"open": is_open, "due": due, "overdue": False, "text": ""}
    if not is_open or due is None:
        return info
    if status == "suspended":
        info["text"] = _("suspended")
        return info
    left = (due - at).total_seconds()
    if left <= 0 or status == "breached":
        info["overdue"] = True
        info["text"] = _("overdue by %(span)s", span=duration(-left))
    else:
        info["text"] = _("%(span)s left", span=duration(left))
        info["soon"] = left < 2 * 86_400
    return info


def nearest_deadline(case: dict[str, Any]) -> datetime | None:
    """The earliest due time among the case's running or missed open clocks."""
    dues = [
        parse_instant(c["due_at"])
        for c in case.get("clocks", [])
        if c.get("stopped_at") is None and c.get("status") in ("running", "breached")
    ]
    found = [d for d in dues if d is not None]
    return min(found) if found else None


def overdue_for(case: dict[str, Any], at: datetime | None = None) -> timedelta | None:
    """How long the case has been overdue (its earliest missed open clock), or None."""
    if not case.get("overdue"):
        return None
    at = at or now()
    dues = [
        parse_instant(c["due_at"])
        for c in case.get("clocks", [])
        if c.get("stopped_at") is None and c.get("status") == "breached"
    ]
    found = [d for d in dues if d is not None]
    return at - min(found) if found else timedelta(0)


# -- requests ---------------------------------------------------------------------------------


def safe_next(target: str | None, default: str) -> str:
    """A same-site path to go back to; anything else (another host, a scheme) is refused."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return default
    return target


def form_text(name: str, limit: int = 20_000) -> str | None:
    """A form field, stripped; None when blank. Overlong input is cut, never stored whole."""
    value = request.form.get(name)
    if value is None:
        return None
    value = value.replace("\x00", "").strip()
    return value[:limit] if value else None


def form_flag(name: str) -> bool:
    return request.form.get(name) in ("true", "on", "1", "yes")


def remember(**values: Any) -> None:
    """Values a template of this request needs (the header's unread count…)."""
    for key, value in values.items():
        setattr(g, key, value)
