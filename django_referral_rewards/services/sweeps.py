"""Claiming due rows in batches, for the background sweeps (DESIGN section 8).

Each batch is claimed and processed inside one transaction. Where the database has
``SELECT ... FOR UPDATE SKIP LOCKED`` the claim skips rows another worker holds, so any
number of workers can sweep at once; elsewhere (SQLite) writers are serialised anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet


def lock_skipping_locked(rows: QuerySet[Any]) -> QuerySet[Any]:
    """``rows`` locked ``FOR UPDATE SKIP LOCKED`` (only this table's rows) where the
    database has it; elsewhere (SQLite) unchanged, as writers are serialised anyway."""
    if not connection.features.has_select_for_update_skip_locked:
        return rows
    of = ("self",) if connection.features.has_select_for_update_of else ()
    return rows.select_for_update(skip_locked=True, of=of)


def claim_batches(due: QuerySet[Any], batch_size: int) -> Iterator[list[Any]]:
    """Yield lists of at most ``batch_size`` rows of ``due`` (in primary key order), each
    row-locked inside a transaction that stays open while the caller processes the
    batch. Rows still due after processing (the caller skipped them) are not offered
    again in this run. An exception in the caller rolls back its batch and stops."""
    last_pk: Any = None
    while True:
        with transaction.atomic():
            claim = due.order_by("pk")
            if last_pk is not None:
                claim = claim.filter(pk__gt=last_pk)
            batch = list(lock_skipping_locked(claim)[:batch_size])
            if not batch:
                return
            yield batch
            last_pk = batch[-1].pk
