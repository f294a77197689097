"""API tokens: log in for one, log out of it; failed logins are counted across processes."""

from __future__ import annotations

from flask import Blueprint, Response

from web.api.support import bearer_token, body, reply, runtime, transaction
from web.openapi import documented
from web.schemas import TokenRequest
from workflow.errors import Unauthorized
from workflow.services.auth import (
    actor_for_token,
    authenticate,
    issue_token,
    record_login_failure,
    revoke_token,
)

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


@bp.post("/token")
@documented(
    "Log in: a bearer token and when it expires", body=TokenRequest, status=201, public=True
)
def login() -> Response:
    rt = runtime()
    credentials = body(TokenRequest)
    try:
        with transaction() as session:
            user = authenticate(rt, session, credentials.username, credentials.password)
            issued = issue_token(rt, session, user)
    except Unauthorized:
        # The refusal rolled its own transaction back; the failure must still count.
        with transaction() as session:
            record_login_failure(rt, session, credentials.username)
        raise
    return reply({"token": issued.token, "expires_at": issued.expires_at.isoformat()}, 201)


@bp.delete("/token")
@documented("Log out: revoke the token this request carries")
def logout() -> Response:
    rt = runtime()
    token = bearer_token()
    with transaction() as session:
        actor_for_token(rt, session, token)
        revoke_token(rt, session, token)
    return reply({"revoked": True})
