"""Loyalty tiers: which tier a member is in, moving up at once and down at re-evaluation.

A member is in the highest *active* tier of their program whose threshold they meet.
Each tier counts its own ``basis`` over its own ``window``:

* ``spend``: qualifying orders (``Order.qualifying``) less what was refunded of them,
  by the order's ``occurred_at``;
* ``points``: points earned, i.e. ``earn`` entries less the reversals of earn entries
  (clawbacks), by the entry's ``created_at``. Spending points never lowers a tier.

Windows: ``lifetime`` (everything), ``calendar_year`` (since 1 January, midnight, of the
current year in the current time zone) and ``rolling_12_months`` (the last 365 days).
A window counts everything recorded since its start.

Upgrades happen on the event that crosses a threshold (``order_completed`` calls
:func:`evaluate`). Downgrades happen only at re-evaluation (:func:`reevaluate`, the
``rewards_evaluate_tiers`` command), after the program's ``tier_grace_days``. Every
change is made under the account's row lock, recorded in ``tier_since`` and announced
with :data:`~django_referral_rewards.signals.tier_changed` after commit.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, cast

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from .. import signals
from ..conf import app_settings
from ..enums import EntryKind, TierBasis, TierWindow, Unit
from ..exceptions import InvalidArgument, InvalidTransition
from ..models import Account, LedgerEntry, Order, Program, Tier
from ..signals import send_on_commit
from .sweeps import claim_batches

#: ``TierChange.reason`` values.
UPGRADE = "upgrade"
DOWNGRADE = "downgrade"
#: The other steps of a decision: start the grace period, or call it off.
SCHEDULE = "schedule"
CLEAR = "clear"

#: The length of the ``rolling_12_months`` window.
ROLLING_WINDOW = timedelta(days=365)

ZERO = Decimal(0)

Combo = tuple[str, str]  # (basis, window)


@dataclasses.dataclass(frozen=True)
class TierChange:
    """A member moved from ``old_tier`` to ``new_tier`` (either may be ``None``).
    ``reason`` is ``"upgrade"`` or ``"downgrade"``."""

    account: Account
    old_tier: Tier | None
    new_tier: Tier | None
    reason: str


@dataclasses.dataclass(frozen=True)
class TierProgress:
    """Where a member stands, for templates and the API.

    ``current`` is the tier held; ``next`` the next tier up (``None`` at the top, or
    when the program has no tiers). ``basis``, ``window`` and ``value`` are what the next
    tier counts and how much the member has of it (at the top tier: what the current
    tier counts); ``threshold`` is the next tier's threshold (``None`` at the top),
    ``remaining`` what is still missing and ``percent`` (0-100, rounded down) how far
    along they are (100 at the top). ``review_at`` is when the member moves down unless
    they qualify again (``None`` when no move is due).
    """

    current: Tier | None
    next: Tier | None
    basis: str | None
    window: str | None
    value: Decimal
    threshold: Decimal | None
    remaining: Decimal
    percent: int
    review_at: datetime | None


@dataclasses.dataclass(frozen=True)
class TierSweepResult:
    """What :func:`reevaluate` did: accounts looked at, moved up, moved down, and given
    a grace period (``tier_review_at`` set) before moving down."""

    accounts: int
    upgraded: int
    downgraded: int
    scheduled: int


# --- values ------------------------------------------------------------------------------


def window_start(window: str, now: datetime) -> datetime | None:
    """When ``window`` starts, seen at ``now`` (``None``: the whole history)."""
    if window == TierWindow.LIFETIME:
        return None
    if window == TierWindow.CALENDAR_YEAR:
        local = timezone.localtime(now) if timezone.is_aware(now) else now
        return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if window == TierWindow.ROLLING_12_MONTHS:
        return now - ROLLING_WINDOW
    raise InvalidArgument(
        f"Unknown tier window {window!r}; use one of: {', '.join(TierWindow.values)}.",
        window=window,
    )


def _check_basis(basis: str) -> str:
    if basis not in TierBasis.values:
        raise InvalidArgument(
            f"Unknown tier basis {basis!r}; use one of: {', '.join(TierBasis.values)}.",
            basis=basis,
        )
    return basis


def _values(
    account_ids: list[int], combos: Iterable[Combo], now: datetime
) -> dict[Combo, dict[int, Decimal]]:
    """``(basis, window) -> {account_id: value}`` for ``account_ids`` (missing ids: 0).

    One grouped query per basis, with one filtered sum per window, whatever the number
    of accounts."""
    windows: dict[str, set[str]] = defaultdict(set)
    for basis, window in combos:
        windows[_check_basis(basis)].add(window)
    result: dict[Combo, dict[int, Decimal]] = {}
    for basis, wanted in windows.items():
        sums: dict[str, Any] = {}
        queryset: QuerySet[Any]
        if basis == TierBasis.SPEND:
            queryset = Order.objects.filter(account_id__in=account_ids, qualifying=True)
            value: Any = F("amount") - F("refunded_amount")
            moment = "occurred_at"
        else:
            queryset = LedgerEntry.objects.filter(
                Q(kind=EntryKind.EARN) | Q(kind=EntryKind.REVERSE, reverses__kind=EntryKind.EARN),
                account_id__in=account_ids,
                unit=Unit.POINTS,
            )
            value = "amount"
            moment = "created_at"
        for window in sorted(wanted):
            start = window_start(window, now)
            condition = Q(**{f"{moment}__gte": start}) if start is not None else None
            sums[window] = Sum(value, filter=condition)
        rows = cast(
            Iterable[dict[str, Any]], queryset.order_by().values("account_id").annotate(**sums)
        )
        for window in wanted:
            result[(basis, window)] = {}
        for row in rows:
            for window in wanted:
                result[(basis, window)][row["account_id"]] = Decimal(row[window] or 0)
    return result


def qualifying_value(
    account: Account, basis: str, window: str, *, now: datetime | None = None
) -> Decimal:
    """What ``account`` has of ``basis`` (``"spend"`` in the program currency, or
    ``"points"`` earned) over ``window`` as of ``now``. One aggregate query."""
    now = now or timezone.now()
    combo = (basis, window)
    window_start(window, now)  # validates the window
    return _values([account.pk], [combo], now)[combo].get(account.pk, ZERO)


# --- deciding ------------------------------------------------------------------------------


def _combos(tiers: Iterable[Tier]) -> set[Combo]:
    return {(tier.basis, tier.window) for tier in tiers if tier.active}


def _met(
    tiers: list[Tier], values: dict[Combo, dict[int, Decimal]], account_id: int
) -> Tier | None:
    """The best active tier whose threshold the account meets (``tiers`` best first)."""
    for tier in tiers:
        if (
            tier.active
            and values[(tier.basis, tier.window)].get(account_id, ZERO) >= tier.threshold
        ):
            return tier
    return None


@dataclasses.dataclass(frozen=True)
class _Decision:
    """What to do to one account: ``kind`` is ``""`` (nothing), ``upgrade``,
    ``downgrade``, ``schedule`` (set ``tier_review_at``) or ``clear`` (unset it)."""

    kind: str
    tier: Tier | None = None
    review_at: datetime | None = None


NOTHING = _Decision("")


def _decide(
    current: Tier | None,
    review_at: datetime | None,
    met: Tier | None,
    *,
    now: datetime,
    allow_downgrade: bool,
    grace_days: int,
) -> _Decision:
    """The tier rules, on plain values."""
    if met is not None and (current is None or met.rank > current.rank):
        return _Decision(UPGRADE, tier=met)
    if current is None:
        return NOTHING
    if met is not None and met.pk == current.pk:
        # They meet their tier (again): any pending move down is called off.
        return _Decision(CLEAR) if review_at is not None else NOTHING
    if not allow_downgrade:
        return NOTHING
    if grace_days > 0:
        if review_at is None:
            return _Decision(SCHEDULE, review_at=now + timedelta(days=grace_days))
        if review_at > now:
            return NOTHING
    return _Decision(DOWNGRADE, tier=met)


def _apply(
    account: Account, decision: _Decision, tiers_by_pk: dict[int, Tier], now: datetime
) -> TierChange | None:
    """Write one decision for the *locked* ``account`` (compare-and-set on its tier)
    and keep the instance in step."""
    if not decision.kind:
        return None
    same = Account.objects.filter(pk=account.pk, tier=account.tier_id)
    if decision.kind in (SCHEDULE, CLEAR):
        updated = same.update(tier_review_at=decision.review_at)
        account.tier_review_at = decision.review_at
        _check_updated(updated, account)
        return None
    old = tiers_by_pk.get(account.tier_id) if account.tier_id else None
    new = decision.tier
    modified = timezone.now()
    updated = same.update(tier=new, tier_since=now, tier_review_at=None, modified=modified)
    _check_updated(updated, account)
    account.tier = new
    account.tier_since = now
    account.tier_review_at = None
    account.modified = modified
    send_on_commit(
        signals.tier_changed, sender=Account, account=account, old_tier=old, new_tier=new
    )
    return TierChange(account=account, old_tier=old, new_tier=new, reason=decision.kind)


def _check_updated(updated: int, account: Account) -> None:
    if updated != 1:
        raise InvalidTransition(
            "The account's tier changed while it was being evaluated; nothing was changed.",
            account_id=account.pk,
        )


def lock_account(account: Account) -> Account:
    """Re-read ``account`` with a row lock held until the transaction ends (no join:
    only the account row is locked, on every database)."""
    return Account.objects.select_for_update().get(pk=account.pk)


def evaluate_locked(
    locked: Account,
    *,
    tiers: list[Tier],
    grace_days: int,
    now: datetime,
    allow_downgrade: bool = False,
) -> TierChange | None:
    """:func:`evaluate` for an account the caller has locked, with its program's
    ``tiers`` (best first, as :func:`program_tiers` returns them) already loaded."""
    if not tiers and locked.tier_id is None:
        return None
    values = _values([locked.pk], _combos(tiers), now)
    by_pk = {tier.pk: tier for tier in tiers}
    current = by_pk.get(locked.tier_id) if locked.tier_id else None
    decision = _decide(
        current,
        locked.tier_review_at,
        _met(tiers, values, locked.pk),
        now=now,
        allow_downgrade=allow_downgrade,
        grace_days=grace_days,
    )
    return _apply(locked, decision, by_pk, now)


def program_tiers(program: Program | int) -> list[Tier]:
    """Every tier of ``program`` (inactive ones too: a member may still hold one), best
    (highest rank) first. One query."""
    program_id = program.pk if isinstance(program, Program) else program
    return list(Tier.objects.filter(program_id=program_id).order_by("-rank"))


def evaluate(
    account: Account, *, now: datetime | None = None, allow_downgrade: bool = False
) -> TierChange | None:
    """Put ``account`` in the tier it meets, if that is a move up, and return the change
    (``None``: no change).

    An account without a tier goes to the tier it meets (the entry tier, with a
    threshold of 0, at once). With ``allow_downgrade`` (re-evaluation only) a member who
    no longer meets their tier moves down to the tier they now meet, after the
    program's ``tier_grace_days``: the first evaluation that finds them short sets
    ``tier_review_at`` (and changes nothing else); one after that time moves them
    down; meeting the tier again before then clears it. Upgrades clear it too.

    Runs under the account's row lock; :data:`~django_referral_rewards.signals.tier_changed`
    is sent after commit.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_account(account)
        change = evaluate_locked(
            locked,
            tiers=program_tiers(locked.program_id),
            grace_days=account.program.tier_grace_days,
            now=now,
            allow_downgrade=allow_downgrade,
        )
    for field in ("tier_id", "tier_since", "tier_review_at", "qualifying_spend"):
        setattr(account, field, getattr(locked, field))
    if change is not None:
        return dataclasses.replace(change, account=account)
    return None


def tier_for(account: Account, *, now: datetime | None = None) -> Tier | None:
    """The highest active tier of the account's program whose threshold the account
    meets as of ``now`` (each tier judged by its own basis and window), or ``None``."""
    now = now or timezone.now()
    tiers = [tier for tier in program_tiers(account.program_id) if tier.active]
    if not tiers:
        return None
    return _met(tiers, _values([account.pk], _combos(tiers), now), account.pk)


def progress(account: Account, *, now: datetime | None = None) -> TierProgress:
    """How far ``account`` is from its next tier (see :class:`TierProgress`). Two
    queries: the program's tiers and the value counted (one more for an account that
    has never been evaluated: its ``current`` is then the tier it already meets)."""
    now = now or timezone.now()
    tiers = program_tiers(account.program_id)
    current = next((tier for tier in tiers if tier.pk == account.tier_id), None)
    if current is None and account.tier_id is None:
        # Never evaluated yet (no order since the tiers were set up): show the tier
        # the member already meets, which the next order or re-evaluation gives them.
        active = [tier for tier in tiers if tier.active]
        if active:
            current = _met(active, _values([account.pk], _combos(active), now), account.pk)
    floor = current.rank if current is not None else -1
    above = [tier for tier in tiers if tier.active and tier.rank > floor]
    upcoming = above[-1] if above else None  # tiers are best first
    target = upcoming or current
    if target is None:
        return TierProgress(
            current=None,
            next=None,
            basis=None,
            window=None,
            value=ZERO,
            threshold=None,
            remaining=ZERO,
            percent=0,
            review_at=account.tier_review_at,
        )
    value = qualifying_value(account, target.basis, target.window, now=now)
    if upcoming is None:
        threshold, remaining, percent = None, ZERO, 100
    else:
        threshold = upcoming.threshold
        remaining = max(threshold - value, ZERO)
        if threshold <= 0 or value >= threshold:
            percent = 100
        else:
            ratio = max(value, ZERO) * 100 / threshold
            percent = int(ratio.to_integral_value(rounding=ROUND_DOWN))
    return TierProgress(
        current=current,
        next=upcoming,
        basis=target.basis,
        window=target.window,
        value=value,
        threshold=threshold,
        remaining=remaining,
        percent=percent,
        review_at=account.tier_review_at,
    )


# --- re-evaluation sweep ---------------------------------------------------------------


def reevaluate(
    *,
    program: Program | str | None = None,
    now: datetime | None = None,
    batch_size: int | None = None,
) -> TierSweepResult:
    """Re-evaluate the tier of every account of programs with active tiers (and of every
    account still holding a tier), moving members up or, after the grace period, down
    (see :func:`evaluate` with ``allow_downgrade``). ``program``: only that one
    (a ``Program`` or slug; ``None``: all programs).

    Set-based and batched: each batch of accounts is claimed (``SKIP LOCKED`` where the
    database has it, so several workers may run at once; accounts busy with an order
    are left for the next run) and evaluated with one grouped query per tier basis, and
    written with one ``UPDATE`` per kind of change, so the number of queries grows with
    batches, not accounts. Running it twice has no second effect.
    """
    now = now or timezone.now()
    size = batch_size or app_settings.SWEEP_BATCH_SIZE
    only = Program.objects.resolve(program) if program is not None else None
    tiers_qs = Tier.objects.order_by("-rank")
    with_active = Tier.objects.filter(program_id=OuterRef("program_id"), active=True)
    due = Account.objects.filter(Exists(with_active) | Q(tier__isnull=False))
    if only is not None:
        tiers_qs = tiers_qs.filter(program=only)
        due = due.filter(program=only)
    all_tiers = list(tiers_qs)
    tiers_of: dict[int, list[Tier]] = defaultdict(list)
    for tier in all_tiers:
        tiers_of[tier.program_id].append(tier)
    by_pk = {tier.pk: tier for tier in all_tiers}
    grace = dict(Program.objects.filter(pk__in=list(tiers_of)).values_list("pk", "tier_grace_days"))
    combos = _combos(all_tiers)
    counts: dict[str, int] = defaultdict(int)
    for batch in claim_batches(due, size):
        values = _values([account.pk for account in batch], combos, now)
        decisions: dict[tuple[str, int | None, int | None, datetime | None], list[Account]]
        decisions = defaultdict(list)
        for account in batch:
            tiers = tiers_of.get(account.program_id, [])
            current = by_pk.get(account.tier_id) if account.tier_id else None
            decision = _decide(
                current,
                account.tier_review_at,
                _met(tiers, values, account.pk),
                now=now,
                allow_downgrade=True,
                grace_days=grace.get(account.program_id, 0),
            )
            if decision.kind:
                new_pk = decision.tier.pk if decision.tier is not None else None
                decisions[(decision.kind, account.tier_id, new_pk, decision.review_at)].append(
                    account
                )
        for (kind, old_pk, new_pk, review_at), accounts in decisions.items():
            _apply_many(kind, old_pk, new_pk, review_at, accounts, by_pk, now)
            counts[kind] += len(accounts)
        counts["accounts"] += len(batch)
    return TierSweepResult(
        accounts=counts["accounts"],
        upgraded=counts[UPGRADE],
        downgraded=counts[DOWNGRADE],
        scheduled=counts[SCHEDULE],
    )


def _apply_many(
    kind: str,
    old_pk: int | None,
    new_pk: int | None,
    review_at: datetime | None,
    accounts: list[Account],
    by_pk: dict[int, Tier],
    now: datetime,
) -> None:
    """One compare-and-set ``UPDATE`` for every account of a batch that takes the same
    step (from the same tier to the same tier, or the same review date)."""
    ids = [account.pk for account in accounts]
    same = Account.objects.filter(pk__in=ids, tier=old_pk)
    modified = timezone.now()
    if kind in (SCHEDULE, CLEAR):
        updated = same.update(tier_review_at=review_at)
    else:
        updated = same.update(
            tier_id=new_pk, tier_since=now, tier_review_at=None, modified=modified
        )
    if updated != len(ids):
        raise InvalidTransition(
            "Some accounts changed tier while they were being evaluated; this batch was "
            "rolled back.",
            account_ids=ids,
        )
    old = by_pk.get(old_pk) if old_pk is not None else None
    new = by_pk.get(new_pk) if new_pk is not None else None
    for account in accounts:
        if kind in (SCHEDULE, CLEAR):
            account.tier_review_at = review_at
            continue
        account.tier = new
        account.tier_since = now
        account.tier_review_at = None
        account.modified = modified
        send_on_commit(
            signals.tier_changed, sender=Account, account=account, old_tier=old, new_tier=new
        )
