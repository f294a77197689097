"""Measure 4: the sweep's claim of 1,000 due clocks among 10k, 100k (and 1M) running ones.

Only the claim is timed: ``workflow.services.sweep._claim_due``, the query the sweep
runs, against the same claim as one hand-written statement through psycopg. Each
claim runs in a transaction that is rolled back, so the same 1,000 stay due.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import (
    Measure,
    analyze,
    clone_cases,
    log,
    median,
    plain_url,
    ratio,
    register_template,
    rounded,
    runtime_for,
    scalar,
)
from bench.context import Context

DUE = 1000
CLOCKS = """
INSERT INTO clocks (case_id, name, status, opened_at, due_at, unit, length, last_day,
    computation, provisional, escalation_level, suspended_seconds, opened_by_event_id,
    next_step, next_step_at)
SELECT c.ids[g % c.n + 1], 'resolution', 'running', now() - interval '1 day',
    now() + make_interval(secs => {due_secs}), 'days', 60, current_date + 60,
    '{{"start": "2026-01-01T00:00:00+00:00", "unit": "days", "length": 60,
      "rolled_from": null, "calendar": "provisional", "extra": 0}}'::jsonb,
    false, 0, 0, NULL, '{step}', now() + make_interval(secs => {step_secs})
FROM (SELECT array_agg(id) AS ids, count(*) AS n FROM cases) c,
     generate_series({first}, {last}) g
"""
# The columns the sweep reads, as the service's claim selects them.
HAND_CLAIM = (
    "SELECT id, case_id, name, status, opened_at, due_at, unit, length, stopped_at, "
    "escalation_level, next_step, next_step_at, (computation ->> 'extra')::integer AS extra, "
    "computation ->> 'until' AS until FROM clocks "
    "WHERE next_step_at IS NOT NULL AND next_step_at <= %s "
    "ORDER BY next_step_at LIMIT %s FOR UPDATE SKIP LOCKED"
)


def _insert(engine: Any, first: int, last: int, *, due: bool) -> None:
    from sqlalchemy import text

    if due:  # past due for up to ten hours, spread so the ORDER BY has work to do
        sql = CLOCKS.format(
            due_secs="-(g % 36000)",
            step="level1",
            step_secs="-(g % 36000) - 1",
            first=first,
            last=last,
        )
    else:  # due somewhere in the next 60 days
        sql = CLOCKS.format(
            due_secs="(g::bigint * 7919) % 5184000 + 3600",
            step="reminder",
            step_secs="(g::bigint * 7919) % 5184000 + 60",
            first=first,
            last=last,
        )
    with engine.begin() as connection:
        connection.execute(text(sql))


def _time_service(rt: Any, rounds: int) -> list[float]:
    from workflow.services.sweep import _claim_due

    times = []
    for _ in range(rounds + 1):
        with rt.sessions() as session:
            session.begin()
            began = time.perf_counter()
            claimed = _claim_due(rt, session, DUE)
            elapsed = time.perf_counter() - began
            session.rollback()
        assert len(claimed) == DUE, len(claimed)
        times.append(elapsed * 1000)
    return times[1:]  # the first one warms the statement cache


def _time_hand(url: str, rounds: int) -> list[float]:
    from datetime import UTC, datetime

    import psycopg

    times = []
    with psycopg.connect(plain_url(url)) as connection:
        for _ in range(rounds + 1):
            began = time.perf_counter()
            rows = connection.execute(HAND_CLAIM, (datetime.now(UTC), DUE)).fetchall()
            elapsed = time.perf_counter() - began
            connection.rollback()
            assert len(rows) == DUE, len(rows)
            times.append(elapsed * 1000)
    return times[1:]


def run(ctx: Context) -> list[Measure]:
    url = ctx.dbs.fresh("sweep")
    rt = runtime_for(url)
    template = register_template(rt)
    clone_cases(rt.engine, template, 999)
    # The registrations' own clocks are not due; keep only ours in the count.
    with rt.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(text("UPDATE clocks SET next_step = NULL, next_step_at = NULL"))
    _insert(rt.engine, 1, DUE, due=True)
    running_sql = "SELECT count(*) FROM clocks WHERE status = 'running'"
    sizes = ctx.pick([10_000, 100_000], [10_000, 100_000, 1_000_000])
    rounds = ctx.pick(5, 31)  # a claim takes milliseconds: many rounds for a steady median
    have = int(scalar(rt.engine, running_sql))
    service: dict[int, float] = {}
    hand: dict[int, float] = {}
    for size in sizes:
        _insert(rt.engine, have + 1, size, due=False)
        analyze(rt.engine, "clocks")
        running = have = int(scalar(rt.engine, running_sql))
        service[size] = median(_time_service(rt, rounds))
        hand[size] = median(_time_hand(url, rounds))
        log(
            f"sweep claim among {running:,}: service {service[size]:.2f} ms, "
            f"hand-written {hand[size]:.2f} ms"
        )
    rt.engine.dispose()
    ctx.dbs.drop(url)

    out = []
    largest = sizes[-1]
    for size in sizes:
        label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
        is_target = size == 1_000_000
        out.append(
            Measure(
                name=f"sweep_claim_1000_among_{label}",
                value=rounded(service[size], 2),
                unit="ms",
                baseline=rounded(hand[size], 2),
                ratio=ratio(service[size], hand[size]),
                target="≤ 20 ms" if is_target else "— (reported)",
                met=(service[size] <= 20) if is_target else None,
                detail={"running_clocks": size, "due": DUE, "rounds": rounds},
            )
        )
    growth = service[largest] / service[sizes[0]]
    hand_growth = hand[largest] / hand[sizes[0]]
    out.append(
        Measure(
            name=f"sweep_claim_growth_10k_to_{'1M' if largest == 1_000_000 else '100k'}",
            value=round(growth, 3),
            unit="×",
            baseline=round(hand_growth, 3),
            ratio=ratio(growth, hand_growth),
            target="≤ 1.5×" + ("" if largest == 1_000_000 else " (at 1M; 100k here)"),
            met=growth <= 1.5 if largest == 1_000_000 else None,
            detail={"from": sizes[0], "to": largest},
        )
    )
    return out
