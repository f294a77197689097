"""The JSON API under /api/v1 (and /healthz): blueprints registered by `init_app`."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter


class RecordIdConverter(IntegerConverter):
    """A database id: 1 to 2**63 - 1; anything else is not a route (404), never an overflow."""

    def __init__(self, map, min: int = 1, max: int = 2**63 - 1) -> None:  # noqa: A002
        super().__init__(map, min=min, max=max)


def init_app(app: Flask) -> None:
    # Imported here, not at module level: the blueprints belong to the app being built.
    from web.api import auth, cases, configuration, directory, health, meta, metrics, reports, work

    app.url_map.converters["id"] = RecordIdConverter
    for module in (auth, cases, directory, reports, configuration, meta, health, work, metrics):
        app.register_blueprint(module.bp)
