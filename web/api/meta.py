"""The API's self-description: `GET /api/v1/openapi.json` (public)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from web.api.support import reply
from web.openapi import build_document, documented

bp = Blueprint("meta", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
@documented("This document", public=True)
def openapi() -> Response:
    document = current_app.extensions.get("carnation.openapi")
    if document is None:
        document = current_app.extensions["carnation.openapi"] = build_document(current_app)
    return reply(document)
