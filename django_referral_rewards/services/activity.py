"""A member's activity history: what happened to their accounts, who did it and when.

:func:`member_activity` merges, newest first, the records the package keeps anyway —
ledger entries, reward grants (granted, released, voided, reversed), referrals (signed
up, converted) on either side, fraud decisions on those referrals, redemption and
payout histories, vouchers applied to orders, and the admin's change log of the member,
their accounts and their referrals. Nothing extra is written to build it.

Each source is one bounded query (at most ``limit`` rows, newest first), so the number
of queries is fixed, whatever the size of the history: the admin shows it on the
member's page ("Activity"), with a CSV download.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ..enums import GrantSource, GrantStatus, RewardKind, Unit
from ..models import (
    Account,
    FraudDecision,
    LedgerEntry,
    PayoutEvent,
    Program,
    RedemptionEvent,
    Referral,
    RewardGrant,
    Voucher,
)
from ..policies import PERCENT_KINDS, ZERO_ALLOWED

#: How many activities :func:`member_activity` returns by default.
DEFAULT_LIMIT = 200


class ActivityKind(models.TextChoices):
    """Where an :class:`Activity` comes from (the admin filters by it)."""

    LEDGER = "ledger", _("Ledger")
    REWARD = "reward", _("Rewards")
    REFERRAL = "referral", _("Referrals")
    FRAUD = "fraud", _("Fraud decisions")
    REDEMPTION = "redemption", _("Redemptions")
    PAYOUT = "payout", _("Payouts")
    VOUCHER = "voucher", _("Vouchers")
    ADMIN = "admin", _("Admin changes")


@dataclasses.dataclass(frozen=True)
class Activity:
    """One thing that happened to a member, for their history.

    ``actor`` is the user who did it (a staff user, or the member's own user), or
    ``None`` when the system did (an event from the host, a sweep, the checks).
    ``amount`` is already formatted in its unit (``+100 points``, ``-20.00 EUR``);
    ``object`` is the record it comes from (a ledger entry, a grant, a referral, a
    fraud decision, a redemption or payout history step, a voucher, an admin log
    entry), for linking.
    """

    at: datetime
    kind: str
    summary: str
    actor: Any = None
    account: Account | None = None
    program: Program | None = None
    amount: str | None = None
    object: Any = None

    @property
    def kind_label(self) -> str:
        """The translated name of :attr:`kind`."""
        return str(ActivityKind(self.kind).label)


# --- formatting ----------------------------------------------------------------------------


def _signed(value: Decimal | int) -> str:
    return f"+{value}" if value > 0 else str(value)


def entry_amount(entry: LedgerEntry, program: Program) -> str:
    """A ledger entry's signed amount in its unit: ``+100 points``, ``-20.00 EUR``."""
    if entry.unit == Unit.POINTS:
        return ngettext("%(n)s point", "%(n)s points", abs(entry.amount)) % {
            "n": _signed(entry.amount)
        }
    return f"{_signed(program.from_minor(entry.amount))} {program.currency}"


def grant_amount(grant: RewardGrant, program: Program) -> str:
    """A reward's value in its natural unit: ``120 points``, ``5.00 USD``, ``10%``, or
    ``whole order`` for an uncapped free item or period."""
    value = grant.value
    if grant.kind == RewardKind.POINTS:
        return ngettext("%(n)d point", "%(n)d points", int(value)) % {"n": int(value)}
    if grant.kind in PERCENT_KINDS:
        return f"{value.normalize():f}%"
    if value == 0 and grant.kind in ZERO_ALLOWED:
        return gettext("whole order")
    places = Decimal(1).scaleb(-program.currency_decimal_places)
    return f"{value.quantize(places)} {program.currency}"


def _money(program: Program, amount: Decimal | None) -> str | None:
    if amount is None:
        return None
    places = Decimal(1).scaleb(-program.currency_decimal_places)
    return f"{amount.quantize(places)} {program.currency}"


def _with_note(summary: str, note: str) -> str:
    note = (note or "").strip()
    return f"{summary}: {note}" if note else summary


def _member_name(account: Account) -> str:
    return str(account.member)


# --- the sources ----------------------------------------------------------------------------


@dataclasses.dataclass
class _Scope:
    """What one call looks at: the member's accounts (by pk), the limit and the start."""

    member: Any
    accounts: dict[Any, Account]
    limit: int
    since: datetime | None
    whole_member: bool  # no program filter: member-level records count too

    def recent(self, queryset: QuerySet[Any], field: str) -> QuerySet[Any]:
        """``queryset`` from ``since`` on, newest first, at most ``limit`` rows."""
        if self.since is not None:
            queryset = queryset.filter(**{f"{field}__gte": self.since})
        return queryset.order_by(f"-{field}", "-pk")[: self.limit]

    def account(self, pk: Any) -> Account | None:
        return self.accounts.get(pk)


def _ledger(scope: _Scope) -> Iterator[Activity]:
    entries = LedgerEntry.objects.filter(account_id__in=scope.accounts).select_related("created_by")
    for entry in scope.recent(entries, "created_at"):
        account = scope.account(entry.account_id)
        assert account is not None
        yield Activity(
            at=entry.created_at,
            kind=ActivityKind.LEDGER,
            summary=_with_note(
                gettext("%(kind)s (%(unit)s)")
                % {"kind": entry.get_kind_display(), "unit": entry.get_unit_display()},
                entry.memo,
            ),
            actor=entry.created_by,
            account=account,
            program=account.program,
            amount=entry_amount(entry, account.program),
            object=entry,
        )


def _grants_granted(scope: _Scope) -> Iterator[Activity]:
    grants = RewardGrant.objects.filter(account_id__in=scope.accounts).select_related("created_by")
    for grant in scope.recent(grants, "created_at"):
        account = scope.account(grant.account_id)
        assert account is not None
        if grant.source == GrantSource.MANUAL:
            summary = gettext("Reward granted by hand: %(kind)s") % {
                "kind": grant.get_kind_display()
            }
        else:
            summary = gettext("Reward granted: %(kind)s") % {"kind": grant.get_kind_display()}
        yield Activity(
            at=grant.created_at,
            kind=ActivityKind.REWARD,
            summary=_with_note(summary, grant.reason),
            actor=grant.created_by,
            account=account,
            program=account.program,
            amount=grant_amount(grant, account.program),
            object=grant,
        )


def _grants_resolved(scope: _Scope) -> Iterator[Activity]:
    grants = RewardGrant.objects.filter(
        account_id__in=scope.accounts, resolved_at__isnull=False
    ).select_related("revoked_by")
    for grant in scope.recent(grants, "resolved_at"):
        account = scope.account(grant.account_id)
        assert account is not None and grant.resolved_at is not None
        if grant.status == GrantStatus.RELEASED:
            summary = gettext("Reward released: %(kind)s") % {"kind": grant.get_kind_display()}
        elif grant.status == GrantStatus.VOIDED:
            summary = _with_note(
                gettext("Reward voided: %(kind)s") % {"kind": grant.get_kind_display()},
                grant.revoke_reason,
            )
        else:
            summary = _with_note(
                gettext("Reward reversed: %(kind)s") % {"kind": grant.get_kind_display()},
                grant.revoke_reason,
            )
        yield Activity(
            at=grant.resolved_at,
            kind=ActivityKind.REWARD,
            summary=summary,
            actor=grant.revoked_by if grant.status != GrantStatus.RELEASED else None,
            account=account,
            program=account.program,
            amount=grant_amount(grant, account.program),
            object=grant,
        )


def _referrals(scope: _Scope) -> QuerySet[Referral]:
    ids = list(scope.accounts)
    return Referral.objects.filter(Q(referrer_id__in=ids) | Q(referred_id__in=ids)).select_related(
        "code", "referrer__member", "referred__member"
    )


def _referral_sides(scope: _Scope, referral: Referral) -> tuple[Account, bool]:
    """The member's account in ``referral`` and whether they are the one referred."""
    referred = scope.account(referral.referred_id)
    if referred is not None:
        return referred, True
    referrer = scope.account(referral.referrer_id)
    assert referrer is not None
    return referrer, False


def _referrals_attached(scope: _Scope) -> Iterator[Activity]:
    for referral in scope.recent(_referrals(scope), "attached_at"):
        account, is_referred = _referral_sides(scope, referral)
        code = referral.code.code if referral.code is not None else "—"
        if is_referred and referral.referrer is None:
            summary = gettext("Signed up with the campaign code %(code)s") % {"code": code}
        elif is_referred:
            assert referral.referrer is not None
            summary = gettext("Signed up with the code %(code)s of %(referrer)s") % {
                "code": code,
                "referrer": _member_name(referral.referrer),
            }
        else:
            summary = gettext("Referred %(customer)s (code %(code)s)") % {
                "customer": _member_name(referral.referred),
                "code": code,
            }
        yield Activity(
            at=referral.attached_at,
            kind=ActivityKind.REFERRAL,
            summary=summary,
            account=account,
            program=account.program,
            object=referral,
        )


def _referrals_converted(scope: _Scope) -> Iterator[Activity]:
    converted = _referrals(scope).filter(converted_at__isnull=False)
    for referral in scope.recent(converted, "converted_at"):
        account, is_referred = _referral_sides(scope, referral)
        assert referral.converted_at is not None
        if is_referred:
            summary = gettext("Converted as a referred customer")
        else:
            summary = gettext("Referred customer %(customer)s converted") % {
                "customer": _member_name(referral.referred)
            }
        yield Activity(
            at=referral.converted_at,
            kind=ActivityKind.REFERRAL,
            summary=summary,
            account=account,
            program=account.program,
            amount=_money(account.program, referral.first_order_amount),
            object=referral,
        )


def _fraud_decisions(scope: _Scope) -> Iterator[Activity]:
    ids = list(scope.accounts)
    decisions = FraudDecision.objects.filter(
        Q(referral__referrer_id__in=ids) | Q(referral__referred_id__in=ids)
    ).select_related("decided_by", "referral__referrer__member", "referral__referred__member")
    for decision in scope.recent(decisions, "created_at"):
        referral = decision.referral
        account, _is_referred = _referral_sides(scope, referral)
        summary = gettext(
            "Fraud decision on the referral of %(customer)s: %(action)s (score %(score)d)"
        ) % {
            "customer": _member_name(referral.referred),
            "action": decision.get_action_display(),
            "score": decision.score,
        }
        yield Activity(
            at=decision.created_at,
            kind=ActivityKind.FRAUD,
            summary=_with_note(summary, decision.note),
            actor=decision.decided_by,
            account=account,
            program=account.program,
            object=decision,
        )


def _steps(
    scope: _Scope,
    events: QuerySet[Any],
    *,
    record: str,
    kind: str,
    describe: Callable[[Any, Any], str],
    amount: Callable[[Account, Any], str | None],
) -> Iterator[Activity]:
    """The history steps (``RedemptionEvent``, ``PayoutEvent``) of a workflow record
    (``record``: the step's foreign key to it) of the member's accounts."""
    for event in scope.recent(events, "created_at"):
        obj = getattr(event, record)
        account = scope.account(obj.account_id)
        assert account is not None
        yield Activity(
            at=event.created_at,
            kind=kind,
            summary=_with_note(describe(obj, event), event.note),
            actor=event.actor,
            account=account,
            program=account.program,
            amount=amount(account, obj),
            object=event,
        )


def _redemptions(scope: _Scope) -> Iterator[Activity]:
    events = RedemptionEvent.objects.filter(
        redemption__account_id__in=scope.accounts
    ).select_related("actor", "redemption__option")
    return _steps(
        scope,
        events,
        record="redemption",
        kind=ActivityKind.REDEMPTION,
        describe=lambda redemption, event: (
            gettext("Redemption #%(pk)s of %(option)s: %(action)s")
            % {
                "pk": redemption.pk,
                "option": redemption.option,
                "action": event.get_action_display(),
            }
        ),
        amount=lambda account, redemption: (
            ngettext("%(n)d point", "%(n)d points", redemption.points) % {"n": redemption.points}
        ),
    )


def _payouts(scope: _Scope) -> Iterator[Activity]:
    events = PayoutEvent.objects.filter(payout__account_id__in=scope.accounts).select_related(
        "actor", "payout"
    )
    return _steps(
        scope,
        events,
        record="payout",
        kind=ActivityKind.PAYOUT,
        describe=lambda payout, event: (
            gettext("Payout #%(pk)s by %(method)s: %(action)s")
            % {
                "pk": payout.pk,
                "method": payout.get_method_display().lower(),
                "action": event.get_action_display(),
            }
        ),
        amount=lambda account, payout: _money(account.program, payout.amount),
    )


def _vouchers(scope: _Scope) -> Iterator[Activity]:
    vouchers = Voucher.objects.filter(
        applied_account_id__in=scope.accounts, applied_at__isnull=False
    )
    for voucher in scope.recent(vouchers, "applied_at"):
        account = scope.account(voucher.applied_account_id)
        assert account is not None and voucher.applied_at is not None
        # Voucher codes are bearer secrets: the history names only their last characters.
        summary = gettext("Voucher …%(code)s applied to order %(order)s") % {
            "code": voucher.code[-4:],
            "order": voucher.applied_order_id,
        }
        yield Activity(
            at=voucher.applied_at,
            kind=ActivityKind.VOUCHER,
            summary=summary,
            account=account,
            program=account.program,
            amount=_money(account.program, voucher.discount),
            object=voucher,
        )


def _admin_log(scope: _Scope) -> Iterator[Activity]:
    """The admin's change log of the member, their accounts and their referrals
    (``django.contrib.admin``'s :class:`~django.contrib.admin.models.LogEntry`)."""
    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    member_model = type(scope.member)
    types = ContentType.objects.get_for_models(member_model, Account, Referral)
    ids = list(scope.accounts)
    referral_ids = (
        Referral.objects.filter(Q(referrer_id__in=ids) | Q(referred_id__in=ids))
        .annotate(key=Cast("pk", output_field=CharField()))
        .values("key")
    )
    about = Q(content_type=types[Account], object_id__in=[str(pk) for pk in ids]) | Q(
        content_type=types[Referral], object_id__in=referral_ids
    )
    if scope.whole_member:
        about |= Q(content_type=types[member_model], object_id=str(scope.member.pk))
    entries = LogEntry.objects.filter(about).select_related("user")
    accounts = {str(pk): account for pk, account in scope.accounts.items()}
    for entry in scope.recent(entries, "action_time"):
        account = None
        if entry.content_type_id == types[Account].pk:
            account = accounts.get(entry.object_id)
        yield Activity(
            at=entry.action_time,
            kind=ActivityKind.ADMIN,
            summary=_with_note(entry.object_repr, entry.get_change_message()),
            actor=entry.user,
            account=account,
            program=account.program if account is not None else None,
            object=entry,
        )


#: Each source, by the kind it yields, in the order ties in time are shown.
SOURCES: tuple[tuple[str, Callable[[_Scope], Iterator[Activity]]], ...] = (
    (ActivityKind.ADMIN, _admin_log),
    (ActivityKind.FRAUD, _fraud_decisions),
    (ActivityKind.REDEMPTION, _redemptions),
    (ActivityKind.PAYOUT, _payouts),
    (ActivityKind.VOUCHER, _vouchers),
    (ActivityKind.REWARD, _grants_resolved),
    (ActivityKind.LEDGER, _ledger),
    (ActivityKind.REWARD, _grants_granted),
    (ActivityKind.REFERRAL, _referrals_converted),
    (ActivityKind.REFERRAL, _referrals_attached),
)


def member_activity(
    member: Any,
    *,
    limit: int = DEFAULT_LIMIT,
    since: datetime | None = None,
    program: Program | int | str | None = None,
    kinds: Iterable[str] | None = None,
) -> list[Activity]:
    """The history of ``member`` (an instance of the member model), newest first: at
    most ``limit`` :class:`Activity` items, from ``since`` on when given.

    ``program`` (a program, its primary key or its slug) keeps the activity of that
    program only; ``kinds`` (values of :class:`ActivityKind`) keeps those sources only.
    One query for the member's accounts, then one per source (each bounded by
    ``limit``), so the number of queries never depends on the history's length.
    """
    limit = max(int(limit), 0)
    wanted = set(ActivityKind.values if kinds is None else kinds)
    accounts = Account.objects.filter(member_id=member.pk).select_related("member", "program")
    if isinstance(program, Program):
        accounts = accounts.filter(program_id=program.pk)
    elif isinstance(program, int):
        accounts = accounts.filter(program_id=program)
    elif program is not None:
        accounts = accounts.filter(program__slug=program)
    scope = _Scope(
        member=member,
        accounts={account.pk: account for account in accounts} if limit else {},
        limit=limit,
        since=since,
        whole_member=program is None,
    )
    ranked: list[tuple[datetime, int, Any, Activity]] = []
    for rank, (kind, source) in enumerate(SOURCES):
        # Without accounts only the admin's log of the member itself may have rows.
        has_rows = bool(scope.accounts) or (kind == ActivityKind.ADMIN and scope.whole_member)
        if kind not in wanted or not limit or not has_rows:
            continue
        for activity in source(scope):
            ranked.append((activity.at, rank, activity.object.pk, activity))
    # Newest first; at the same moment, the later step of a flow first (a sign-up's
    # fraud decision above its grant, above the referral itself).
    ranked.sort(key=lambda item: (item[0], -item[1], item[2]), reverse=True)
    return [activity for *_key, activity in ranked[:limit]]


__all__ = [
    "DEFAULT_LIMIT",
    "Activity",
    "ActivityKind",
    "entry_amount",
    "grant_amount",
    "member_activity",
]
