"""The DBOS Transact peer, run inside client processes: a two-step durable workflow.

Step 1 (a DBOS transaction) writes the transition's rows: the case with its version
check, the timeline event, the met acceptance clock and the opened resolution clock.
Step 2 (a DBOS transaction) writes the assignee's in-app notification. DBOS
checkpoints the workflow and each step in its system database, which is what makes
it durable: no outbox, no broker.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from bench.load import (
    HAND_CASE,
    HAND_CLOCK_MET,
    HAND_CLOCK_OPEN,
    HAND_EVENT,
    _sleep_until,
)

_STATE: dict[str, Any] = {}

NOTIFY = (
    "INSERT INTO notifications (user_id, case_id, outbox_id, kind, message, link, created_at) "
    "VALUES (:user_id, :case_id, NULL, 'accept', :message, :link, :now)"
)


def _sa(sql: str) -> str:
    """psycopg's %(name)s placeholders as SQLAlchemy's :name."""
    import re

    return re.sub(r"%\((\w+)\)s", r":\1", sql)


def setup(
    app_url: str,
    system_url: str,
    executor: str,
    clock: dict[str, Any],
    actor_id: int,
    assignee_id: int,
) -> bool:
    """Configure and launch DBOS in this process (once)."""
    if _STATE:
        return True
    import logging

    from dbos import DBOS, SQLAlchemyDatasource
    from sqlalchemy import bindparam, text
    from sqlalchemy.dialects.postgresql import JSONB

    logging.getLogger("dbos").setLevel(logging.WARNING)
    DBOS(
        config={
            "name": "carnation-bench-peer",
            "system_database_url": system_url,
            "executor_id": executor,
            "log_level": "WARNING",
        }
    )
    ds = SQLAlchemyDatasource.create(app_url.replace("postgresql://", "postgresql+psycopg://"))
    case_sql = text(_sa(HAND_CASE))
    event_sql = text(_sa(HAND_EVENT)).bindparams(bindparam("data", type_=JSONB))
    met_sql = text(_sa(HAND_CLOCK_MET))
    open_sql = text(_sa(HAND_CLOCK_OPEN)).bindparams(bindparam("computation", type_=JSONB))
    notify_sql = text(NOTIFY)

    @ds.transaction
    def transition(case_id: int) -> int:
        session = ds.sql_session()
        now = datetime.now(UTC)
        params: dict[str, Any] = {
            "id": case_id,
            "version": 1,
            "now": now,
            "assignee": assignee_id,
            "actor": actor_id,
            "data": {"assignee_id": assignee_id},
        }
        seq = session.execute(case_sql, params).scalar_one()
        params["seq"] = seq
        params["event_id"] = session.execute(event_sql, params).scalar_one()
        session.execute(met_sql, params)
        params.update(clock)
        session.execute(open_sql, params)
        return int(params["event_id"])

    @ds.transaction
    def notify(case_id: int, event_id: int) -> None:
        ds.sql_session().execute(
            notify_sql,
            {
                "user_id": assignee_id,
                "case_id": case_id,
                "message": f"case {case_id}: accepted (event {event_id})",
                "link": f"http://localhost:5000/cases/{case_id}",
                "now": datetime.now(UTC),
            },
        )

    @DBOS.workflow()
    def accept_workflow(case_id: int) -> None:
        event_id = transition(case_id)
        notify(case_id, event_id)

    DBOS.launch()
    _STATE["workflow"] = accept_workflow
    return True


def run_workflows(case_ids: list[int], start_at: float) -> dict[str, Any]:
    workflow = _STATE["workflow"]
    warm, ids = case_ids[0], case_ids[1:]
    workflow(warm)
    _sleep_until(start_at)
    began = time.perf_counter()
    for case_id in ids:
        workflow(case_id)
    return {"count": len(ids), "elapsed": time.perf_counter() - began}


def shutdown() -> bool:
    if _STATE:
        from dbos import DBOS

        DBOS.destroy(destroy_registry=True)
        _STATE.clear()
    return True
