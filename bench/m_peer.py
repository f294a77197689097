"""Measure 7: a durable-workflow peer, DBOS Transact, doing the same work on the same PostgreSQL.

The peer runs an `accept` as a two-step workflow (transition, then notify) from four
client processes, the same producers as Carnation's end-to-end figure (measure 3);
the ratio is Carnation's end-to-end transitions/s over the peer's workflows/s.
"""

from __future__ import annotations

import importlib.util
import time

from bench.clients import Clients
from bench.common import (
    Measure,
    analyze,
    chunks,
    clone_cases,
    load_actor,
    log,
    median,
    ratio,
    register_template,
    rounded,
    runtime_for,
    scalar,
    user_ids,
)
from bench.context import Context
from bench.load import _service_one
from bench.m_transitions import _resolution_clock

CLIENTS = 4


def run(ctx: Context) -> list[Measure]:
    carnation = ctx.shared.get("e2e_rate")
    name = "peer_dbos_throughput_ratio"
    target = "Carnation ≥ 10× the peer"
    if importlib.util.find_spec("dbos") is None:
        return [
            Measure(
                name=name,
                value=rounded(carnation, 1),
                unit="transitions/s",
                baseline=None,
                ratio=None,
                target=target,
                met=None,
                detail={"skipped": "dbos is not installed (pip install dbos)"},
            )
        ]
    from importlib import metadata

    url = ctx.dbs.fresh("peer")
    system_url = ctx.dbs._create(f"{ctx.dbs.prefix}_dbos_sys")
    rt = runtime_for(url)
    users = user_ids(rt.engine)
    template = register_template(rt)
    probe = clone_cases(rt.engine, template, 1)[0]
    _service_one(rt, load_actor(rt, "cw1"), probe, "accept", {"assignee_id": users["cw1b"]})
    clock = _resolution_clock(rt, probe)
    rounds = ctx.pick(1, 5)
    per_round = ctx.pick(300, 2000)
    batches = [clone_cases(rt.engine, template, per_round + CLIENTS) for _ in range(rounds)]
    analyze(rt.engine, "cases", "clocks")

    rates = []
    with Clients(CLIENTS) as clients:
        setup = [
            (url, system_url, f"bench-{i}", clock, users["cw1"], users["cw1b"])
            for i in range(CLIENTS)
        ]
        clients.run("bench.peer:setup", setup[:1])  # creates DBOS's tables once
        clients.run("bench.peer:setup", setup)
        for ids in batches:
            start_at = time.time() + 0.6
            results = clients.run(
                "bench.peer:run_workflows", [(s, start_at) for s in chunks(ids, CLIENTS)]
            )
            count = sum(r["count"] for r in results)
            rates.append(count / max(r["elapsed"] for r in results))
            log(f"DBOS peer: {rates[-1]:.0f} workflows/s")
        clients.run("bench.peer:shutdown", [()] * CLIENTS)
    notified = int(scalar(rt.engine, "SELECT count(*) FROM notifications"))
    rt.engine.dispose()
    ctx.dbs.drop(url)
    ctx.dbs.drop(system_url)

    peer = median(rates)
    r = ratio(carnation, peer)
    return [
        Measure(
            name=name,
            value=rounded(carnation, 1),
            unit="transitions/s",
            baseline=rounded(peer, 1),
            ratio=r,
            target=target,
            met=(r >= 10) if r is not None else None,
            detail={
                "value": "Carnation end to end (measure 3)",
                "baseline": "DBOS workflows/s: transition step, then notify step, both done",
                "peer_rounds": [round(x, 1) for x in rates],
                "workflows_per_round": per_round,
                "notifications_written": notified,
                "dbos": metadata.version("dbos"),
                "clients": f"{CLIENTS} processes",
            },
        )
    ]
