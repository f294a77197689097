"""Every failure under /api/v1 as `{"error": {"code", "message", "details"}}`, never a 500 page."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from workflow.errors import CarnationError, RateLimited, Unavailable

log = logging.getLogger("carnation.web")

API_PREFIX = "/api/"
# Werkzeug's own refusals (unknown route, wrong method, body too large) in the API's codes.
HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 429: "rate_limited"}
# Infrastructure failures: the transaction rolled back, so "nothing was written" holds.
DATABASE_DOWN = (OperationalError, InterfaceError, DBAPIError, PoolTimeoutError)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response:
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    return response


def _rate_limited(exc: RateLimited) -> Response:
    seconds = max(int(exc.retry_after), 1)
    response = error_response(429, exc.code, exc.message, {"retry_after": seconds})
    response.headers["Retry-After"] = str(seconds)
    return response


def _carnation_error(exc: CarnationError) -> Response:
    if isinstance(exc, RateLimited):
        return _rate_limited(exc)
    response = jsonify(exc.to_dict())
    response.status_code = exc.status
    return response


def _http_error(exc: HTTPException) -> Response | HTTPException:
    if not request.path.startswith(API_PREFIX):
        return exc
    status = exc.code or 400
    code = HTTP_CODES.get(status, "bad_request")
    message = {404: "no such resource", 405: "method not allowed"}.get(
        status, exc.description or exc.name
    )
    response = error_response(status, code, message)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def _database_error(exc: Exception) -> Response:
    # str(exc) would carry the SQL and its parameters (personal data): log the class only.
    log.warning(
        "database unavailable (%s) on %s %s", type(exc).__name__, request.method, request.path
    )
    return _carnation_error(Unavailable())


def _unexpected(exc: Exception) -> Response:
    # The message of an arbitrary exception may quote input; the frames are enough to debug.
    log.error(
        "unhandled %s on %s %s\n%s",
        type(exc).__name__,
        request.method,
        request.path,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    return error_response(500, "internal_error", "an unexpected error occurred")


def init_app(app: Flask) -> None:
    app.register_error_handler(CarnationError, _carnation_error)
    app.register_error_handler(HTTPException, _http_error)
    for kind in DATABASE_DOWN:
        app.register_error_handler(kind, _database_error)
    app.register_error_handler(Exception, _unexpected)
