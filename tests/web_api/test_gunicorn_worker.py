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

import pytest
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


class _Config:
    threads = 2
    worker_connections = 1000


def _bare_worker(connections: int) -> LeastLoadedThreadWorker:
    """A worker holding only what its accepting logic reads (the tests stand in for gthread)."""
    worker = LeastLoadedThreadWorker.__new__(LeastLoadedThreadWorker)
    worker.cfg = _Config()
    worker.nr_conns = connections
    worker.worker_connections = _Config.worker_connections
    worker.alive = True
    worker._resume_at = None
    worker._granted = False
    return worker


@pytest.fixture
def gthread_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """gthread's own accept, switch and pass, recorded instead of made."""
    calls: list[tuple[str, object]] = []
    monkeypatch.setattr(
        ThreadWorker, "accept", lambda self, listener: calls.append(("accept", listener))
    )
    monkeypatch.setattr(
        ThreadWorker, "set_accept_enabled", lambda self, on: calls.append(("enabled", on))
    )
    monkeypatch.setattr(
        ThreadWorker,
        "wait_for_and_dispatch_events",
        lambda self, timeout: calls.append(("wait", timeout)),
    )
    return calls


def test_a_loaded_worker_steps_back_then_takes_the_connection(
    gthread_calls: list[tuple[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = gthread_calls
    idle = _bare_worker(connections=1)
    idle.accept("listener")
    assert calls == [("accept", "listener")]  # a thread to spare: at once

    calls.clear()
    loaded = _bare_worker(connections=3)  # two threads, three connections: 2 ms
    loaded.accept("listener")
    assert calls == [("enabled", False)] and loaded._resume_at is not None
    loaded.set_accept_enabled(True)  # the worker's loop asks again: still stepping back
    assert calls[-1] == ("enabled", False)
    loaded.wait_for_and_dispatch_events(1.0)
    assert calls[-1][0] == "wait" and 0 < calls[-1][1] <= 0.002  # wakes when it ends
    loaded._resume_at = time.monotonic() - 0.001  # the moment has passed
    calls.clear()
    monkeypatch.setattr(  # this pass reports the connection still pending
        ThreadWorker,
        "wait_for_and_dispatch_events",
        lambda self, timeout: (calls.append(("wait", timeout)), self.accept("listener")),
    )
    loaded.wait_for_and_dispatch_events(1.0)
    assert calls == [("enabled", True), ("wait", 1.0), ("accept", "listener")]
    assert loaded._resume_at is None and not loaded._granted


def test_a_worker_shutting_down_does_not_start_accepting_again(
    gthread_calls: list[tuple[str, object]],
) -> None:
    worker = _bare_worker(connections=5)
    worker._resume_at = time.monotonic() - 0.001
    worker.alive = False  # SIGTERM arrived while it stepped back
    worker.wait_for_and_dispatch_events(1.0)
    assert ("enabled", True) not in gthread_calls and worker._resume_at is None
