"""``python -m bench [--quick] [--json] [--only N,...]``: run the measures, print the table."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    DEFAULT_PG,
    DEFAULT_REDIS,
    Databases,
    Measure,
    Processes,
    dumps,
    log,
    machine_facts,
    purge_queues,
)
from bench.context import Context

# Measure number → module. The order runs the cheap, isolated ones first; measure 7
# compares with measure 3, measure 8 reuses the footprints seen by 3 and 6.
MEASURES = {
    1: "bench.m_transitions",
    2: "bench.m_background",  # 2, 3 and 5 share one real worker
    4: "bench.m_sweep",
    6: "bench.m_api",
    7: "bench.m_peer",
    8: "bench.m_footprint",
}
COVERS = {2: (2, 3, 5)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated measure numbers (1-8); 3 and 5 run with 2",
    )
    parser.add_argument(
        "--worker-concurrency", type=int, default=2, help="pool size of the worker processes"
    )
    parser.add_argument(
        "--wave-cases", type=int, default=None, help="cases in the escalation wave (measure 5)"
    )
    parser.add_argument(
        "--load-generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="HTTP load for measure 6: wrk when installed (auto), or Python processes",
    )
    return parser.parse_args(argv)


def selected(only: str) -> list[int]:
    if not only:
        return list(MEASURES)
    wanted = {int(x) for x in only.split(",") if x.strip()}
    chosen = []
    for number in MEASURES:
        if number in wanted or wanted & set(COVERS.get(number, ())):
            chosen.append(number)
    return chosen


def table(measures: list[Measure]) -> str:
    def fmt(value: object) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "NO"
        if isinstance(value, float):
            return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
        return str(value)

    rows = [("measure", "value", "unit", "baseline", "ratio", "target", "met")]
    for m in measures:
        rows.append(
            (m.name, fmt(m.value), m.unit, fmt(m.baseline), fmt(m.ratio), m.target, fmt(m.met))
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(measures: list[Measure]) -> str:
    def fmt(value: object) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "**no**"
        if isinstance(value, float):
            return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
        return str(value)

    lines = [
        "| measure | value | unit | baseline | ratio | target | met |",
        "| --- | ---: | --- | ---: | ---: | --- | --- |",
    ]
    for m in measures:
        lines.append(
            f"| {m.name} | {fmt(m.value)} | {m.unit} | {fmt(m.baseline)} | {fmt(m.ratio)} | "
            f"{m.target} | {fmt(m.met)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base_url = os.environ.get("CARNATION_DATABASE_URL") or DEFAULT_PG
    broker_url = os.environ.get("CARNATION_BROKER_URL") or DEFAULT_REDIS
    log_dir = Path(tempfile.mkdtemp(prefix="carnation-bench-"))
    began = time.monotonic()
    machine = machine_facts(base_url, broker_url)
    dbs = Databases(base_url)
    procs = Processes(log_dir)
    ctx = Context(
        dbs=dbs,
        broker_url=broker_url,
        quick=args.quick,
        procs=procs,
        log_dir=log_dir,
        worker_concurrency=args.worker_concurrency,
        load_generator=args.load_generator,
        parts={int(x) for x in args.only.split(",") if x.strip()},
        wave_cases=args.wave_cases,
    )
    failures: dict[str, str] = {}
    try:
        dbs.make_template()
        for number in selected(args.only):
            module = MEASURES[number]
            log(f"measure {number}: {module}")
            started = time.monotonic()
            try:
                purge_queues(broker_url)
                ctx.measures.extend(importlib.import_module(module).run(ctx))
            except Exception:  # noqa: BLE001 - one failed measure must not lose the others
                failures[str(number)] = traceback.format_exc()
                log(f"measure {number} failed:\n{failures[str(number)]}")
            finally:
                procs.stop_all()
            log(f"measure {number} took {time.monotonic() - started:.1f} s")
    finally:
        procs.stop_all()
        dbs.drop_all()
        purge_queues(broker_url)
    result: dict[str, object] = {
        "machine": machine,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "seconds": round(time.monotonic() - began, 1),
        "measures": [m.as_json() for m in ctx.measures],
        "failures": failures,
        "logs": str(log_dir),
    }
    if args.json:
        print(dumps(result))
    else:
        print(table(ctx.measures))
        print(f"\n{len(ctx.measures)} figures in {result['seconds']} s ({result['mode']} run)")
        for which, trace in failures.items():
            print(f"\nmeasure {which} failed:\n{trace}", file=sys.stderr)
    return 1 if failures else 0
