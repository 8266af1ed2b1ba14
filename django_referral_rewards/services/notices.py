"""The pre-expiry notice: warning members before their points expire.

A program with ``expiry_notice_days`` set warns its members that many days before an
earn lot's ``expires_at``. Each lot is announced once (``EarnLot.notified_at``), whatever
how often the sweep runs; a lot earned later gets its own notice when its time comes.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .. import signals
from ..conf import app_settings
from ..enums import Unit
from ..models import Account, EarnLot, Program
from .sweeps import claim_batches, lock_skipping_locked

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class NoticeSweepResult:
    """What :func:`notify_expiring` did: how many accounts were warned, about how many
    lots, holding how many points in all."""

    accounts: int
    lots: int
    points: int


def _notice_programs(program: Program | str | None) -> list[Program]:
    programs = Program.objects.filter(expiry_notice_days__isnull=False).order_by("pk")
    if program is not None:
        programs = programs.filter(pk=Program.objects.resolve(program).pk)
    return list(programs)


def _due(program: Program, now: datetime) -> QuerySet[Any]:
    """Lots of ``program`` that still hold points, expire within its notice window
    (``now < expires_at <= now + expiry_notice_days``) and were not announced yet.

    The program is matched with a subquery rather than a join, so claiming lots with
    ``FOR UPDATE`` never locks account rows (on databases without ``FOR UPDATE OF``)."""
    days = timedelta(days=program.expiry_notice_days or 0)
    return EarnLot.objects.filter(
        unit=Unit.POINTS,
        remaining__gt=0,
        notified_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + days,
        account_id__in=Account.objects.filter(program_id=program.pk).values("pk"),
    )


def notify_expiring(
    *,
    program: Program | str | None = None,
    now: datetime | None = None,
    batch_size: int | None = None,
) -> NoticeSweepResult:
    """Warn members whose points expire within their program's ``expiry_notice_days``
    (``program``: only that one, a ``Program`` or slug; ``None``: every program that
    sets it).

    Lots are claimed in batches (``SKIP LOCKED`` where the database has it, so several
    workers may run at once) and marked notified with one ``UPDATE`` per batch; the
    other announceable lots of the batch's accounts are claimed with them, so each
    account gets one notice per run (with several workers racing, an account may get
    two, each about different lots). After each batch commits, every account's notice
    goes out: the notifier (``REFERRAL_REWARDS_NOTIFIER``; by default an e-mail) and
    the :data:`~django_referral_rewards.signals.points_expiring` signal, with the points
    the lots still hold and the earliest expiry. A notifier that fails for one account
    is logged and does not stop the others. The number of queries grows with batches,
    not lots; a lot is announced once, so running it twice sends nothing more.
    """
    now = now or timezone.now()
    size = batch_size or app_settings.SWEEP_BATCH_SIZE
    accounts_done = lots_done = points_done = 0
    for program_obj in _notice_programs(program):
        due = _due(program_obj, now)
        for batch in claim_batches(due, size):
            lots = _with_siblings(batch, due)
            EarnLot.objects.filter(pk__in=[lot.pk for lot in lots]).update(notified_at=now)
            groups: dict[int, list[EarnLot]] = defaultdict(list)
            for lot in lots:
                lot.notified_at = now
                groups[lot.account_id].append(lot)
            accounts = (
                Account.objects.filter(pk__in=list(groups))
                .select_related("program", "member", "member__user")
                .order_by("pk")
            )
            notices = [(account, groups[account.pk]) for account in accounts]
            transaction.on_commit(functools.partial(_send, notices))
            accounts_done += len(notices)
            lots_done += len(lots)
            points_done += sum(lot.remaining for lot in lots)
    return NoticeSweepResult(accounts=accounts_done, lots=lots_done, points=points_done)


def _with_siblings(batch: list[EarnLot], due: QuerySet[Any]) -> list[EarnLot]:
    """``batch`` plus the other announceable lots of its accounts past the batch's last
    lot (claimed the same way), so that an account whose lots straddle two batches
    still gets a single notice."""
    account_ids = sorted({lot.account_id for lot in batch})
    more = due.filter(pk__gt=batch[-1].pk, account_id__in=account_ids).order_by("pk")
    return [*batch, *lock_skipping_locked(more)]


def _send(notices: list[tuple[Account, list[EarnLot]]]) -> None:
    """Send the notices of one committed batch, each on its own: a failure is logged."""
    notifier = app_settings.notifier()
    for account, lots in notices:
        lots = sorted(lots, key=lambda lot: (lot.expires_at, lot.pk))
        amount = sum(lot.remaining for lot in lots)
        expires_at = lots[0].expires_at
        try:
            notifier.points_expiring(account, amount=amount, expires_at=expires_at, lots=lots)
        except Exception:
            logger.exception(
                "The expiry notice to account %s (%s points) could not be sent.",
                account.pk,
                amount,
            )
        signals.send_after_commit(
            signals.points_expiring,
            sender=EarnLot,
            account=account,
            amount=amount,
            expires_at=expires_at,
            lots=lots,
        )
