"""The processes: `serve` (everything in one), and `worker`, `beat`, `web` for deployments."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

from celery import Celery

from config.settings import Settings
from tasks.app import DEADLINES, DEFAULT, NOTIFICATIONS, create_celery
from tasks.relay import Relay
from workflow.runtime import Runtime, bootstrap

log = logging.getLogger(__name__)
QUEUES = [NOTIFICATIONS, DEADLINES, DEFAULT]


class EmbeddedWorker:
    """A real Celery worker in this process, on threads (the embedded broker is in-process)."""

    def __init__(self, app: Celery, concurrency: int = 4) -> None:
        self.app = app
        # The worker's threads look the app up as the process default (they have no
        # current app of their own); this process runs exactly one app, so it is safe.
        app.finalize()
        app.set_default()
        self.controller = app.WorkController(
            pool="threads",
            concurrency=concurrency,
            loglevel="WARNING",
            queues=QUEUES,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            ready_callback=self._ready,
            hostname="carnation-embedded@localhost",
        )
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="carnation-worker", daemon=True)

    def _ready(self, *_: Any) -> None:
        self.ready.set()

    def _run(self) -> None:
        self.controller.start()

    def start(self, timeout: float = 10.0) -> EmbeddedWorker:
        self.thread.start()
        if not self.ready.wait(timeout):
            log.warning("embedded worker slow to start")
        return self

    def stop(self) -> None:
        self.controller.stop(in_sighandler=False)
        self.thread.join(timeout=10)


class EmbeddedBeat:
    """The periodic schedule in a thread of this process."""

    def __init__(self, app: Celery, schedule_dir: Path) -> None:
        from celery.beat import EmbeddedService

        schedule_dir.mkdir(parents=True, exist_ok=True)
        self.service = EmbeddedService(
            app,
            thread=True,
            schedule_filename=str(schedule_dir / "celerybeat-schedule"),
            max_interval=1,
        )

    def start(self) -> EmbeddedBeat:
        self.service.start()
        return self

    def stop(self) -> None:
        self.service.stop()


class Stack:
    """Worker, relay and beat running beside the web server in one process."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None) -> None:
        self.runtime = runtime or bootstrap(settings)
        self.celery = create_celery(settings, self.runtime)
        self.worker = EmbeddedWorker(self.celery)
        self.relay = Relay(self.celery, self.runtime)
        self.beat = EmbeddedBeat(self.celery, settings.instance_dir)

    def start(self) -> Stack:
        self.worker.start()
        self.relay.start()
        self.beat.start()
        return self

    def stop(self) -> None:
        self.beat.stop()
        self.relay.stop()
        self.worker.stop()


def serve(settings: Settings, host: str, port: int, threads: int = 8) -> None:
    """Console, API, worker, relay and scheduler on one machine."""
    from waitress import create_server

    from web.app import create_app

    stack = Stack(settings).start()
    app = create_app(settings, runtime=stack.runtime)
    server = create_server(app, host=host, port=port, threads=threads, ident="carnation")
    stopping = threading.Event()

    def _shutdown(*_: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            server.close()

    signal.signal(signal.SIGTERM, _shutdown)
    signal.signal(signal.SIGINT, _shutdown)
    log.info("serving on http://%s:%s", host, port)
    try:
        server.run()
    except (OSError, ValueError):
        if not stopping.is_set():
            raise
    finally:
        stack.stop()


def run_worker(settings: Settings, concurrency: int, loglevel: str) -> None:
    """A Celery worker (prefork) with the outbox relay in its main process."""
    from celery.signals import worker_process_init, worker_ready, worker_shutdown

    app = create_celery(settings)
    relays: list[Relay] = []

    @worker_process_init.connect(weak=False)
    def _fresh_engine(**_: Any) -> None:
        # Sockets must not be shared across fork: each child makes its own engine.
        runtime = getattr(app, "carnation_runtime", None)
        if runtime is not None:
            runtime.engine.dispose(close=False)
        app.carnation_runtime = None  # type: ignore[attr-defined]

    @worker_ready.connect(weak=False)
    def _start_relay(**_: Any) -> None:
        relays.append(Relay(app, bootstrap(settings)).start())

    @worker_shutdown.connect(weak=False)
    def _stop_relay(**_: Any) -> None:
        for relay in relays:
            relay.stop()

    app.worker_main(
        [
            "worker",
            f"--loglevel={loglevel}",
            f"--concurrency={concurrency}",
            f"--queues={','.join(QUEUES)}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def run_beat(settings: Settings, loglevel: str) -> None:
    app = create_celery(settings)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app.start(
        [
            "beat",
            f"--loglevel={loglevel}",
            f"--schedule={settings.instance_dir / 'celerybeat-schedule'}",
        ]
    )


WEB_WORKER_CLASS = "web.gunicorn_worker.LeastLoadedThreadWorker"
# Threads per web worker. A request is mostly Python (the database answers in a fraction
# of a millisecond), so more threads per process mostly contend for its GIL: measured
# under 16 clients on 2 cores, 2 threads served 880–940 lists/s with a 90th percentile of
# 20–22 ms, 4 threads 780–880 lists/s and 24–30 ms.
WEB_THREADS = 2


def run_web(
    settings: Settings, host: str, port: int, workers: int, threads: int = WEB_THREADS
) -> None:
    """The web console and API under gunicorn (settings come from the environment)."""
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            # gthread, sharing kept-alive connections evenly between the workers.
            self.cfg.set("worker_class", WEB_WORKER_CLASS)
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", None)

        def load(self) -> Any:
            import gc

            from web.app import create_app

            app = create_app(settings)
            gc.freeze()  # the app's long-lived objects stay out of the collector's scans
            return app

    _Gunicorn().run()
