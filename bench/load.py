"""What the client processes run: transitions through the service, by hand-written SQL, or paced.

Every function waits for ``start_at`` (wall clock, shared by all processes) after its
warm-up, so the clients of one round start together.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

_RUNTIMES: dict[str, Any] = {}
_ACTORS: dict[tuple[str, str], Any] = {}


def _runtime(url: str) -> Any:
    from bench.common import runtime_for

    rt = _RUNTIMES.get(url)
    if rt is None:
        rt = runtime_for(url, pool_size=4, max_overflow=4)
        _RUNTIMES[url] = rt
    return rt


def _actor(url: str, username: str) -> Any:
    from bench.common import load_actor

    key = (url, username)
    if key not in _ACTORS:
        _ACTORS[key] = load_actor(_runtime(url), username)
    return _ACTORS[key]


def forget(url: str) -> bool:
    """Close this process's pool on ``url`` (before the database is dropped)."""
    rt = _RUNTIMES.pop(url, None)
    if rt is not None:
        rt.engine.dispose()
    for key in [k for k in _ACTORS if k[0] == url]:
        del _ACTORS[key]
    return True


def _sleep_until(start_at: float) -> None:
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)


# -- through the transition service ---------------------------------------------------------


def _service_one(rt: Any, actor: Any, case_id: int, event: str, data: dict[str, Any]) -> None:
    from workflow.services.cases import trigger_event

    with rt.sessions() as session, session.begin():
        trigger_event(rt, session, actor, case_id, event, 1, data)


def service_transitions(
    url: str,
    case_ids: list[int],
    start_at: float,
    duration: float | None,
    username: str,
    event: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    """Fire ``event`` on each case (version 1) until the list or ``duration`` ends."""
    rt = _runtime(url)
    actor = _actor(url, username)
    warm, ids = case_ids[0], case_ids[1:]
    _service_one(rt, actor, warm, event, data)  # compiles the machine, loads the calendar
    _sleep_until(start_at)
    began = time.perf_counter()
    end = began + duration if duration else float("inf")
    count = 0
    for case_id in ids:
        if time.perf_counter() >= end:
            break
        _service_one(rt, actor, case_id, event, data)
        count += 1
    return {
        "count": count,
        "elapsed": time.perf_counter() - began,
        "started": began,
        "exhausted": count == len(ids),
    }


def paced_transitions(
    url: str,
    case_ids: list[int],
    start_at: float,
    rate: float,
    duration: float,
    username: str,
    event: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    """A steady background load: ``rate`` transitions per second for ``duration`` seconds."""
    rt = _runtime(url)
    actor = _actor(url, username)
    warm, ids = case_ids[0], case_ids[1:]
    _service_one(rt, actor, warm, event, data)
    _sleep_until(start_at)
    began = time.perf_counter()
    count = 0
    behind = 0
    for index, case_id in enumerate(ids):
        due = began + index / rate
        if due - began >= duration:
            break
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        elif now - due > 0.05:
            behind += 1
        _service_one(rt, actor, case_id, event, data)
        count += 1
    elapsed = time.perf_counter() - began
    return {"count": count, "elapsed": elapsed, "rate": count / elapsed, "late": behind}


# -- by hand-written SQL (the baseline of measure 1) --------------------------------------------

HAND_CASE = (
    "UPDATE cases SET state = 'mediation', version = version + 1, last_seq = last_seq + 1, "
    "assignee_id = %(assignee)s, first_exit_intake_at = COALESCE(first_exit_intake_at, %(now)s), "
    "last_event_at = GREATEST(last_event_at, %(now)s), updated_at = %(now)s "
    "WHERE id = %(id)s AND version = %(version)s AND state = 'intake' RETURNING last_seq"
)
HAND_EVENT = (
    "INSERT INTO case_events (case_id, seq, type, from_state, to_state, actor_id, at, "
    "recorded_at, data) VALUES (%(id)s, %(seq)s, 'accept', 'intake', 'mediation', %(actor)s, "
    "%(now)s, %(now)s, %(data)s) RETURNING id"
)
HAND_CLOCK_MET = (
    "UPDATE clocks SET status = 'met', stopped_at = %(now)s, next_step = NULL, "
    "next_step_at = NULL WHERE case_id = %(id)s AND name = 'acceptance' AND stopped_at IS NULL"
)
HAND_CLOCK_OPEN = (
    "INSERT INTO clocks (case_id, name, status, opened_at, due_at, unit, length, last_day, "
    "computation, provisional, escalation_level, suspended_seconds, opened_by_event_id, "
    "next_step, next_step_at) VALUES (%(id)s, 'resolution', 'running', %(now)s, %(due_at)s, "
    "%(unit)s, %(length)s, %(last_day)s, %(computation)s, false, 0, 0, %(event_id)s, "
    "%(next_step)s, %(next_step_at)s)"
)
HAND_OUTBOX = (
    "INSERT INTO outbox (case_id, event_id, work, payload, status, attempts, available_at, "
    "created_at) VALUES (%(id)s, %(event_id)s, 'notify', %(payload)s, 'pending', 0, "
    "%(now)s, %(now)s)"
)


def hand_transitions(
    url: str,
    case_ids: list[int],
    start_at: float,
    duration: float | None,
    clock: dict[str, Any],
    actor_id: int,
    assignee_id: int,
) -> dict[str, Any]:
    """The same rows as an `accept`, written by five statements in one transaction."""
    import psycopg
    from psycopg.types.json import Jsonb

    from bench.common import plain_url

    connection = psycopg.connect(plain_url(url))

    def one(case_id: int) -> None:
        now = datetime.now(UTC)
        params: dict[str, Any] = {
            "id": case_id,
            "version": 1,
            "now": now,
            "assignee": assignee_id,
            "actor": actor_id,
            "data": Jsonb({"assignee_id": assignee_id}),
        }
        row = connection.execute(HAND_CASE, params).fetchone()
        if row is None:
            raise RuntimeError(f"case {case_id} is not at version 1 in intake")
        params["seq"] = row[0]
        params["event_id"] = connection.execute(HAND_EVENT, params).fetchone()[0]  # type: ignore[index]
        connection.execute(HAND_CLOCK_MET, params)
        params.update(clock)
        params["computation"] = Jsonb(clock["computation"])
        connection.execute(HAND_CLOCK_OPEN, params)
        params["payload"] = Jsonb(
            {
                "case_id": case_id,
                "event_id": params["event_id"],
                "event": "accept",
                "actor_id": actor_id,
                "to": ["assignee"],
                "email": False,
            }
        )
        connection.execute(HAND_OUTBOX, params)
        connection.commit()

    warm, ids = case_ids[0], case_ids[1:]
    one(warm)
    _sleep_until(start_at)
    began = time.perf_counter()
    end = began + duration if duration else float("inf")
    count = 0
    for case_id in ids:
        if time.perf_counter() >= end:
            break
        one(case_id)
        count += 1
    elapsed = time.perf_counter() - began
    connection.close()
    return {"count": count, "elapsed": elapsed, "started": began, "exhausted": count == len(ids)}


# -- no-op Celery tasks (the baselines of measures 2 and 3) ---------------------------------------


def publish_noops(broker_url: str, count: int, start_at: float, counter: str) -> dict[str, Any]:
    """Publish ``count`` no-op tasks through Carnation's Celery configuration."""
    from bench.common import settings_for
    from tasks.app import NOTIFICATIONS, create_celery

    app = create_celery(settings_for("postgresql://unused/unused", broker_url))
    app.send_task("bench.noop", args=["count", counter], queue=NOTIFICATIONS)  # connects
    _sleep_until(start_at)
    began = time.perf_counter()
    for _ in range(count - 1):
        app.send_task("bench.noop", args=["count", counter], queue=NOTIFICATIONS)
    elapsed = time.perf_counter() - began
    app.close()
    return {"count": count, "elapsed": elapsed}


# -- HTTP (the fallback load generator of measure 6 when wrk is not installed) ---------------------


def http_load(
    port: int,
    paths: list[str],
    headers: dict[str, str],
    threads: int,
    start_at: float,
    duration: float,
) -> dict[str, Any]:
    """``threads`` keep-alive clients, each sending requests back to back for ``duration``."""
    import http.client
    import threading

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        index = offset
        _sleep_until(start_at)
        end = time.perf_counter() + duration
        while time.perf_counter() < end:
            path = paths[index % len(paths)]
            index += 1
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - began)
        connection.close()
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client, args=(i * 7,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"latencies": latencies, "errors": errors[0], "duration": duration}
