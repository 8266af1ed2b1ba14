"""A worker that SIGKILLs itself inside a sweep's transaction, at a known point.

With ``RR_WORKER_KILL_AT_LOT_UPDATE=N`` in its environment, a process using
``tests.worker.settings`` kills itself (``SIGKILL``: no cleanup, no rollback by Python)
just before its N-th ``UPDATE`` of ``referral_rewards_earnlot``: in the expiry sweep that
is inside batch N's transaction, after its ``expire`` ledger entries were inserted and
before its lots are marked expired and the batch commits.
"""

from __future__ import annotations

import os
import signal
from typing import Any

_updates = 0


def _kill_at_nth_lot_update(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    global _updates
    if sql.startswith('UPDATE "referral_rewards_earnlot"'):
        _updates += 1
        if _updates == int(os.environ["RR_WORKER_KILL_AT_LOT_UPDATE"]):
            os.kill(os.getpid(), signal.SIGKILL)
    return execute(sql, params, many, context)


def _install(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _kill_at_nth_lot_update not in connection.execute_wrappers:
        connection.execute_wrappers.append(_kill_at_nth_lot_update)


def install() -> None:
    """Wrap every database connection this process opens."""
    from django.db.backends.signals import connection_created

    connection_created.connect(_install, dispatch_uid="rr-worker-crash")
