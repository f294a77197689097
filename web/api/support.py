"""What every API view needs: the runtime, one transaction, the acting user, the body, replies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Response, current_app, jsonify, request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from web.schemas import validate
from workflow.errors import BadRequest, Unauthorized
from workflow.runtime import Runtime
from workflow.services.actors import Actor
from workflow.services.auth import actor_for_token
from workflow.services.queries import views_of
from workflow.storage.models import Case

M = TypeVar("M", bound=BaseModel)
MAX_TOKEN_LENGTH = 200


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["carnation"]
    return rt


READING_METHODS = frozenset({"GET", "HEAD"})


@contextmanager
def transaction() -> Iterator[Session]:
    """One transaction for the request: committed on success, rolled back on any error.

    A read on PostgreSQL runs without BEGIN and COMMIT (two round trips of each call):
    under READ COMMITTED a transaction gives its statements no common snapshot anyway,
    and the one thing a read may write, the record of a reveal, is a single statement
    that stands on its own (logged even if the answer then fails: rather once too often).
    """
    rt = runtime()
    if request.method in READING_METHODS and rt.is_postgres:
        with (
            rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
            rt.sessions(bind=connection) as session,
        ):
            yield session
            if session.new or session.dirty or session.deleted:
                session.commit()  # flushes what the read recorded (a reveal)
        return
    with rt.sessions() as session, session.begin():
        yield session


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("send Authorization: Bearer TOKEN")
    return token


@contextmanager
def acting() -> Iterator[tuple[Session, Actor]]:
    """The request's transaction and the user its bearer token names (401 otherwise)."""
    token = bearer_token()
    with transaction() as session:
        yield session, actor_for_token(runtime(), session, token)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_json(*, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; 400 when it is not one (an empty body is ``{}`` if optional)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return {}
        raise BadRequest("the body is empty: send a JSON object")
    try:
        data = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def body(model: type[M], *, optional: bool = False) -> M:
    return validate(model, read_json(optional=optional))


def query(model: type[M]) -> M:
    return validate(model, request.args.to_dict(flat=True))


def reply(data: Any, status: int = 200) -> Response:
    response = jsonify(data)
    response.status_code = status
    return response


def client_address() -> str | None:
    address = request.remote_addr
    return address[:64] if address else None


def case_json(rt: Runtime, session: Session, actor: Actor, case: Case) -> dict[str, Any]:
    """The case as the actor sees it now (masked); pending writes are flushed first."""
    session.flush()
    return views_of(rt, session, actor, [case])[0]
