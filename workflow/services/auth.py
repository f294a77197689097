"""Passwords, API tokens and login rate limiting (counted in the database, across processes)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from workflow.errors import RateLimited, Unauthorized
from workflow.runtime import Runtime
from workflow.services.actors import Actor
from workflow.storage.driver import PreparedSelect
from workflow.storage.models import ApiToken, LoginFailure, Station, User

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def check_rate_limit(rt: Runtime, session: Session, username: str) -> None:
    now = rt.now()
    since = now - FAILURE_WINDOW
    failures = list(
        session.scalars(
            select(LoginFailure.at)
            .where(LoginFailure.username == username, LoginFailure.at > since)
            .order_by(LoginFailure.at)
        )
    )
    if len(failures) >= MAX_FAILURES:
        retry_after = int((failures[-MAX_FAILURES] + FAILURE_WINDOW - now).total_seconds()) + 1
        raise RateLimited(max(retry_after, 1), "too many failed logins; try again later")


def authenticate(rt: Runtime, session: Session, username: str, password: str) -> User:
    """The user if the password is right; records failures (rate limit) otherwise.

    Failures are committed by the caller even when this raises: use ``login_failed``.
    """
    check_rate_limit(rt, session, username)
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not verify_password(user.password_hash, password):
        raise Unauthorized("wrong username or password")
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return user


def record_login_failure(rt: Runtime, session: Session, username: str) -> None:
    session.add(LoginFailure(username=username[:80], at=rt.now()))


def issue_token(rt: Runtime, session: Session, user: User) -> IssuedToken:
    token = secrets.token_urlsafe(32)
    now = rt.now()
    expires_at = now + timedelta(hours=rt.settings.token_hours)
    session.add(
        ApiToken(
            token_hash=_token_digest(token), user_id=user.id, created_at=now, expires_at=expires_at
        )
    )
    return IssuedToken(token=token, expires_at=expires_at)


# Every API call asks this: built once, and only the columns an Actor needs (no ORM
# objects, no password hash read for nothing).
_ACTOR_FOR_TOKEN = PreparedSelect(
    select(
        ApiToken.expires_at,
        ApiToken.revoked_at,
        User.active,
        User.id,
        User.username,
        User.role,
        User.language,
        Station.id,
        Station.code,
        Station.path,
        Station.kind,
    )
    .join(User, User.id == ApiToken.user_id)
    .join(Station, Station.id == User.station_id)
    .where(ApiToken.token_hash == bindparam("digest"))
)


def actor_for_token(rt: Runtime, session: Session, token: str) -> Actor:
    """The active user a valid token belongs to, in one query."""
    rows = _ACTOR_FOR_TOKEN.rows(session.connection(), {"digest": _token_digest(token)})
    if not rows:
        raise Unauthorized("the token is invalid, expired or revoked")
    expires_at, revoked_at, active, *actor = rows[0]
    if revoked_at is not None or expires_at <= rt.now():
        raise Unauthorized("the token is invalid, expired or revoked")
    if not active:
        raise Unauthorized("the account is deactivated")
    user_id, username, role, language, station_id, code, path, kind = actor
    return Actor(
        id=user_id,
        username=username,
        role=role,
        station_id=station_id,
        station_code=code,
        station_path=path,
        station_kind=kind,
        language=language,
    )


def revoke_token(rt: Runtime, session: Session, token: str) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == _token_digest(token))
        .values(revoked_at=rt.now())
    )


def revoke_all_tokens(rt: Runtime, session: Session, user_id: int) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=rt.now())
    )


def failures_count(session: Session, username: str) -> int:
    return session.scalar(select(func.count()).where(LoginFailure.username == username)) or 0
