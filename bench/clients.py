"""Load-generating client processes (spawned, so each has its own interpreter and GIL).

A ``Clients`` pool keeps N processes alive across rounds; each call sends every
process a function name and its arguments and gathers the answers.
"""

from __future__ import annotations

import importlib
import multiprocessing
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any


def _serve(connection: Connection) -> None:
    while True:
        message = connection.recv()
        if message is None:
            return
        target, args = message
        module, _, name = target.partition(":")
        try:
            result = getattr(importlib.import_module(module), name)(*args)
            connection.send(("ok", result))
        except BaseException:  # noqa: BLE001 - carried back to the parent as text
            connection.send(("error", traceback.format_exc()))


class Clients:
    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.connections: list[Connection] = []
        self.processes = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child,), daemon=True)
            process.start()
            self.connections.append(parent)
            self.processes.append(process)

    def __len__(self) -> int:
        return len(self.connections)

    def run(self, target: str, per_client_args: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Run ``target`` ("module:function") in the first len(args) clients at once."""
        used = self.connections[: len(per_client_args)]
        for connection, args in zip(used, per_client_args, strict=True):
            connection.send((target, args))
        results = []
        errors = []
        for connection in used:
            status, value = connection.recv()
            if status == "ok":
                results.append(value)
            else:
                errors.append(value)
        if errors:
            raise RuntimeError("a client failed:\n" + errors[0])
        return results

    def close(self) -> None:
        for connection in self.connections:
            try:
                connection.send(None)
            except (OSError, BrokenPipeError):
                pass
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
