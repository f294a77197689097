"""Measure 1: transitions committed per second through the service vs hand-written SQL."""

from __future__ import annotations

import time
from typing import Any

from bench.clients import Clients
from bench.common import (
    Measure,
    analyze,
    chunks,
    clone_cases,
    load_actor,
    log,
    median,
    register_template,
    rounded,
    runtime_for,
    user_ids,
)
from bench.context import Context
from bench.load import _service_one

# A first guess of the per-client rate; doubled whenever a client runs out of cases.
START_CAPACITY = 1200


def _resolution_clock(rt: Any, case_id: int) -> dict[str, Any]:
    """The resolution clock an `accept` opens now: the hand-written SQL writes the same row."""
    from sqlalchemy import select

    from workflow.storage.models import ClockInstance

    with rt.sessions() as session:
        clock = session.scalar(
            select(ClockInstance).where(
                ClockInstance.case_id == case_id, ClockInstance.name == "resolution"
            )
        )
        assert clock is not None
        return {
            "due_at": clock.due_at,
            "unit": clock.unit,
            "length": clock.length,
            "last_day": clock.last_day,
            "computation": clock.computation,
            "next_step": clock.next_step,
            "next_step_at": clock.next_step_at,
        }


def run(ctx: Context) -> list[Measure]:
    url = ctx.dbs.fresh("transitions")
    rt = runtime_for(url)
    users = user_ids(rt.engine)
    template = register_template(rt)
    data = {"assignee_id": users["cw1b"]}
    probe = clone_cases(rt.engine, template, 1)[0]
    _service_one(rt, load_actor(rt, "cw1"), probe, "accept", data)
    clock = _resolution_clock(rt, probe)

    rounds = ctx.pick(1, 5)
    duration = ctx.pick(0.7, 3.0)
    capacity = {key: START_CAPACITY for key in ("service", "hand")}
    rates: dict[tuple[str, int], list[float]] = {}
    with Clients(4) as clients:
        for round_index in range(rounds):
            # Alternate the order, so neither side always runs on a warmer database.
            order = ["service", "hand"] if round_index % 2 == 0 else ["hand", "service"]
            for n in (1, 4):
                for impl in order:
                    while True:
                        per_client = int(capacity[impl] * duration) + 1
                        ids = clone_cases(rt.engine, template, per_client * n)
                        analyze(rt.engine, "cases", "clocks")
                        slices = chunks(ids, n)
                        start_at = time.time() + 0.6
                        args: list[tuple[Any, ...]]
                        if impl == "service":
                            args = [
                                (url, s, start_at, duration, "cw1", "accept", data) for s in slices
                            ]
                            results = clients.run("bench.load:service_transitions", args)
                        else:
                            args = [
                                (url, s, start_at, duration, clock, users["cw1"], users["cw1b"])
                                for s in slices
                            ]
                            results = clients.run("bench.load:hand_transitions", args)
                        if any(r["exhausted"] for r in results):
                            capacity[impl] *= 2
                            continue
                        total = sum(r["count"] for r in results)
                        elapsed = max(r["elapsed"] for r in results)
                        rates.setdefault((impl, n), []).append(total / elapsed)
                        break
                    log(
                        f"transitions round {round_index + 1}: {impl} x{n}: "
                        f"{rates[(impl, n)][-1]:.0f}/s"
                    )
        clients.run("bench.load:forget", [(url,)] * len(clients))
    rt.engine.dispose()
    ctx.dbs.drop(url)

    out = []
    for n in (1, 4):
        service = median(rates[("service", n)])
        hand = median(rates[("hand", n)])
        # The ratio is the median of each round's own ratio (the two sides ran seconds
        # apart): on a noisy machine that is steadier than the ratio of the medians.
        per_round = [s / h for s, h in zip(rates[("service", n)], rates[("hand", n)], strict=True)]
        r = round(median(per_round), 3)
        target = "≥ 0.5× baseline" if n == 4 else "— (reported)"
        out.append(
            Measure(
                name=f"transitions_per_s_{n}_client{'s' if n > 1 else ''}",
                value=rounded(service, 1),
                unit="transitions/s",
                baseline=rounded(hand, 1),
                ratio=r,
                target=target,
                met=(r is not None and r >= 0.5) if n == 4 else None,
                detail={
                    "transition": "accept (intake → mediation): case, event, 2 clocks, 1 outbox",
                    "service_rounds": [round(x, 1) for x in rates[("service", n)]],
                    "hand_sql_rounds": [round(x, 1) for x in rates[("hand", n)]],
                    "round_ratios": [round(x, 3) for x in per_round],
                    "ratio": "median of the per-round ratios",
                    "round_seconds": duration,
                    "clients": f"{n} process{'es' if n > 1 else ''}",
                },
            )
        )
    return out
