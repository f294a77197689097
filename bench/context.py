"""The run's shared state: where the databases and the broker are, how big, what came out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import Databases, Measure, Processes


@dataclass
class Context:
    dbs: Databases
    broker_url: str
    quick: bool
    procs: Processes
    log_dir: Path
    worker_concurrency: int = 2
    load_generator: str = "auto"  # auto | wrk | python (measure 6)
    parts: set[int] = field(default_factory=set)  # measures asked for with --only
    wave_cases: int | None = None  # measure 5's size (default: 10,000; --quick 500)
    # Figures one measure hands to another (measure 7 compares with measure 3's throughput).
    shared: dict[str, Any] = field(default_factory=dict)
    measures: list[Measure] = field(default_factory=list)

    def pick(self, quick: Any, full: Any) -> Any:
        return quick if self.quick else full
