"""The benchmark keeps working: `python -m bench --quick --json` runs and reports every measure.

Nothing is asserted about time: CI machines are shared and noisy; the figures that
matter come from a full run (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import PG_ADMIN_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[1]
MEASURE_KEYS = {"name", "value", "unit", "baseline", "ratio", "target", "met"}
EXPECTED = {
    "transitions_per_s_1_client",
    "transitions_per_s_4_clients",
    "refer_to_notification_p50_idle",
    "refer_to_notification_p99_idle",
    "refer_to_notification_p50_load",
    "end_to_end_transitions_per_s",
    "escalation_wave_seconds",
    "sweep_claim_1000_among_10k",
    "api_get_case_rps",
    "api_list_50_p95",
    "peer_dbos_throughput_ratio",
    "serve_cold_start_seconds",
    "serve_peak_rss_mb",
}


@pytest.mark.postgres
@pytest.mark.redis
def test_the_quick_benchmark_reports_every_measure_as_json() -> None:
    env = {
        **os.environ,
        "CARNATION_DATABASE_URL": PG_ADMIN_URL,
        "CARNATION_BROKER_URL": REDIS_URL,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)

    machine = result["machine"]
    for key in ("cpu_model", "cores", "python", "postgresql", "redis", "packages"):
        assert key in machine, key
    assert result["failures"] == {}

    measures = result["measures"]
    names = {m["name"] for m in measures}
    assert EXPECTED <= names, EXPECTED - names
    for measure in measures:
        assert MEASURE_KEYS <= set(measure), measure
        assert isinstance(measure["name"], str) and isinstance(measure["unit"], str)
        assert isinstance(measure["target"], str)
        assert measure["met"] in (True, False, None)
        for key in ("value", "baseline", "ratio"):
            assert measure[key] is None or isinstance(measure[key], int | float), (key, measure)
    # Every figure the run could take is a number (the peer's baseline needs dbos installed).
    for measure in measures:
        if measure["name"] != "peer_dbos_throughput_ratio":
            assert measure["value"] is not None, measure
