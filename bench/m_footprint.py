"""Measure 8: `carnation serve` from a cold start to a healthy `/healthz`, and peak memory.

`carnation serve` runs the web server, the worker, the relay and the scheduler in one
process; its peak RSS (VmHWM) is read after it has served requests and done the
background work of a few hundred transitions. The peaks of the separate `carnation
worker` (measures 2–5) and gunicorn API (measure 6) process trees are reported beside it.
"""

from __future__ import annotations

import http.client
import time
from typing import Any

from bench.common import (
    Measure,
    child_env,
    clone_cases,
    load_actor,
    log,
    median,
    peak_rss_mb,
    python_module,
    register_template,
    rounded,
    runtime_for,
    scalar,
    user_ids,
    wait_until,
)
from bench.context import Context
from bench.load import _service_one
from bench.m_api import _issue_token, free_port, healthy


def _start_serve(ctx: Context, url: str, port: int) -> tuple[Any, float]:
    env = child_env(url, ctx.broker_url)
    began = time.perf_counter()
    process = ctx.procs.start(
        python_module("web.cli", "serve", "--port", str(port), "--host", "127.0.0.1"),
        env,
        "carnation-serve",
    )
    ready = wait_until(
        lambda: process.poll() is None and healthy(port),
        timeout=60,
        interval=0.02,
        what="carnation serve healthy",
    )
    return process, ready - began


def _exercise(rt: Any, port: int, token: str, case_ids: list[int], transitions: int) -> None:
    """Requests and transitions, so the peak includes real work of every part."""
    users = user_ids(rt.engine)
    actor = load_actor(rt, "cw1")
    for case_id in case_ids[:transitions]:
        _service_one(rt, actor, case_id, "accept", {"assignee_id": users["cw1b"]})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    for index, case_id in enumerate(case_ids[:200]):
        path = "/api/v1/cases?per_page=50" if index % 10 == 0 else f"/api/v1/cases/{case_id}"
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}")
    connection.close()
    wait_until(
        lambda: int(scalar(rt.engine, "SELECT count(*) FROM outbox WHERE status = 'pending'")) == 0,
        timeout=120,
        what="the embedded worker drained the outbox",
    )


def run(ctx: Context) -> list[Measure]:
    url = ctx.dbs.fresh("footprint")
    rt = runtime_for(url)
    template = register_template(rt)
    transitions = ctx.pick(100, 500)
    case_ids = clone_cases(rt.engine, template, max(transitions, 200))
    token = _issue_token(rt, "sup_d")
    rounds = ctx.pick(1, 3)
    starts = []
    rss: dict[str, Any] = {}
    for round_index in range(rounds):
        port = free_port()
        process, seconds = _start_serve(ctx, url, port)
        starts.append(seconds)
        log(f"carnation serve healthy after {seconds:.2f} s")
        try:
            if round_index == rounds - 1:
                _exercise(rt, port, token, case_ids, transitions)
                rss = peak_rss_mb(process.pid)
        finally:
            ctx.procs.stop(process)
    rt.engine.dispose()
    ctx.dbs.drop(url)

    cold = median(starts)
    out = [
        Measure(
            name="serve_cold_start_seconds",
            value=rounded(cold, 2),
            unit="s",
            baseline=None,
            ratio=None,
            target="≤ 3 s",
            met=cold <= 3,
            detail={"rounds": [round(x, 2) for x in starts], "until": "GET /healthz answers 200"},
        ),
        Measure(
            name="serve_peak_rss_mb",
            value=rss.get("total_mb"),
            unit="MB",
            baseline=None,
            ratio=None,
            target="≤ 250 MB (web + worker together)",
            met=(rss["total_mb"] <= 250) if rss else None,
            detail={
                "processes": rss.get("processes"),
                "after": f"{transitions} transitions' work and 200 API requests",
                "what": "carnation serve: web, worker, relay and scheduler in one process",
            },
        ),
    ]
    web, worker = ctx.shared.get("web_rss"), ctx.shared.get("worker_rss")
    if web and worker:
        together = round(web["total_mb"] + worker["total_mb"], 1)
        out.append(
            Measure(
                name="split_peak_rss_mb",
                value=together,
                unit="MB",
                baseline=None,
                ratio=None,
                target="— (reported)",
                met=None,
                detail={
                    "web_mb": web["total_mb"],
                    "web_processes": web["processes"],
                    "worker_mb": worker["total_mb"],
                    "worker_processes": worker["processes"],
                    "what": "gunicorn (2 workers) + carnation worker (prefork), summed peaks; "
                    "forked processes share pages, so the sum overstates the real use",
                },
            )
        )
    return out
