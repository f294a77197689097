"""Signing in and out, and the language switch."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from web.console.forms import LoginForm
from web.console.i18n import LOCALES, SESSION_KEY
from web.console.support import load_user, runtime, safe_next, session_id, transaction
from workflow.errors import RateLimited, Unauthorized
from workflow.services.auth import authenticate, record_login_failure

bp = Blueprint("session", __name__)


def home_for(role: str) -> str:
    if role == "court_liaison":
        return url_for("console.referrals.inbox")
    if role == "admin":
        return url_for("console.admin.stations")
    return url_for("console.queue.mine")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    target = request.values.get("next")
    if current_user.is_authenticated:
        return redirect(safe_next(target, home_for(current_user.actor.role)))
    form = LoginForm()
    status = 200
    error = None
    if request.method == "POST" and form.validate():
        rt = runtime()
        username = form.username.data.strip()
        try:
            with transaction() as db:
                user = authenticate(rt, db, username, form.password.data)
                identity = session_id(user)
        except Unauthorized:
            # The refusal rolled its transaction back; the failure must still count.
            with transaction() as db:
                record_login_failure(rt, db, username)
            error = _("Wrong username or password.")
            status = 401
        except RateLimited as refused:
            minutes = max(1, (int(refused.retry_after) + 59) // 60)
            error = _(
                "Too many failed sign-ins for this username. Try again in %(minutes)d minutes.",
                minutes=minutes,
            )
            status = 429
        else:
            signed_in = load_user(identity)
            if signed_in is not None:
                language = session.get(SESSION_KEY)
                session.clear()  # a fresh session at every sign-in
                if language:
                    session[SESSION_KEY] = language
                session.permanent = True
                login_user(signed_in)
                return redirect(safe_next(target, home_for(signed_in.actor.role)))
            error = _("Wrong username or password.")
            status = 401
    elif request.method == "POST":
        status = 422
    html = render_template("session/login.html", form=form, error=error, next=target)
    return html, status


@bp.post("/logout")
def logout() -> Response:
    language = session.get(SESSION_KEY)
    logout_user()
    session.clear()
    if language:
        session[SESSION_KEY] = language
    flash(_("You have signed out."), "info")
    return redirect(url_for("console.session.login"))


@bp.post("/language")
def language() -> Response:
    chosen = request.form.get("lang")
    if chosen in LOCALES:
        session[SESSION_KEY] = chosen
    back = request.form.get("next") or url_for("console.home")
    return redirect(safe_next(back, url_for("console.home")))
