"""Measures 2, 3 and 5: the background work done by a real `carnation worker` on Redis.

2. commit of a `refer` → the liaison's notification committed, at idle and under a
   steady 100 transitions/s; baseline: publish → consume of a no-op Celery task.
3. sustained transitions/s whose emitted work is all done; baseline: no-op tasks/s.
5. 10,000 cases breach at once → every level-1 notification committed.

The notification's commit is observed exactly: a trigger on `notifications` (added to
the scratch database only) sends NOTIFY, which PostgreSQL delivers at commit.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bench.clients import Clients
from bench.common import (
    Measure,
    analyze,
    child_env,
    chunks,
    clone_cases,
    load_actor,
    log,
    median,
    peak_rss_mb,
    percentile,
    pg_listening,
    plain_url,
    python_module,
    ratio,
    redis_client,
    register_template,
    rounded,
    runtime_for,
    scalar,
    settings_for,
    user_ids,
    wait_until,
)
from bench.context import Context

CHANNEL = "bench_notification"
TRIGGER = f"""
CREATE OR REPLACE FUNCTION bench_notification_committed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.case_id || ':' || NEW.user_id);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER bench_notification_committed AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION bench_notification_committed();
"""
UNTRIGGER = "DROP TRIGGER IF EXISTS bench_notification_committed ON notifications"
REFER = {"kind": "litigation", "summary": "bench referral", "mediation_declined": True}
BACKGROUND_RATE = 100.0


class Arrivals:
    """Listens for committed notifications; a waiter learns when its (case, user) arrived."""

    def __init__(self, url: str) -> None:
        self.url = plain_url(url)
        self.waiting: dict[str, threading.Event] = {}
        self.arrived: dict[str, float] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Arrivals:
        self.thread.start()
        self._ready.wait(10)
        return self

    def expect(self, key: str) -> threading.Event:
        event = threading.Event()
        self.waiting[key] = event
        return event

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self._ready.set()
            while not self._stop.is_set():
                for note in connection.notifies(timeout=0.2):
                    at = time.perf_counter()
                    event = self.waiting.get(note.payload)
                    if event is not None:
                        self.arrived[note.payload] = at
                        event.set()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)


def _pending(engine: Any) -> int:
    return int(scalar(engine, "SELECT count(*) FROM outbox WHERE status = 'pending'") or 0)


def _start_worker(ctx: Context, url: str, rt: Any) -> Any:
    env = child_env(url, ctx.broker_url, CARNATION_OUTBOX_LEASE_SECONDS="60")
    process = ctx.procs.start(
        python_module(
            "web.cli",
            "worker",
            "--concurrency",
            str(ctx.worker_concurrency),
            "--loglevel",
            "WARNING",
        ),
        env,
        "carnation-worker",
    )
    # Ready when its relay listens: the relay starts on the worker's `worker_ready`.
    wait_until(
        lambda: pg_listening(rt.engine, "carnation_outbox") >= 1,
        timeout=60,
        what="the worker's relay",
    )
    return process


def _start_noop_worker(ctx: Context, url: str) -> Any:
    env = child_env(url, ctx.broker_url)
    process = ctx.procs.start(
        python_module("bench.noop_worker", "--concurrency", str(ctx.worker_concurrency)),
        env,
        "noop-worker",
    )
    return process


def _refer(rt: Any, actor: Any, case_id: int) -> float:
    from workflow.services.cases import trigger_event

    with rt.sessions() as session, session.begin():
        trigger_event(rt, session, actor, case_id, "refer", 1, REFER)
    return time.perf_counter()


def _refer_latencies(
    rt: Any,
    actor: Any,
    arrivals: Arrivals,
    liaison: int,
    case_ids: list[int],
    until: float | None = None,
) -> list[float]:
    latencies = []
    for case_id in case_ids:
        if until is not None and time.time() >= until:
            break
        key = f"{case_id}:{liaison}"
        event = arrivals.expect(key)
        committed = _refer(rt, actor, case_id)
        if not event.wait(30):
            raise TimeoutError(f"no notification for case {case_id} within 30 s")
        latencies.append((arrivals.arrived[key] - committed) * 1000)
        time.sleep(random.uniform(0.01, 0.03))  # not back to back: a new request each time
    return latencies


def _noop_latencies(app: Any, client: Any, count: int) -> list[float]:
    from tasks.app import NOTIFICATIONS

    latencies = []
    for index in range(count):
        key = f"bench:latency:{index}"
        began = time.perf_counter()
        app.send_task("bench.noop", args=["list", key], queue=NOTIFICATIONS)
        if client.blpop([key], timeout=30) is None:
            raise TimeoutError("a no-op task was not consumed within 30 s")
        latencies.append((time.perf_counter() - began) * 1000)
        time.sleep(random.uniform(0.01, 0.03))
    return latencies


def _wave_received_at(rt: Any) -> datetime:
    """A registration time whose acceptance clock is past level 1 but far from level 2."""
    from workflow.services import clocks as clock_service

    with rt.sessions() as session:
        definition = rt.active_workflow(session).definition
        calendar = rt.calendar(session)
    clock_def = definition.clocks["acceptance"]
    rule = clock_def.length_for(
        {
            "risk": "low",
            "category": "marriage_family",
            "referral_kind": None,
            "mandatory_report_duty": False,
        }
    )
    assert rule is not None
    now = datetime.now(UTC)
    for hours in range(14 * 24, 40 * 24, 3):
        opened = now - timedelta(hours=hours)
        deadline = clock_service.deadline_for(
            clock_def, opened, rule.unit, rule.length, 0, calendar, rt.tz
        )
        steps = dict(clock_service.ladder_steps(clock_def, deadline, calendar, rt.tz))
        if steps["level1"] <= now - timedelta(minutes=1) and steps["level2"] > now + timedelta(
            minutes=30
        ):
            return opened
    raise RuntimeError("no registration time puts the clock between level 1 and level 2")


def run(ctx: Context) -> list[Measure]:
    parts = ctx.parts & {2, 3, 5} or {2, 3, 5}
    url = ctx.dbs.fresh("background")
    rt = runtime_for(url, ctx.broker_url)
    users = user_ids(rt.engine)
    liaison = users["liaison"]
    template = register_template(rt)
    cw1 = load_actor(rt, "cw1")
    accept = {"assignee_id": users["cw1b"]}

    n_idle = ctx.pick(30, 300)
    n_load = ctx.pick(30, 300)
    load_seconds = ctx.pick(3.0, 20.0)
    e2e_rounds = ctx.pick(1, 5)
    e2e_count = ctx.pick(300, 3000)
    noop_count = ctx.pick(800, 6000)
    wave_cases = ctx.wave_cases or ctx.pick(500, 10_000)

    refer_ids = clone_cases(rt.engine, template, n_idle + n_load + 10)
    background_ids = clone_cases(rt.engine, template, int(BACKGROUND_RATE * load_seconds) + 20)
    e2e_ids = [clone_cases(rt.engine, template, e2e_count + 4) for _ in range(e2e_rounds)]
    analyze(rt.engine, "cases", "clocks", "case_events")
    with rt.engine.begin() as connection:
        connection.execute(text(TRIGGER))

    out: list[Measure] = []
    arrivals = Arrivals(url).start()
    clients = Clients(4)
    worker = _start_worker(ctx, url, rt)
    idle: list[float] = []
    loaded: list[float] = []
    achieved = None
    e2e_rates: list[float] = []
    wave: dict[str, Any] = {}
    try:
        # Warm the pool children (each compiles the machine on its first task).
        _refer_latencies(rt, cw1, arrivals, liaison, refer_ids[:6])
        if 2 in parts:
            idle, loaded, achieved = _latencies(
                ctx,
                rt,
                cw1,
                arrivals,
                liaison,
                clients,
                url,
                refer_ids[6:],
                background_ids,
                n_idle,
                load_seconds,
                accept,
            )
        with rt.engine.begin() as connection:
            connection.execute(text(UNTRIGGER))
        if 3 in parts:
            e2e_rates = _end_to_end(rt, clients, url, e2e_ids, accept)
            ctx.shared["e2e_rate"] = median(e2e_rates)
        if 5 in parts:
            wave = _wave(ctx, rt, url, wave_cases)
        ctx.shared["worker_rss"] = peak_rss_mb(worker.pid)
    finally:
        ctx.procs.stop(worker)
        arrivals.stop()

    noop: list[float] = []
    noop_rates: list[float] = []
    try:
        if parts & {2, 3}:
            noop, noop_rates = _baselines(
                ctx,
                url,
                clients,
                n_idle if 2 in parts else 0,
                e2e_rounds if 3 in parts else 0,
                noop_count,
            )
    finally:
        clients.run("bench.load:forget", [(url,)] * len(clients))
        clients.close()
    rt.engine.dispose()
    ctx.dbs.drop(url)

    base = {q: percentile(noop, q) for q in (50, 95, 99)}
    for label, samples in (("idle", idle), ("load", loaded)):
        if 2 not in parts:
            break
        for q in (50, 95, 99):
            value = percentile(samples, q)
            limit = {50: 20.0, 99: 100.0}.get(q) if label == "idle" else None
            out.append(
                Measure(
                    name=f"refer_to_notification_p{q}_{label}",
                    value=rounded(value, 1),
                    unit="ms",
                    baseline=rounded(base[q], 1),
                    ratio=ratio(value, base[q]),
                    target=f"≤ {limit:.0f} ms" if limit else "— (reported)",
                    met=(value <= limit) if limit else None,
                    detail={
                        "samples": len(samples),
                        "background_rate": rounded(achieved, 1) if label == "load" else 0,
                        "baseline": "publish → consume of a no-op task, same worker setup, idle",
                        "worker": f"carnation worker --concurrency {ctx.worker_concurrency}",
                    },
                )
            )
    if 3 in parts:
        e2e = median(e2e_rates)
        noop_rate = median(noop_rates)
        out.append(
            Measure(
                name="end_to_end_transitions_per_s",
                value=rounded(e2e, 1),
                unit="transitions/s",
                baseline=rounded(noop_rate, 1),
                ratio=ratio(e2e, noop_rate),
                target="≥ 250/s on 2 cores",
                met=e2e >= 250,
                detail={
                    "transitions_per_round": e2e_count,
                    "rounds": [round(x, 1) for x in e2e_rates],
                    "baseline_rounds": [round(x, 1) for x in noop_rates],
                    "producers": "4 processes (accept, each emitting one notification)",
                    "worker": f"carnation worker --concurrency {ctx.worker_concurrency}",
                },
            )
        )
    if 5 in parts:
        full = wave["cases"] >= 10_000
        out.append(
            Measure(
                name="escalation_wave_seconds",
                value=rounded(wave["seconds"], 2),
                unit="s",
                baseline=None,
                ratio=None,
                target="≤ 30 s" if full else f"≤ 30 s at 10,000 ({wave['cases']} here)",
                met=wave["seconds"] <= 30 if full else None,
                detail={
                    "cases": wave["cases"],
                    "notifications": wave["notifications"],
                    "steps_fired": wave["steps"],
                    "sweep_seconds": rounded(wave["sweep_seconds"], 2),
                    "sweep": "one carnation.sweep_deadlines task, as the scheduler sends it",
                },
            )
        )
    return out


def _latencies(
    ctx: Context,
    rt: Any,
    cw1: Any,
    arrivals: Arrivals,
    liaison: int,
    clients: Clients,
    url: str,
    refer_ids: list[int],
    background_ids: list[int],
    n_idle: int,
    load_seconds: float,
    accept: dict[str, Any],
) -> tuple[list[float], list[float], float | None]:
    idle = _refer_latencies(rt, cw1, arrivals, liaison, refer_ids[:n_idle])
    log(f"latency at idle: p50 {percentile(idle, 50):.1f} ms, p99 {percentile(idle, 99):.1f}")
    start_at = time.time() + 1.0
    holder: list[Any] = []
    args = (url, background_ids, start_at, BACKGROUND_RATE, load_seconds, "cw1", "accept", accept)
    background = threading.Thread(
        target=lambda: holder.append(clients.run("bench.load:paced_transitions", [args])),
        daemon=True,
    )
    background.start()
    time.sleep(max(0.0, start_at - time.time()) + 0.3)
    loaded = _refer_latencies(
        rt, cw1, arrivals, liaison, refer_ids[n_idle:], until=start_at + load_seconds - 0.3
    )
    background.join(timeout=load_seconds + 60)
    achieved = holder[0][0]["rate"] if holder else None
    log(
        f"latency under {achieved or 0:.0f} transitions/s: p50 {percentile(loaded, 50):.1f} ms,"
        f" p99 {percentile(loaded, 99):.1f}"
    )
    wait_until(lambda: _pending(rt.engine) == 0, timeout=120, what="the outbox drained")
    return idle, loaded, achieved


def _end_to_end(
    rt: Any, clients: Clients, url: str, batches: list[list[int]], accept: dict[str, Any]
) -> list[float]:
    rates = []
    for ids in batches:
        slices = chunks(ids, 4)
        start_at = time.time() + 0.6
        results = clients.run(
            "bench.load:service_transitions",
            [(url, s, start_at, None, "cw1", "accept", accept) for s in slices],
        )
        produced = sum(r["count"] for r in results)
        done_at = wait_until(
            lambda: _pending(rt.engine) == 0, timeout=300, interval=0.02, what="the outbox drained"
        )
        # perf_counter is per process; the wall clock is shared: convert once.
        elapsed = time.time() - (time.perf_counter() - done_at) - start_at
        produce_rate = produced / max(r["elapsed"] for r in results)
        rates.append(produced / elapsed)
        log(f"end to end: {rates[-1]:.0f} transitions/s done (produced at {produce_rate:.0f}/s)")
    return rates


def _wave(ctx: Context, rt: Any, url: str, cases: int) -> dict[str, Any]:
    from tasks.app import SWEEP_DEADLINES, create_celery

    wave_template = register_template(rt, received_at=_wave_received_at(rt))
    clone_cases(rt.engine, wave_template, cases - 1)
    analyze(rt.engine, "cases", "clocks", "case_events")
    due = int(
        scalar(
            rt.engine,
            "SELECT count(*) FROM clocks WHERE next_step = 'level1' AND next_step_at <= now()",
        )
    )
    expected = due * 2  # the assignee and the town's supervisor of each village case
    app = create_celery(settings_for(url, ctx.broker_url))
    began = time.perf_counter()
    app.send_task(SWEEP_DEADLINES)
    level1 = "SELECT count(*) FROM notifications WHERE kind = 'level1'"
    swept_at: list[float] = []

    def finished() -> bool:
        if not swept_at and int(scalar(rt.engine, steps_sql)) >= due:
            swept_at.append(time.perf_counter())
        return int(scalar(rt.engine, level1)) >= expected

    steps_sql = "SELECT count(*) FROM escalation_steps"
    done_at = wait_until(finished, timeout=600, interval=0.1, what="every level-1 notification")
    seconds = done_at - began
    steps = int(scalar(rt.engine, steps_sql))
    log(f"wave: {due} clocks → {expected} notifications in {seconds:.1f} s")
    app.close()
    return {
        "cases": due,
        "notifications": expected,
        "steps": steps,
        "seconds": seconds,
        "sweep_seconds": (swept_at[0] - began) if swept_at else None,
    }


def _baselines(
    ctx: Context, url: str, clients: Clients, n_latency: int, rounds: int, count: int
) -> tuple[list[float], list[float]]:
    """The same worker setup with a no-op task: publish → consume latency, tasks/s."""
    from tasks.app import create_celery

    noop_worker = _start_noop_worker(ctx, url)
    client = redis_client(ctx.broker_url)
    app = create_celery(settings_for(url, ctx.broker_url))
    try:
        wait_until(
            lambda: _try_noop(app, client), timeout=60, interval=0.2, what="the no-op worker"
        )
        _noop_latencies(app, client, 6)
        latencies = _noop_latencies(app, client, n_latency)
        rates = []
        for round_index in range(rounds):
            counter = f"bench:count:{round_index}"
            start_at = time.time() + 0.6
            per = count // 4
            clients.run("bench.load:publish_noops", [(ctx.broker_url, per, start_at, counter)] * 4)

            def consumed(counter: str = counter, per: int = per) -> bool:
                return int(client.get(counter) or 0) >= per * 4

            done_at = wait_until(
                consumed,
                timeout=300,
                interval=0.02,
                what="the no-op tasks consumed",
            )
            elapsed = time.time() - (time.perf_counter() - done_at) - start_at
            rates.append(per * 4 / elapsed)
            log(f"no-op tasks: {rates[-1]:.0f}/s")
    finally:
        app.close()
        client.close()
        ctx.procs.stop(noop_worker)
    return latencies, rates


def _try_noop(app: Any, client: Any) -> bool:
    from tasks.app import NOTIFICATIONS

    app.send_task("bench.noop", args=["list", "bench:ping"], queue=NOTIFICATIONS)
    return client.blpop(["bench:ping"], timeout=1) is not None
