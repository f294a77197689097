"""Who am I, the stations and users in my scope, and a liaison's referral inbox."""

from __future__ import annotations

from flask import Blueprint, Response

from web.api.support import acting, query, reply, runtime
from web.openapi import documented
from web.schemas import UsersQuery
from workflow.services.admin import stations_in_scope, users_in_scope
from workflow.services.queries import referral_inbox

bp = Blueprint("directory", __name__, url_prefix="/api/v1")


@bp.get("/me")
@documented("The user this token belongs to")
def me() -> Response:
    with acting() as (_session, actor):
        return reply(
            {
                "id": actor.id,
                "username": actor.username,
                "role": actor.role,
                "station": actor.station_code,
                "language": actor.language,
            }
        )


@bp.get("/stations")
@documented("The stations in the user's scope (administrators: all)")
def stations() -> Response:
    with acting() as (session, actor):
        return reply(stations_in_scope(session, actor))


@bp.get("/users")
@documented("Active users in the user's scope, for assignment", query=UsersQuery)
def users() -> Response:
    with acting() as (session, actor):
        station = query(UsersQuery).station
        return reply(users_in_scope(session, actor, station))


@bp.get("/referrals")
@documented("A court liaison's inbox: referrals to their panel, awaiting ones first")
def referrals() -> Response:
    rt = runtime()
    with acting() as (session, actor):
        return reply(referral_inbox(rt, session, actor))
