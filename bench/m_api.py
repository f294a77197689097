"""Measure 6: the API under 16 concurrent clients on gunicorn.

The real API (``web.wsgi:app``) and a minimal Flask endpoint doing one primary-key
SELECT (``bench.minimal_app:app``) run side by side under the same gunicorn settings
as `carnation web` (2 workers of 2 threads, gthread sharing kept-alive connections
evenly: `web/gunicorn_worker.py`); the load comes from `wrk`
when installed (C, cheap on a shared machine), else from Python client processes.
"""

from __future__ import annotations

import http.client
import json
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.clients import Clients
from bench.common import (
    Measure,
    analyze,
    child_env,
    clone_cases,
    log,
    median,
    peak_rss_mb,
    percentile,
    python_module,
    ratio,
    register_template,
    rounded,
    runtime_for,
    station_rows,
    wait_until,
)
from bench.context import Context
from tasks.processes import WEB_THREADS, WEB_WORKER_CLASS

CONNECTIONS = 16
# As `carnation web` runs it (`tasks.processes.run_web`).
GUNICORN = ["--workers", "2", "--worker-class", WEB_WORKER_CLASS, "--threads", str(WEB_THREADS)]
LUA = """
local paths = {%(paths)s}
local counter = math.random(1, #paths)
wrk.headers["Authorization"] = "%(auth)s"
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "errors": %%d, "non2xx": %%d, ' ..
    '"p50": %%d, "p95": %%d, "p99": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthy(port: int, path: str = "/healthz") -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        status = connection.getresponse().status
        connection.close()
        return status == 200
    except OSError:
        return False


def _issue_token(rt: Any, username: str) -> str:
    from sqlalchemy import select

    from workflow.services.auth import issue_token
    from workflow.storage.models import User

    with rt.sessions() as session, session.begin():
        user = session.scalar(select(User).where(User.username == username))
        return issue_token(rt, session, user).token


def _check(port: int, path: str, token: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")


def _wrk(port: int, paths: list[str], token: str, seconds: float) -> dict[str, Any]:
    script = LUA % {
        "paths": ", ".join(json.dumps(p) for p in paths),
        "auth": f"Bearer {token}",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = handle.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{CONNECTIONS}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                path,
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    finally:
        Path(path).unlink(missing_ok=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures: {out.stdout[-500:]} {out.stderr[-500:]}")
    figures = json.loads(line[6:])
    return {
        "rps": figures["requests"] / (figures["duration_us"] / 1e6),
        "p50": figures["p50"] / 1000,
        "p95": figures["p95"] / 1000,
        "p99": figures["p99"] / 1000,
        "errors": figures["errors"] + figures["non2xx"],
    }


def _python_load(
    clients: Clients, port: int, paths: list[str], token: str, seconds: float
) -> dict[str, Any]:
    start_at = time.time() + 0.5
    per = CONNECTIONS // len(clients)
    headers = {"Authorization": f"Bearer {token}"}
    results = clients.run(
        "bench.load:http_load",
        [(port, paths, headers, per, start_at, seconds)] * len(clients),
    )
    latencies = [x * 1000 for r in results for x in r["latencies"]]
    return {
        "rps": len(latencies) / seconds,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "errors": sum(r["errors"] for r in results),
    }


def run(ctx: Context) -> list[Measure]:
    url = ctx.dbs.fresh("api")
    rt = runtime_for(url)
    total = ctx.pick(10_000, 100_000)
    stations = station_rows(rt.engine)
    template = register_template(rt)
    villages = [stations[code] for code in ("V001", "V002", "V003")]
    ids = clone_cases(rt.engine, template, total - 1, stations=villages, spread_seconds=True)
    analyze(rt.engine, "cases", "clocks", "case_events")
    token = _issue_token(rt, "sup_d")  # a district supervisor: every case is in scope
    sample = random.Random(7).sample(ids, 200)
    case_paths = [f"/api/v1/cases/{i}" for i in sample]
    base_paths = [f"/case/{i}" for i in sample]
    list_paths = ["/api/v1/cases?per_page=50"]

    env = child_env(url, ctx.broker_url)
    web_port, base_port = free_port(), free_port()
    web = ctx.procs.start(
        python_module("gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{web_port}", "web.wsgi:app"),
        env,
        "gunicorn-web",
    )
    base = ctx.procs.start(
        python_module(
            "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{base_port}", "bench.minimal_app:app"
        ),
        env,
        "gunicorn-minimal",
    )
    use_wrk = ctx.load_generator == "wrk" or (
        ctx.load_generator == "auto" and shutil.which("wrk") is not None
    )
    clients = None if use_wrk else Clients(2)
    seconds = ctx.pick(1.0, 5.0)
    rounds = ctx.pick(1, 5)

    def load(port: int, paths: list[str], secs: float) -> dict[str, Any]:
        if use_wrk:
            return _wrk(port, paths, token, secs)
        assert clients is not None
        return _python_load(clients, port, paths, token, secs)

    figures: dict[str, list[dict[str, Any]]] = {"get": [], "list": [], "base": []}
    try:
        wait_until(lambda: healthy(web_port), timeout=60, interval=0.1, what="gunicorn (API)")
        wait_until(lambda: healthy(base_port), timeout=60, interval=0.1, what="gunicorn (base)")
        _check(web_port, case_paths[0], token)
        _check(web_port, list_paths[0], token)
        _check(base_port, base_paths[0], token)
        warm = ctx.pick([(web_port, case_paths)], [(base_port, base_paths), (web_port, case_paths)])
        for port, paths in warm:
            load(port, paths, 1.0)  # warm the workers' pools and caches
        for round_index in range(rounds):
            figures["base"].append(load(base_port, base_paths, seconds))
            figures["get"].append(load(web_port, case_paths, seconds))
            figures["list"].append(load(web_port, list_paths, seconds))
            log(
                f"api round {round_index + 1}: GET {figures['get'][-1]['rps']:.0f}/s, "
                f"list {figures['list'][-1]['rps']:.0f}/s "
                f"(p95 {figures['list'][-1]['p95']:.1f} ms), "
                f"baseline {figures['base'][-1]['rps']:.0f}/s"
            )
        ctx.shared["web_rss"] = peak_rss_mb(web.pid)
    finally:
        ctx.procs.stop(web)
        ctx.procs.stop(base)
        if clients is not None:
            clients.close()
    rt.engine.dispose()
    ctx.dbs.drop(url)

    def med(kind: str, key: str) -> float:
        return median([f[key] for f in figures[kind]])

    errors = sum(f["errors"] for group in figures.values() for f in group)
    common = {
        "cases": total,
        "clients": CONNECTIONS,
        "server": "gunicorn " + " ".join(GUNICORN),
        "load_generator": "wrk" if use_wrk else "python http.client processes",
        "round_seconds": seconds,
        "errors": errors,
    }
    get_rps, base_rps = med("get", "rps"), med("base", "rps")
    # Each round ran the baseline and the API back to back: the median of the per-round
    # ratios is steadier on a noisy machine than the ratio of the medians.
    get_ratio = round(
        median([g["rps"] / b["rps"] for g, b in zip(figures["get"], figures["base"], strict=True)]),
        3,
    )
    list_p95, base_p95 = med("list", "p95"), med("base", "p95")
    return [
        Measure(
            name="api_get_case_rps",
            value=rounded(get_rps, 1),
            unit="requests/s",
            baseline=rounded(base_rps, 1),
            ratio=get_ratio,
            target="≥ 0.4× baseline",
            met=get_ratio >= 0.4,
            detail={
                **common,
                "ratio": "median of the per-round ratios",
                "round_ratios": [
                    round(g["rps"] / b["rps"], 3)
                    for g, b in zip(figures["get"], figures["base"], strict=True)
                ],
                "p50_ms": rounded(med("get", "p50")),
                "p95_ms": rounded(med("get", "p95")),
                "p99_ms": rounded(med("get", "p99")),
            },
        ),
        Measure(
            name="api_list_50_p95",
            value=rounded(list_p95, 2),
            unit="ms",
            baseline=rounded(base_p95, 2),
            ratio=ratio(list_p95, base_p95),
            target="≤ 30 ms",
            met=list_p95 <= 30,
            detail={
                **common,
                "rps": rounded(med("list", "rps"), 1),
                "baseline_rps": rounded(base_rps, 1),
                "p50_ms": rounded(med("list", "p50")),
                "p99_ms": rounded(med("list", "p99")),
            },
        ),
    ]
