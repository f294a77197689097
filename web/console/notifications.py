"""The user's in-app notifications: read them, mark them read."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from web.console.support import acting, roles, runtime
from workflow.services import inbox

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("")
@roles()
def index() -> str:
    with acting() as (session, me):
        items = inbox.notifications(runtime(), session, me)
    return render_template("notifications/index.html", items=items)


@bp.post("/<id:notification_id>/read")
@roles()
def read(notification_id: int) -> Response:
    with acting() as (session, me):
        inbox.mark_read(runtime(), session, me, notification_id)
    return redirect(url_for("console.notifications.index"))


@bp.post("/read-all")
@roles()
def read_all() -> Response:
    with acting() as (session, me):
        inbox.mark_all_read(runtime(), session, me)
    flash(_("All notifications are marked read."), "success")
    return redirect(url_for("console.notifications.index"))
