"""A court liaison's inbox: referrals to their panel, those awaiting acknowledgement first."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.console.support import acting, clock_remaining, roles, runtime
from workflow.services.queries import referral_inbox

bp = Blueprint("referrals", __name__)


@bp.get("/referrals")
@roles("court_liaison")
def inbox() -> str:
    with acting() as (session, me):
        items = referral_inbox(runtime(), session, me)
    rows = []
    for item in items:
        case = item["case"]
        clock = next(
            (
                c
                for c in case["clocks"]
                if c["stopped_at"] is None
                and c["clock"] in ("acknowledgement", "protection_order_decision", "court_outcome")
            ),
            None,
        )
        rows.append({**item, "clock": clock, "left": clock_remaining(clock) if clock else None})
    awaiting = [r for r in rows if r["referral"]["status"] == "awaiting"]
    others = [r for r in rows if r["referral"]["status"] != "awaiting"]
    return render_template("referrals/inbox.html", awaiting=awaiting, others=others)
