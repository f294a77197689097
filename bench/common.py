"""What every measure needs: scratch databases, a seeded network, bulk loads, processes, stats."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
SECRET_KEY = "bench-secret-key"
ENCRYPTION_KEYS = ("kb1:bench-encryption-key-0123456789abcdef",)
PASSWORD = "bench-pass-1"
CELERY_QUEUES = ("notifications", "deadlines", "carnation")

STATIONS = [
    ("D01", "区妇联", "district", None),
    ("T01", "城关镇妇联", "town", "D01"),
    ("T02", "河口镇妇联", "town", "D01"),
    ("V001", "东村维权服务站", "village", "T01"),
    ("V002", "西村维权服务站", "village", "T01"),
    ("V003", "南村维权服务站", "village", "T02"),
    ("C01", "区法院妇女维权合议庭", "court", None),
]
USERS = [
    ("cw1", "caseworker", "V001"),
    ("cw1b", "caseworker", "V001"),
    ("cw2", "caseworker", "V002"),
    ("cw3", "caseworker", "V003"),
    ("sup_t1", "supervisor", "T01"),
    ("sup_t2", "supervisor", "T02"),
    ("sup_d", "supervisor", "D01"),
    ("liaison", "court_liaison", "C01"),
    ("admin", "admin", "D01"),
]


def log(message: str) -> None:
    """Progress goes to stderr, so ``--json`` keeps stdout to the one JSON object."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- results and statistics ---------------------------------------------------------------


@dataclass
class Measure:
    """One figure beside its same-run baseline; ``ratio`` is value / baseline."""

    name: str
    value: float | None
    unit: str
    baseline: float | None
    ratio: float | None
    target: str
    met: bool | None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None or baseline == 0:
        return None
    return round(value / baseline, 3)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rounded(value: float | None, digits: int = 2) -> float | None:
    if value is None or value != value:  # NaN
        return None
    return round(value, digits)


# -- URLs and scratch databases ---------------------------------------------------------------


def sqlalchemy_url(url: str | URL) -> URL:
    parsed = make_url(str(url)) if not isinstance(url, URL) else url
    return parsed.set(drivername="postgresql+psycopg")


def plain_url(url: str | URL) -> str:
    """``postgresql://...`` for psycopg, child processes and DBOS."""
    parsed = make_url(str(url)) if not isinstance(url, URL) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class Databases:
    """Scratch databases on the server of ``base_url``: a seeded template, copies per measure.

    Each measure gets its own copy (``CREATE DATABASE … TEMPLATE``, a file copy), so
    the rows, the pending work and the bloat of one measure never weigh on the next.
    """

    def __init__(self, base_url: str) -> None:
        self.base = sqlalchemy_url(base_url)
        self.prefix = f"carnation_bench_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []
        self.template_name = f"{self.prefix}_tmpl"
        self._admin: Engine | None = None

    def admin(self) -> Engine:
        if self._admin is None:
            self._admin = create_engine(self.base, isolation_level="AUTOCOMMIT")
        return self._admin

    def url(self, name: str) -> str:
        return plain_url(self.base.set(database=name))

    def _create(self, name: str, template: str | None = None) -> str:
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin().connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        self.created.append(name)
        return self.url(name)

    def make_template(self) -> str:
        """Create, migrate and seed the template database (stations and users)."""
        url = self._create(self.template_name)
        from workflow.storage.migrate import upgrade

        rt = runtime_for(url)
        upgrade(rt.engine)
        seed_network(rt)
        rt.engine.dispose()
        return url

    def fresh(self, label: str) -> str:
        return self._create(f"{self.prefix}_{label}", template=self.template_name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin().connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(reversed(self.created)):
            with contextlib.suppress(Exception):
                self.drop(self.url(name))
        if self._admin is not None:
            self._admin.dispose()


# -- settings, runtimes and the seeded network ---------------------------------------------------


def settings_for(url: str, broker_url: str | None = None, **extra: Any) -> Any:
    from config.settings import Settings

    return Settings(
        database_url=plain_url(url),
        secret_key=SECRET_KEY,
        encryption_keys=ENCRYPTION_KEYS,
        broker_url=broker_url,
        instance_dir=Path(tempfile.gettempdir()) / "carnation-bench",
        **extra,
    )


def runtime_for(url: str, broker_url: str | None = None, **engine_kwargs: Any) -> Any:
    from workflow.runtime import bootstrap
    from workflow.storage.db import make_engine

    settings = settings_for(url, broker_url)
    engine = make_engine(settings.database_url, **engine_kwargs)
    return bootstrap(settings, engine=engine)


def seed_network(rt: Any) -> dict[str, int]:
    from workflow.services import admin
    from workflow.services.auth import hash_password

    shared_hash = hash_password(PASSWORD)
    users = {}
    with rt.sessions() as session, session.begin():
        rt.active_workflow(session)
        for code, name, kind, parent in STATIONS:
            admin.create_station(session, code, name, kind, parent)
        for username, role, station in USERS:
            user = admin.create_user(
                session,
                rt,
                username,
                role,
                station,
                PASSWORD,
                email=None,
                password_hash=shared_hash,
            )
            users[username] = user.id
    return users


def user_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT username, id FROM users")).all()
    return {name: int(uid) for name, uid in rows}


def station_rows(engine: Engine) -> dict[str, tuple[int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT code, id, path FROM stations")).all()
    return {code: (int(sid), path) for code, sid, path in rows}


def load_actor(rt: Any, username: str) -> Any:
    from sqlalchemy import select

    from workflow.services.actors import load_actor as load
    from workflow.storage.models import User

    with rt.sessions() as session, session.begin():
        uid = session.scalar(select(User.id).where(User.username == username))
        actor = load(session, uid)
    assert actor is not None, username
    return actor


def registration(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "channel": "visit",
        "category": "marriage_family",
        "risk": "low",
        "complainant": {
            "name": "张小红",
            "phone": "13812341234",
            "id_number": "110101199001011234",
            "address": "东村三组12号",
            "is_minor": False,
            "consents_to_sms": False,
        },
        "respondent": {"name": "王大力", "relation": "spouse"},
        "summary": "丈夫长期不给生活费，要求调解",
    }
    payload.update(overrides)
    return payload


def register_template(rt: Any, username: str = "cw1", **overrides: Any) -> int:
    """One complaint registered through the service: the model that bulk loads copy."""
    from workflow.services.cases import register_case

    actor = load_actor(rt, username)
    with rt.sessions() as session, session.begin():
        case = register_case(rt, session, actor, registration(**overrides))
        return int(case.id)


_CLONE_TAG = iter(range(1, 1_000_000))


def _columns(table: str) -> list[str]:
    from workflow.storage.models import Base

    return [c.name for c in Base.metadata.tables[table].columns if c.name != "id"]


def clone_cases(
    engine: Engine,
    template_id: int,
    count: int,
    *,
    stations: Sequence[tuple[int, str]] | None = None,
    spread_seconds: bool = False,
) -> list[int]:
    """Copy a registered case ``count`` times in one statement (its events and clocks too).

    ``stations`` spreads the copies over several stations; ``spread_seconds`` moves each
    copy's ``received_at`` one second further back, so listings have a real order.
    """
    tag = next(_CLONE_TAG)
    case_columns = _columns("cases")
    expressions = []
    for column in case_columns:
        if column == "number":
            expressions.append(f"t.number || '-B{tag}-' || g")
        elif column == "station_id" and stations:
            station_ids = ",".join(str(sid) for sid, _ in stations)
            expressions.append(f"(ARRAY[{station_ids}]::bigint[])[g % {len(stations)} + 1]")
        elif column == "station_path" and stations:
            paths = ",".join(f"'{path}'" for _, path in stations)
            expressions.append(f"(ARRAY[{paths}]::varchar[])[g % {len(stations)} + 1]")
        elif column in ("received_at", "last_event_at") and spread_seconds:
            expressions.append(f"t.{column} - make_interval(secs => g)")
        else:
            expressions.append(f"t.{column}")
    event_columns = [c for c in _columns("case_events") if c != "case_id"]
    clock_columns = [c for c in _columns("clocks") if c != "case_id"]
    statement = f"""
        WITH new AS (
            INSERT INTO cases ({", ".join(case_columns)})
            SELECT {", ".join(expressions)}
            FROM cases t
            CROSS JOIN generate_series(CAST(:first AS integer), CAST(:last AS integer)) g
            WHERE t.id = :tid
            RETURNING id
        ), events AS (
            INSERT INTO case_events (case_id, {", ".join(event_columns)})
            SELECT new.id, {", ".join("e." + c for c in event_columns)}
            FROM new CROSS JOIN case_events e WHERE e.case_id = :tid
        ), clocks AS (
            INSERT INTO clocks (case_id, {", ".join(clock_columns)})
            SELECT new.id, {", ".join("k." + c for c in clock_columns)}
            FROM new CROSS JOIN clocks k WHERE k.case_id = :tid
        )
        SELECT id FROM new
    """
    ids: list[int] = []
    chunk = 50_000
    with engine.begin() as connection:
        done = 0
        while done < count:
            n = min(chunk, count - done)
            params = {"first": done + 1, "last": done + n, "tid": template_id}
            rows = connection.execute(text(statement), params).all()
            ids.extend(int(r[0]) for r in rows)
            done += n
    return ids


def analyze(engine: Engine, *tables: str) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM ANALYZE {', '.join(tables)}" if tables else "ANALYZE"))


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def wait_until(
    condition: Callable[[], bool], timeout: float, interval: float = 0.05, what: str = "condition"
) -> float:
    """Poll until ``condition``; returns the time it became true (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while True:
        if condition():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


# -- processes --------------------------------------------------------------------------------


def child_env(url: str, broker_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CARNATION_DATABASE_URL": plain_url(url),
        "CARNATION_SECRET_KEY": SECRET_KEY,
        "CARNATION_ENCRYPTION_KEYS": ",".join(ENCRYPTION_KEYS),
        "CARNATION_INSTANCE_DIR": str(Path(tempfile.gettempdir()) / "carnation-bench"),
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    if broker_url:
        env["CARNATION_BROKER_URL"] = broker_url
    else:
        env.pop("CARNATION_BROKER_URL", None)
    env.update(extra)
    return env


class Processes:
    """Child processes in their own sessions, stopped by process group (never by name)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[subprocess.Popen] = []

    def start(self, args: Sequence[str], env: dict[str, str], name: str) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as handle:
            process = subprocess.Popen(
                list(args),
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen, timeout: float = 20.0) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        # Forked children (prefork pool, gunicorn workers) share the group: end stragglers.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            with contextlib.suppress(Exception):
                self.stop(process, timeout=10)


def python_module(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (read from /proc, no third-party package)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def peak_rss_mb(pid: int) -> dict[str, Any]:
    """Peak resident set (VmHWM) of a process tree: the sum, and per process."""
    per = {p: _status_kib(p, "VmHWM") / 1024 for p in descendants(pid)}
    per = {p: round(v, 1) for p, v in per.items() if v > 0}
    return {"total_mb": round(sum(per.values()), 1), "processes": len(per), "per_mb": per}


def pg_listening(engine: Engine, channel: str) -> int:
    return int(
        scalar(
            engine,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query = :q",
            q=f"LISTEN {channel}",
        )
        or 0
    )


# -- Redis -------------------------------------------------------------------------------------


def redis_client(broker_url: str) -> Any:
    import redis

    return redis.Redis.from_url(broker_url)


def purge_queues(broker_url: str) -> None:
    """Forget queued and unacknowledged messages of Carnation's queues (and the bench's keys)."""
    client = redis_client(broker_url)
    patterns = [f"{q}*" for q in CELERY_QUEUES] + ["unacked*", "bench:*"]
    for pattern in patterns:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    client.close()


# -- the machine --------------------------------------------------------------------------------


def machine_facts(pg_url: str, broker_url: str) -> dict[str, Any]:
    from importlib import metadata

    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    facts: dict[str, Any] = {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "memory_gb": None,
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    try:
        engine = create_engine(sqlalchemy_url(pg_url))
        facts["postgresql"] = scalar(engine, "SHOW server_version")
        facts["postgresql_synchronous_commit"] = scalar(engine, "SHOW synchronous_commit")
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - a fact we could not read is reported as such
        facts["postgresql"] = f"unavailable: {type(exc).__name__}"
    try:
        client = redis_client(broker_url)
        facts["redis"] = client.info("server").get("redis_version")
        client.close()
    except Exception as exc:  # noqa: BLE001
        facts["redis"] = f"unavailable: {type(exc).__name__}"
    packages: dict[str, str | None] = {}
    for name in (
        "carnation",
        "sqlalchemy",
        "psycopg",
        "celery",
        "kombu",
        "redis",
        "flask",
        "gunicorn",
        "transitions",
        "orjson",
        "dbos",
    ):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    facts["packages"] = packages
    facts["wrk"] = wrk_version()
    return facts


def wrk_version() -> str | None:
    import shutil

    path = shutil.which("wrk")
    if path is None:
        return None
    try:
        out = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0] if first else "wrk"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def chunks(items: Sequence[int], parts: int) -> list[list[int]]:
    """Split ``items`` into ``parts`` contiguous slices (one per client)."""
    size = (len(items) + parts - 1) // parts
    return [list(items[i * size : (i + 1) * size]) for i in range(parts)]
