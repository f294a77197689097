"""The Flask app factory: settings → runtime → app with the API's blueprints and error answers."""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from flask import Flask

from config.settings import Settings, load_settings
from workflow.runtime import Runtime, bootstrap

MAX_BODY_BYTES = 1024 * 1024
# "GET /api/v1/cases?q=13800138000 HTTP/1.1": the query string may carry a phone number.
_QUERY_STRING = re.compile(r'([^\s?"]+)\?[^\s"]*')


def _path_only(value: Any) -> Any:
    return _QUERY_STRING.sub(r"\1", value) if isinstance(value, str) else value


class PathOnlyAccessLog(logging.Filter):
    """Strips query strings from access-log lines (werkzeug's and gunicorn's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _path_only(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_path_only(arg) for arg in record.args)
        elif isinstance(record.args, MutableMapping):
            # gunicorn's atoms: "r" is the request line, "q" the query, "f" the referrer.
            for key in ("r", "f", "U"):
                if key in record.args:
                    record.args[key] = _path_only(record.args[key])
            if "q" in record.args:
                record.args["q"] = ""
        return True


def _quiet_access_logs() -> None:
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, PathOnlyAccessLog) for f in logger.filters):
            logger.addFilter(PathOnlyAccessLog())


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the app; ``runtime`` (tests: with a movable clock) wins over ``settings``."""
    if runtime is None:
        runtime = bootstrap(settings or load_settings())
    from flask_wtf.csrf import CSRFProtect

    from web import api, console, errors
    from web.jsonprovider import FastJSONProvider

    app = Flask(__name__, instance_path=str(Path(runtime.settings.instance_dir).resolve()))
    app.config.update(
        SECRET_KEY=runtime.settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    app.json = FastJSONProvider(app)  # UTF-8 as it is, keys in the order written
    app.extensions["carnation"] = runtime
    errors.init_app(app)
    # CSRF on every form post; the JSON API authenticates by bearer token, not by a
    # cookie, so its blueprints are exempt.
    csrf = CSRFProtect(app)
    before_api = set(app.blueprints)
    api.init_app(app)
    for name in set(app.blueprints) - before_api:
        csrf.exempt(app.blueprints[name])
    console.init_app(app)  # Flask-Babel, Flask-Login, the console blueprint
    _quiet_access_logs()
    return app
