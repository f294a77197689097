"""The background work made visible: notifications, escalations and dead letters."""

from __future__ import annotations

from flask import Blueprint, Response

from web.api.support import acting, query, reply, runtime
from web.openapi import documented
from web.schemas import NotificationsQuery
from workflow.services import inbox, outbox
from workflow.services.admin import require_admin

bp = Blueprint("work", __name__, url_prefix="/api/v1")


@bp.get("/notifications")
@documented("The user's in-app notifications, newest first", query=NotificationsQuery)
def notifications() -> Response:
    unread = query(NotificationsQuery).unread
    with acting() as (session, actor):
        return reply(inbox.notifications(runtime(), session, actor, unread_only=unread))


@bp.post("/notifications/<id:notification_id>/read")
@documented("Mark one of the user's notifications read")
def mark_read(notification_id: int) -> Response:
    with acting() as (session, actor):
        return reply(inbox.mark_read(runtime(), session, actor, notification_id))


@bp.get("/escalations")
@documented("Open escalations of the cases in the user's scope")
def escalations() -> Response:
    with acting() as (session, actor):
        return reply(inbox.escalations(runtime(), session, actor))


@bp.get("/admin/dead-letters")
@documented("Background work that failed for good (administrators)")
def dead_letters() -> Response:
    with acting() as (session, actor):
        require_admin(actor)
        return reply(outbox.dead_letters(runtime(), session))


@bp.post("/admin/dead-letters/<id:outbox_id>/retry")
@documented("Hand a dead letter out again (administrators)")
def retry_dead_letter(outbox_id: int) -> Response:
    with acting() as (session, actor):
        require_admin(actor)
        outbox.retry_dead_letter(runtime(), session, outbox_id)
        return reply({"id": outbox_id, "status": "pending"})
