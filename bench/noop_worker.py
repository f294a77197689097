"""The broker baseline: a worker started exactly as `carnation worker`, plus one no-op task.

Run as ``python -m bench.noop_worker --concurrency N``. The task does nothing but say it
ran (one Redis command), so its figures are what Celery on Redis costs by itself.
"""

from __future__ import annotations

import argparse
from typing import Any

_CLIENT: Any = None


def _redis(url: str) -> Any:
    global _CLIENT
    if _CLIENT is None:  # made in the pool child, after the fork
        import redis

        _CLIENT = redis.Redis.from_url(url)
    return _CLIENT


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    from config.settings import load_settings
    from tasks.app import create_celery
    from tasks.processes import QUEUES

    settings = load_settings()
    app = create_celery(settings)
    broker_url = settings.broker_url or ""

    @app.task(name="bench.noop", shared=False)
    def noop(mode: str, key: str) -> None:
        client = _redis(broker_url)
        if mode == "count":
            client.incr(key)
        else:
            client.rpush(key, b"1")

    app.worker_main(
        [
            "worker",
            "--loglevel=WARNING",
            f"--concurrency={args.concurrency}",
            f"--queues={','.join(QUEUES)}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


if __name__ == "__main__":
    main()
