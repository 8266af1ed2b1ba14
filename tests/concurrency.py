"""Running real concurrent workers in tests: each thread has its own database
connection, and all start together at a barrier."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection

#: How long a whole group of workers may take before the test calls it a hang/deadlock.
JOIN_TIMEOUT = 60.0


class Crash(Exception):
    """Stands in for a process dying half-way through an operation."""


def run_workers(count: int, work: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Run ``work(i)`` for ``i in range(count)`` in ``count`` threads started together.

    Each thread opens its own connection before the barrier (so the first queries really
    race) and closes it at the end. Returns ``[("ok", result) | ("error", exc), ...]`` in
    worker order; fails the test if any thread is still running after ``JOIN_TIMEOUT``.
    """
    barrier = threading.Barrier(count)
    outcomes: list[tuple[str, Any]] = [("missing", None)] * count

    def target(i: int) -> None:
        try:
            try:
                connection.ensure_connection()
            except BaseException:
                barrier.abort()  # release the others at once rather than at the timeout
                raise
            barrier.wait(timeout=JOIN_TIMEOUT)
            outcomes[i] = ("ok", work(i))
        except BaseException as exc:
            outcomes[i] = ("error", exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=target, args=(i,), name=f"ledger-worker-{i}", daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    hung = [thread.name for thread in threads if thread.is_alive()]
    assert not hung, f"workers did not finish within {JOIN_TIMEOUT}s (deadlock?): {hung}"
    return outcomes


def split(outcomes: list[tuple[str, Any]], *expected: type[BaseException]) -> tuple[list, list]:
    """``(results, errors)``; any error that is not one of ``expected`` fails the test."""
    results = [value for status, value in outcomes if status == "ok"]
    errors = [value for status, value in outcomes if status == "error"]
    unexpected = [exc for exc in errors if not isinstance(exc, expected)]
    assert not unexpected, f"unexpected errors: {[repr(exc) for exc in unexpected]}"
    assert len(results) + len(errors) == len(outcomes)
    return results, errors
