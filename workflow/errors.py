"""Carnation's domain errors: one base, one subclass per refusal, each with its API code."""

# N818 wants an "Error" suffix; the house style names refusals by their condition
# (InvalidTransition, GuardFailed), matching the API codes, and CarnationError marks them.
# ruff: noqa: N818

from __future__ import annotations

from typing import Any, ClassVar


class CarnationError(Exception):
    """A refusal the API answers as `{"error": {"code", "message", "details"}}`.

    Subclasses fix `code` and `status`; entry points map them to responses without
    knowing each one, and nothing else in the domain raises HTTP-shaped errors.
    """

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "error"

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None) -> None:
        self.message = message if message is not None else self.default_message
        self.details: dict[str, Any] = dict(details) if details else {}
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of the error answer."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(CarnationError):
    code = "bad_request"
    status = 400
    default_message = "the body is not a JSON object"


class Unauthorized(CarnationError):
    code = "unauthorized"
    status = 401
    default_message = "authentication required"


class Forbidden(CarnationError):
    code = "forbidden"
    status = 403
    default_message = "your role may not do this"


class NotFound(CarnationError):
    code = "not_found"
    status = 404
    default_message = "not found"


class VersionConflict(CarnationError):
    code = "version_conflict"
    status = 409
    default_message = "the case has changed since you read it"


class InvalidTransition(CarnationError):
    code = "invalid_transition"
    status = 409
    default_message = "not allowed in the current state"


class ValidationFailed(CarnationError):
    """Field errors: `details == {"fields": {name: message}}`."""

    code = "validation_error"
    status = 422
    default_message = "invalid data"

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        super().__init__(message, {"fields": dict(fields)})
        self.fields = dict(fields)


class GuardFailed(CarnationError):
    """A workflow rule refused the event: `details == {"rule": rule_id}`."""

    code = "guard_failed"
    status = 422
    default_message = "a workflow rule refused the event"

    def __init__(self, rule: str, message: str | None = None) -> None:
        super().__init__(
            message if message is not None else f"refused by rule {rule}", {"rule": rule}
        )
        self.rule = rule


class RateLimited(CarnationError):
    """Too many requests; `retry_after` (seconds) becomes the `Retry-After` header."""

    code = "rate_limited"
    status = 429
    default_message = "too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after


class Unavailable(CarnationError):
    code = "unavailable"
    status = 503
    default_message = "a service this request needs is unavailable; nothing was written"
