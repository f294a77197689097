"""The console: server-rendered pages for station staff, supervisors, liaisons and admins.

`init_app` sets up what the pages need (Flask-Babel, Flask-Login, compiled catalogs,
cookie flags, friendly error pages) and registers the `console` blueprint, whose child
blueprints hold the pages. Every page calls the workflow services; none holds domain
rules of its own.
"""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, g, redirect, render_template, request, url_for
from flask_babel import Babel
from flask_babel import gettext as _
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from web.console import labels
from web.console.i18n import HTML_LANG, compile_catalogs, language, select_locale, signed_in
from web.console.messages import translate
from web.console.support import (
    clock_remaining,
    duration,
    format_local,
    load_user,
    runtime,
)
from web.errors import DATABASE_DOWN
from workflow.errors import CarnationError, NotFound, RateLimited, Unavailable

log = logging.getLogger("carnation.console")

SESSION_HOURS = 12
# Paths the JSON API answers itself, errors included.
API_PATHS = ("/api/", "/healthz", "/metrics")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
}


def init_app(app: Flask) -> None:
    rt = runtime_of(app)
    directory = compile_catalogs(fallback=Path(app.instance_path) / "translations")
    app.config.update(
        BABEL_TRANSLATION_DIRECTORIES=str(directory),
        BABEL_DEFAULT_LOCALE="zh_Hans_CN",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=rt.settings.base_url.lower().startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        # A form stays valid while its session does (an intake can take a long visit).
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
    )
    Babel(app, locale_selector=select_locale)
    logins = LoginManager(app)
    logins.login_view = "console.session.login"
    logins.login_message = None  # the sign-in page says why by itself
    logins.user_loader(load_user)
    app.register_blueprint(build_blueprint())
    _install_error_pages(app)
    app.extensions["carnation.console"] = True


def runtime_of(app: Flask) -> Any:
    return app.extensions["carnation"]


def build_blueprint() -> Blueprint:
    # Imported here: the blueprints belong to the app being built.
    from web.console import admin, cases, notifications, queue, referrals, reports, session

    console = Blueprint("console", __name__)
    for module in (session, queue, cases, referrals, notifications, reports, admin):
        console.register_blueprint(module.bp)

    @console.get("/")
    def home() -> Response:
        if not current_user.is_authenticated:
            return redirect(url_for("console.session.login"))
        return redirect(session.home_for(current_user.actor.role))

    console.before_request(_load_header)
    console.context_processor(_template_context)
    console.add_app_template_filter(_user_option, "user_option")
    console.after_request(_secure_headers)
    console.register_error_handler(Exception, error_page)
    return console


def _template_context() -> dict[str, Any]:
    user = signed_in()
    return {
        "lang": language(),
        "tz_name": runtime().settings.timezone,
        "html_lang": HTML_LANG[language()],
        "labels": labels,
        "label": labels.label,
        "choices": labels.choices,
        "station_options": _station_options,
        "local": format_local,
        "remaining": clock_remaining,
        "duration": duration,
        "me": user.actor if user is not None else None,
        "unread": g.get("unread"),
    }


def _user_option(user: dict[str, Any]) -> tuple[int, str]:
    role = labels.label(labels.ROLES, user["role"])
    return user["id"], f"{user['username']} · {role} · {user['station']}"


def _station_options(stations: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(s["code"], f"{s['code']} · {s['name']}") for s in stations]


def _load_header() -> None:
    """The header's unread count, read before the view opens its transaction.

    On SQLite every transaction takes the write lock, so nothing may open a second one
    while a view's is open (templates are rendered inside it).
    """
    user = signed_in()
    g.unread = None
    if user is None or request.method != "GET":
        return
    from workflow.services.inbox import unread_count

    try:
        with runtime().sessions() as session:
            g.unread = unread_count(session, user.actor)
    except DATABASE_DOWN:
        g.unread = None


def _secure_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        # Pages carry personal data (masked or revealed): never kept in a shared cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# -- friendly error pages ---------------------------------------------------------------------


def _describe(exc: BaseException) -> tuple[int, str, str]:
    """(status, title, explanation) of a refusal or failure, in the reader's language."""
    if isinstance(exc, CSRFError):
        return (
            400,
            _("This form has expired"),
            _(
                "The form was open too long or was not sent from this site. Go back, reload "
                "the page and send it again."
            ),
        )
    if isinstance(exc, RateLimited):
        return 429, _("Too many attempts"), _("Please wait a few minutes and try again.")
    if isinstance(exc, Unavailable) or isinstance(exc, DATABASE_DOWN):
        return (
            503,
            _("The service is unavailable"),
            _("The database cannot be reached just now. Nothing was saved. Try again shortly."),
        )
    status = exc.code if isinstance(exc, HTTPException) and exc.code else 500
    if isinstance(exc, CarnationError):
        status = exc.status
    if isinstance(exc, NotFound) or status == 404:
        return (
            404,
            _("Not found"),
            _("There is no such page, or it is not in your area of work."),
        )
    if status == 403:
        return (
            403,
            _("Not allowed"),
            _("Your role may not open this page or do this."),
        )
    if status == 405:
        return 405, _("Not allowed"), _("This page cannot be used that way.")
    if status == 413:
        return 413, _("Too much data"), _("What was sent is too large.")
    if isinstance(exc, CarnationError) and status < 500:
        return status, _("Not possible"), translate(exc.message)
    if 400 <= status < 500:
        return status, _("Something is wrong with the request"), _("Go back and try again.")
    return (
        500,
        _("Something went wrong"),
        _("An unexpected error occurred. Nothing was saved. The error has been logged."),
    )


def error_page(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, DATABASE_DOWN):
        # str(exc) would carry the SQL and its parameters (personal data): the class only.
        log.warning(
            "database unavailable (%s) on %s %s", type(exc).__name__, request.method, request.path
        )
    elif not isinstance(exc, HTTPException | CarnationError):
        log.error(
            "unhandled %s on %s %s\n%s",
            type(exc).__name__,
            request.method,
            request.path,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
    status, title, text = _describe(exc)
    try:
        html = render_template("errors/error.html", status=status, title=title, text=text)
    except Exception:  # the error page itself must never fail
        log.exception("the error page could not be rendered")
        html = f"<!doctype html><title>{status}</title><h1>{status}</h1>"
    return html, status


def _install_error_pages(app: Flask) -> None:
    """Friendly pages for paths no blueprint answers (/nowhere); the API keeps its JSON."""
    api_handler = app.error_handler_spec[None][None].get(HTTPException)

    def http_error(exc: HTTPException) -> Any:
        if request.path.startswith(API_PATHS):
            return api_handler(exc) if api_handler is not None else exc
        return error_page(exc)

    app.register_error_handler(HTTPException, http_error)
