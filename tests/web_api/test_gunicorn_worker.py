"""`carnation web`'s gunicorn worker shares kept-alive connections evenly between workers."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from gunicorn.workers.gthread import ThreadWorker

from tasks.processes import WEB_WORKER_CLASS
from web.gunicorn_worker import LeastLoadedThreadWorker, step_back

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_steps_back_longer_the_more_connections_it_holds_beyond_its_threads() -> None:
    assert step_back(0, 4) == step_back(3, 4) == 0.0
    assert step_back(4, 4, step=0.001) == 0.001
    assert step_back(9, 4, step=0.001) == 0.006


def test_the_hooks_it_overrides_are_gthreads_own() -> None:
    """An upgrade of gunicorn that renamed them would leave the worker plain gthread."""
    for name in ("accept", "set_accept_enabled", "wait_for_and_dispatch_events"):
        assert name in vars(ThreadWorker), name
        assert name in vars(LeastLoadedThreadWorker), name
    assert WEB_WORKER_CLASS == "web.gunicorn_worker.LeastLoadedThreadWorker"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pid_over(connection: http.client.HTTPConnection) -> str:
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 200
    return response.read().decode()


def test_connections_opened_together_are_shared_between_the_workers() -> None:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers=2",
            "--threads=2",
            f"--worker-class={WEB_WORKER_CLASS}",
            f"--bind=127.0.0.1:{port}",
            "tests.web_api.pid_app:app",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        pids: set[str] = set()
        while len(pids) < 2:  # both workers up and answering
            assert time.monotonic() < deadline, "gunicorn did not start two workers"
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                pids.add(_pid_over(probe))
                probe.close()
            except OSError:
                time.sleep(0.1)
        served_by: dict[int, set[str]] = {}
        start = threading.Barrier(8)

        def client(index: int) -> None:
            start.wait()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            seen = {_pid_over(connection) for _ in range(15)}  # kept alive: one connection
            connection.close()
            served_by[index] = seen

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(served_by) == 8
        assert all(len(seen) == 1 for seen in served_by.values())  # a connection stays put
        per_worker = Counter(next(iter(seen)) for seen in served_by.values())
        assert len(per_worker) == 2 and min(per_worker.values()) >= 3, per_worker
    finally:
        server.terminate()
        server.wait(timeout=30)
