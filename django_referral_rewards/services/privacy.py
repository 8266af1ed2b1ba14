"""Personal data: what is held about a member, erasing it, and the retention purge.

What the fraud checks match on — IP addresses, user agents, device cookies, e-mail
addresses, phone numbers and payment fingerprints — is stored only as keyed hashes
(:func:`django_referral_rewards.hashing.keyed_hash`), and only for
``REFERRAL_REWARDS_RETENTION_DAYS``: :func:`purge_expired` removes what is older.

:func:`export_member` returns everything held about a member as plain JSON-ready data
(a subject access request); :func:`erase_member` pseudonymises a member while every
balance, ledger entry and program total stays exactly as it was (invariant 10): the
ledger is the site's bookkeeping, and it holds amounts, not personal data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Case, Count, Q, When
from django.utils import timezone

from ..abstract_models import AbstractMember
from ..codes import is_valid_generated, normalize, random_code
from ..conf import app_settings, get_member_model
from ..enums import (
    OPEN_PAYOUT_STATUSES,
    OPEN_REDEMPTION_STATUSES,
    FraudStatus,
    Unit,
    WebhookDeliveryStatus,
)
from ..exceptions import CodeTaken, ConfigurationError, InvalidArgument
from ..fraud.normalize import normalize_email, normalize_phone
from ..hashing import keyed_hash
from ..models import (
    Account,
    CodeUse,
    FraudDecision,
    FraudSignal,
    IdempotencyRecord,
    LedgerEntry,
    Order,
    OrderRefund,
    Payout,
    PayoutEvent,
    Program,
    Redemption,
    RedemptionEvent,
    Referral,
    ReferralCode,
    RewardGrant,
    Trace,
    Visit,
    Voucher,
    WebhookDelivery,
)
from .accounts import resolve_member
from .codes import MAX_ATTEMPTS
from .sweeps import claim_batches
from .workflow import copy_into

logger = logging.getLogger("django_referral_rewards.privacy")

#: The version of the layout :func:`export_member` returns; it changes only when a key
#: is removed or changes meaning (new keys may appear at any time).
EXPORT_FORMAT_VERSION = 1

#: What an export says instead of a keyed hash (see :func:`export_member`).
HASH_NOT_EXPORTED = "keyed hash, not exported"


# --- export ------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: ``Decimal``, dates and times, UUIDs and lazy
    strings become strings; dicts, lists and tuples are converted throughout; a model
    instance becomes its primary key."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    if isinstance(value, models.Model):
        return plain(value.pk)
    return str(value)


def _group(rows: Iterable[Any], key: str) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


def _money(program: Program, unit: str, amount: int) -> int | str:
    """A ledger amount as people read it: whole points, or a decimal of the currency."""
    if unit == Unit.POINTS:
        return int(amount)
    return str(program.from_minor(int(amount)))


def _member_record(member: AbstractMember) -> dict[str, Any]:
    """Every concrete field of the (possibly swapped) member model; relations by key."""
    return {
        field.name: plain(field.value_from_object(member)) for field in member._meta.concrete_fields
    }


def _code_label(code: ReferralCode | None, own: set[int]) -> str | None:
    """A code as the member may see it: their own codes and house codes by their text;
    another member's code only as a label (a vanity code holds its owner's name)."""
    if code is None:
        return None
    if code.owner_id is None or code.owner_id in own:
        return code.code
    return f"Code of account #{code.owner_id}"


def _referrer_label(account_id: int | None) -> str | None:
    return f"Account #{account_id}" if account_id is not None else None


def _events(rows: Iterable[Any], user_id: Any) -> list[dict[str, Any]]:
    """A redemption's or payout's history. Who took each step only as far as it
    concerns the member: themselves (``by_member``), or staff, whose identity is not
    the member's data."""
    return [
        {
            "action": event.action,
            "status": event.status,
            "note": event.note,
            "by_member": event.actor_id is not None and event.actor_id == user_id,
            "at": plain(event.created_at),
        }
        for event in rows
    ]


def export_member(member: Any) -> dict[str, Any]:
    """Everything held about ``member`` (a member, or a host user: their member), as a
    dict of plain JSON values (``json.dumps`` needs no custom encoder).

    Keys: ``format_version`` (:data:`EXPORT_FORMAT_VERSION`), ``exported_at``,
    ``member`` (every field of the member model), ``traces`` and ``accounts``: one per
    program, with its balances, tier, counters, own commission terms and leaderboard
    opt-in (``show_on_leaderboard``, ``leaderboard_name``), and its
    ``codes``, ``code_uses``, ``referrals_made``, ``referral`` (how the member was
    referred, with its fraud signals and decisions), ``ledger``, ``grants``,
    ``vouchers``, ``redemptions`` and ``payouts`` (each with its ``history``) and
    ``orders`` (with their ``refunds``). Money is a decimal string of the program
    currency, points are integers, times ISO 8601 strings.

    Other people's personal data stays out: referred customers and referrers appear as
    account numbers, another member's code as a label, staff as ``by_member: false``.
    Keyed hashes (traces, sign-up IP address and device, fraud evidence, payment
    fingerprints) are not exported — only that one is held: without the site's key a
    hash tells its holder nothing, and with a copy anyone holding the key could match
    it against other records. Reads only; a fixed number of queries whatever the
    number of rows. Raises :class:`~django_referral_rewards.exceptions.MemberNotFound`
    for a user without a member.
    """
    member = resolve_member(member, create=False)
    user_id = getattr(member, "user_id", None)
    accounts = list(
        Account.objects.filter(member_id=member.pk)
        .select_related("program", "tier")
        .order_by("program__slug", "pk")
    )
    traces = [
        {
            "kind": trace.kind,
            "value": HASH_NOT_EXPORTED,
            "first_seen": plain(trace.first_seen),
            "last_seen": plain(trace.last_seen),
        }
        for trace in Trace.objects.filter(member_id=member.pk).order_by("kind", "first_seen", "pk")
    ]
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": plain(timezone.now()),
        "member": _member_record(member),
        "traces": traces,
        "accounts": _export_accounts(accounts, user_id) if accounts else [],
    }


def _export_accounts(accounts: list[Account], user_id: Any) -> list[dict[str, Any]]:
    ids = [account.pk for account in accounts]
    own = set(ids)
    programs = {account.pk: account.program for account in accounts}

    codes = _group(
        ReferralCode.objects.filter(owner_id__in=ids).select_related("campaign").order_by("pk"),
        "owner_id",
    )
    visit_counts = dict(
        Visit.objects.filter(code__owner_id__in=ids)
        .order_by()
        .values_list("code_id")
        .annotate(n=Count("pk"))
    )
    use_counts = dict(
        CodeUse.objects.filter(code__owner_id__in=ids)
        .order_by()
        .values_list("code_id")
        .annotate(n=Count("pk"))
    )
    uses = _group(
        CodeUse.objects.filter(customer_id__in=ids).select_related("code").order_by("pk"),
        "customer_id",
    )
    made = _group(
        Referral.objects.filter(referrer_id__in=ids)
        .select_related("code", "campaign")
        .order_by("attached_at", "pk"),
        "referrer_id",
    )
    received = {
        referral.referred_id: referral
        for referral in Referral.objects.filter(referred_id__in=ids).select_related(
            "code", "campaign"
        )
    }
    signals = _group(
        FraudSignal.objects.filter(referral__referred_id__in=ids).order_by("created_at", "pk"),
        "referral_id",
    )
    decisions = _group(
        FraudDecision.objects.filter(referral__referred_id__in=ids).order_by("created_at", "pk"),
        "referral_id",
    )
    entries = _group(
        LedgerEntry.objects.filter(account_id__in=ids).order_by("created_at", "pk"), "account_id"
    )
    grants = _group(
        RewardGrant.objects.filter(account_id__in=ids)
        .select_related("order")
        .order_by("created_at", "pk"),
        "account_id",
    )
    vouchers = _group(
        Voucher.objects.filter(account_id__in=ids).order_by("created_at", "pk"), "account_id"
    )
    redemptions = _group(
        Redemption.objects.filter(account_id__in=ids)
        .select_related("option", "voucher")
        .order_by("requested_at", "pk"),
        "account_id",
    )
    redemption_events = _group(
        RedemptionEvent.objects.filter(redemption__account_id__in=ids).order_by("created_at", "pk"),
        "redemption_id",
    )
    payouts = _group(
        Payout.objects.filter(account_id__in=ids).order_by("requested_at", "pk"), "account_id"
    )
    payout_events = _group(
        PayoutEvent.objects.filter(payout__account_id__in=ids).order_by("created_at", "pk"),
        "payout_id",
    )
    orders = _group(
        Order.objects.filter(account_id__in=ids).order_by("occurred_at", "pk"), "account_id"
    )
    refunds = _group(
        OrderRefund.objects.filter(order__account_id__in=ids).order_by("created_at", "pk"),
        "order_id",
    )

    exported = []
    for account in accounts:
        program = programs[account.pk]
        referral = received.get(account.pk)
        exported.append(
            {
                "id": account.pk,
                "program": program.slug,
                "program_name": program.name,
                "currency": program.currency,
                "created": plain(account.created),
                "balances": {
                    "points": account.points_balance,
                    "held_points": account.held_points,
                    "credit": _money(program, Unit.CREDIT, account.credit_balance),
                    "commission": _money(program, Unit.COMMISSION, account.commission_balance),
                },
                "lifetime_points": account.lifetime_points,
                "conversions": account.conversions_count,
                "qualifying_spend": plain(account.qualifying_spend),
                "tier": account.tier.name if account.tier is not None else None,
                "tier_since": plain(account.tier_since),
                "tier_review_at": plain(account.tier_review_at),
                "commission_terms": {
                    "kind": account.commission_kind,
                    "value": plain(account.commission_value),
                },
                "metadata": plain(account.metadata),
                "show_on_leaderboard": account.show_on_leaderboard,
                "leaderboard_name": account.leaderboard_name,
                "codes": [
                    {
                        "code": code.code,
                        "kind": code.kind,
                        "personal": code.personal_for_id == account.pk,
                        "campaign": code.campaign.name if code.campaign is not None else None,
                        "active": code.active,
                        "starts_at": plain(code.starts_at),
                        "expires_at": plain(code.expires_at),
                        "max_uses": code.max_uses,
                        "max_uses_per_customer": code.max_uses_per_customer,
                        "uses": use_counts.get(code.pk, 0),
                        "visits": visit_counts.get(code.pk, 0),
                        "created": plain(code.created),
                        "metadata": plain(code.metadata),
                    }
                    for code in codes.get(account.pk, [])
                ],
                "code_uses": [
                    {
                        "code": _code_label(use.code, own),
                        "reference": [use.reference_type, use.reference_id],
                        "at": plain(use.created_at),
                    }
                    for use in uses.get(account.pk, [])
                ],
                "referrals_made": [
                    {
                        "id": made_one.pk,
                        "customer": f"Customer #{made_one.referred_id}",
                        "customer_account": made_one.referred_id,
                        "status": made_one.status,
                        "code": _code_label(made_one.code, own),
                        "campaign": made_one.campaign.name if made_one.campaign else None,
                        "attached_at": plain(made_one.attached_at),
                        "activated_at": plain(made_one.activated_at),
                        "converted_at": plain(made_one.converted_at),
                        "expires_at": plain(made_one.expires_at),
                    }
                    for made_one in made.get(account.pk, [])
                ],
                "referral": (
                    _export_referral(
                        referral,
                        own,
                        signals.get(referral.pk, []),
                        decisions.get(referral.pk, []),
                    )
                    if referral is not None
                    else None
                ),
                "ledger": [
                    {
                        "id": entry.pk,
                        "unit": entry.unit,
                        "kind": entry.kind,
                        "amount": _money(program, entry.unit, entry.amount),
                        "balance_after": _money(program, entry.unit, entry.balance_after),
                        "reason": entry.memo,
                        "reference": [entry.reference_type, entry.reference_id],
                        "reverses": entry.reverses_id,
                        "expires_at": plain(entry.expires_at),
                        "at": plain(entry.created_at),
                    }
                    for entry in entries.get(account.pk, [])
                ],
                "grants": [
                    {
                        "id": grant.pk,
                        "kind": grant.kind,
                        "value": plain(grant.value),
                        "reversed_value": plain(grant.reversed_value),
                        "status": grant.status,
                        "source": grant.source,
                        "trigger": grant.trigger,
                        "reason": grant.reason,
                        "description": grant.description,
                        "referral": grant.referral_id,
                        "order": grant.order.order_id if grant.order is not None else None,
                        "release_at": plain(grant.release_at),
                        "resolved_at": plain(grant.resolved_at),
                        "revoke_reason": grant.revoke_reason,
                        "explanation": plain(grant.explanation),
                        "at": plain(grant.created_at),
                    }
                    for grant in grants.get(account.pk, [])
                ],
                "vouchers": [
                    {
                        "code": voucher.display_code,
                        "kind": voucher.kind,
                        "value": plain(voucher.value),
                        "currency": voucher.currency,
                        "description": voucher.description,
                        "status": voucher.status,
                        "expires_at": plain(voucher.expires_at),
                        "applied_order_id": voucher.applied_order_id,
                        "discount": plain(voucher.discount),
                        "applied_at": plain(voucher.applied_at),
                        "issued_at": plain(voucher.created_at),
                    }
                    for voucher in vouchers.get(account.pk, [])
                ],
                "redemptions": [
                    {
                        "id": redemption.pk,
                        "option": redemption.option.name,
                        "points": redemption.points,
                        "status": redemption.status,
                        "requested_at": plain(redemption.requested_at),
                        "processed_at": plain(redemption.processed_at),
                        "fulfilled_at": plain(redemption.fulfilled_at),
                        "notes": redemption.notes,
                        "reason": redemption.reason,
                        "applied_to": redemption.applied_to,
                        "voucher": (
                            redemption.voucher.display_code
                            if redemption.voucher is not None
                            else None
                        ),
                        "history": _events(redemption_events.get(redemption.pk, []), user_id),
                    }
                    for redemption in redemptions.get(account.pk, [])
                ],
                "payouts": [
                    {
                        "id": payout.pk,
                        "amount": plain(payout.amount),
                        "currency": payout.currency,
                        "method": payout.method,
                        "destination": payout.destination,
                        "status": payout.status,
                        "requested_at": plain(payout.requested_at),
                        "approved_at": plain(payout.approved_at),
                        "paid_at": plain(payout.paid_at),
                        "cancelled_at": plain(payout.cancelled_at),
                        "external_reference": payout.external_reference,
                        "reason": payout.reason,
                        "notes": payout.notes,
                        "history": _events(payout_events.get(payout.pk, []), user_id),
                    }
                    for payout in payouts.get(account.pk, [])
                ],
                "orders": [
                    {
                        "order_id": order.order_id,
                        "amount": plain(order.amount),
                        "refunded_amount": plain(order.refunded_amount),
                        "currency": order.currency,
                        "qualifying": order.qualifying,
                        "converted_referral": order.converted_referral,
                        "payment_fingerprint": (
                            HASH_NOT_EXPORTED if order.payment_fingerprint_hash else None
                        ),
                        "occurred_at": plain(order.occurred_at),
                        "refunds": [
                            {
                                "refund_id": refund.key,
                                "amount": plain(refund.amount),
                                "at": plain(refund.created_at),
                            }
                            for refund in refunds.get(order.pk, [])
                        ],
                    }
                    for order in orders.get(account.pk, [])
                ],
            }
        )
    return exported


def _export_referral(
    referral: Referral,
    own: set[int],
    signals: list[FraudSignal],
    decisions: list[FraudDecision],
) -> dict[str, Any]:
    """How the member was referred (they are the customer), with the fraud checks'
    findings and every decision taken on them."""
    return {
        "id": referral.pk,
        "referrer": _referrer_label(referral.referrer_id),
        "code": _code_label(referral.code, own),
        "campaign": referral.campaign.name if referral.campaign is not None else None,
        "status": referral.status,
        "attached_at": plain(referral.attached_at),
        "activated_at": plain(referral.activated_at),
        "converted_at": plain(referral.converted_at),
        "expires_at": plain(referral.expires_at),
        "first_order_id": referral.first_order_id,
        "first_order_amount": plain(referral.first_order_amount),
        "referred_revenue": plain(referral.referred_revenue),
        "fraud_status": referral.fraud_status,
        "fraud_score": referral.fraud_score,
        "review_deadline": plain(referral.review_deadline),
        "signup_ip_address": HASH_NOT_EXPORTED if referral.ip_hash else None,
        "signup_device": HASH_NOT_EXPORTED if referral.device_hash else None,
        "signup_user_agent": HASH_NOT_EXPORTED if referral.user_agent_hash else None,
        "metadata": plain(referral.metadata),
        "fraud_signals": [
            {
                "stage": signal.stage,
                "name": signal.name,
                "score": signal.score,
                "reason": signal.reason,
                "evidence": HASH_NOT_EXPORTED if signal.evidence else None,
                "at": plain(signal.created_at),
            }
            for signal in signals
        ],
        "fraud_decisions": [
            {
                "action": decision.action,
                "stage": decision.stage,
                "score": decision.score,
                "signals": plain(decision.signals),
                "automatic": decision.automatic,
                "by_staff": decision.decided_by_id is not None,
                "note": decision.note,
                "at": plain(decision.created_at),
            }
            for decision in decisions
        ],
    }


# --- erasure -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ErasureResult:
    """What :func:`erase_member` changed (counts of rows), and what it found open.

    A second erasure of the same member changes nothing: every count is 0 and
    ``changed`` is false.
    """

    member_id: Any
    erased_at: dt.datetime
    #: Whether the member record itself was pseudonymised now.
    member: bool = False
    #: Accounts whose ``metadata``, leaderboard name or leaderboard opt-in was cleared
    #: (balances are never touched).
    accounts: int = 0
    #: Traces (hashed IP addresses and devices) deleted.
    traces: int = 0
    #: Referrals of the member (as the customer) whose sign-up hashes or metadata were
    #: blanked.
    referrals: int = 0
    #: Fraud signals whose evidence (a hash of the member's data) was blanked.
    signals: int = 0
    #: Orders whose payment fingerprint hash was blanked (amounts are kept).
    orders: int = 0
    #: Codes of the member deactivated, or whose metadata was cleared.
    codes: int = 0
    #: Codes not of the generated shape (vanity codes hold a name) given a random code.
    codes_replaced: int = 0
    #: Redemptions whose notes or reason were blanked.
    redemptions: int = 0
    #: Payouts whose destination, notes, reason or error were blanked, or whose
    #: requester (the member's user) was removed.
    payouts: int = 0
    #: Redemption and payout history steps whose note was blanked or whose actor (the
    #: member's user) was removed.
    history: int = 0
    #: Admin log entries about the member, their accounts or their referrals whose
    #: object name (which held the member's name) was replaced by the pseudonym.
    admin_log: int = 0
    #: Payouts still pending, approved or being sent (their destination is now blank).
    open_payouts: int = 0
    #: Redemptions still pending or approved.
    open_redemptions: int = 0

    @property
    def changed(self) -> bool:
        """Whether this erasure changed anything (``False`` when it was done before)."""
        return bool(
            self.member
            or self.accounts
            or self.traces
            or self.referrals
            or self.signals
            or self.orders
            or self.admin_log
            or self.codes
            or self.codes_replaced
            or self.redemptions
            or self.payouts
            or self.history
        )

    def as_dict(self) -> dict[str, Any]:
        """The counts as plain data (for a log line, an admin message or JSON)."""
        data: dict[str, Any] = plain(dataclasses.asdict(self))
        return data


def _erase_fields(member: AbstractMember) -> dict[str, Any]:
    """The member adapter's field values for an erased member, checked against the
    member model's concrete fields."""
    values = app_settings.member_adapter().erase_member_fields(member)
    if not isinstance(values, dict):
        raise ConfigurationError(
            "MemberAdapter.erase_member_fields() must return a dict of field values."
        )
    concrete = {field.name: field for field in member._meta.concrete_fields}
    for name in values:
        field = concrete.get(name)
        if field is None or field.primary_key:
            raise ConfigurationError(
                f"MemberAdapter.erase_member_fields() names {name!r}, which is not a field "
                f"of {member._meta.label} that may be written."
            )
    return values


def _pseudonymise(member: AbstractMember) -> bool:
    """Write the erased values onto the (locked) member; whether anything changed."""
    changed = []
    for name, value in _erase_fields(member).items():
        field = member._meta.get_field(name)
        target = value.pk if isinstance(value, models.Model) else value
        if field.value_from_object(member) != target:  # type: ignore[union-attr]
            setattr(member, name, value)
            changed.append(name)
    if changed:
        member.save(update_fields=changed)
    return bool(changed)


def _personal_hashes(member: AbstractMember, account_ids: list[int]) -> set[str]:
    """The keyed hashes of the member's own data, as fraud evidence may hold them:
    their traces, their sign-up hashes, their e-mail address and phone number, the
    payment fingerprints of their orders."""
    found = set(Trace.objects.filter(member_id=member.pk).values_list("value_hash", flat=True))
    for row in Referral.objects.filter(referred_id__in=account_ids).values_list(
        "ip_hash", "device_hash", "user_agent_hash"
    ):
        found.update(row)
    found.update(
        Order.objects.filter(account_id__in=account_ids)
        .exclude(payment_fingerprint_hash="")
        .values_list("payment_fingerprint_hash", flat=True)
    )
    emails = {member.email}
    user = member.user if member.user_id is not None else None
    if user is not None:
        emails.add(getattr(user, "email", "") or "")
    for email in emails:
        found.add(keyed_hash(normalize_email(email), purpose="email"))
    found.add(keyed_hash(normalize_phone(member.phone), purpose="phone"))
    found.discard("")
    return found


def _fresh_code() -> str:
    """A new code of the generated shape: the configured generator's fallback when it
    gives one, else a random code (an erased code must never carry a name, and must
    not be replaced again by a second erasure)."""
    candidate = normalize(app_settings.code_generator().fallback(account=None))
    return candidate if is_valid_generated(candidate) else random_code()


def _replace_code(code: ReferralCode) -> None:
    for _ in range(MAX_ATTEMPTS):
        candidate = _fresh_code()
        try:
            with transaction.atomic():
                ReferralCode.objects.filter(pk=code.pk).update(code=candidate)
        except IntegrityError:
            continue
        code.code = candidate
        return
    raise CodeTaken("Could not find a free code to replace an erased member's code.")


def _erase_codes(account_ids: list[int]) -> tuple[int, int]:
    changed = replaced = 0
    for code in ReferralCode.objects.filter(owner_id__in=account_ids).order_by("pk"):
        updates: dict[str, Any] = {}
        if code.active:
            updates["active"] = False
        if code.metadata:
            updates["metadata"] = {}
        if updates:
            ReferralCode.objects.filter(pk=code.pk).update(**updates)
            changed += 1
        if not is_valid_generated(code.code):
            _replace_code(code)
            replaced += 1
    return changed, replaced


def _blank_history(
    model: type[RedemptionEvent] | type[PayoutEvent],
    parent: str,
    account_ids: list[int],
    user_id: Any,
) -> int:
    """Blank the notes of the history steps of the accounts' redemptions or payouts
    (``parent``), and remove the member's user as the actor of the steps they took."""
    rows = model._default_manager.filter(**{f"{parent}__account_id__in": account_ids})
    touched = ~Q(note="")
    updates: dict[str, Any] = {"note": ""}
    if user_id is not None:
        touched |= Q(actor_id=user_id)
        updates["actor"] = Case(When(actor_id=user_id, then=None), default="actor_id")
    return int(rows.filter(touched).update(**updates))


def erase_member(
    member: Any, *, erased_by: Any = None, now: dt.datetime | None = None
) -> ErasureResult:
    """Remove the personal data held about ``member`` (a member, or a host user: their
    member), keeping every balance, ledger entry, grant, order amount, referral status
    and counter — so every report and program total stays the same (invariant 10).

    In one transaction, under the row locks of the member's referrals (as a customer),
    then of their accounts (in primary key order), then of the member:

    * the member's fields become the member adapter's
      :meth:`~django_referral_rewards.adapter.MemberAdapter.erase_member_fields`
      (by default the name ``"Erased member #<pk>"``, no e-mail, phone, user or
      metadata, and inactive);
    * their traces are deleted; the sign-up hashes and metadata of the referral that
      brought them are blanked, and the evidence of fraud signals on it or holding a
      hash of their data; their orders' payment fingerprint hashes are blanked;
    * their codes are deactivated (metadata cleared), and codes that are not of the
      generated shape (a vanity code such as ``JUAN2025`` holds a name) get a random
      code, so links and reports still resolve to the same rows;
    * the free text of their redemptions and payouts (fulfilment notes, reasons,
      payout destination and notes, sending errors, history notes) is blanked, and
      their user removed as requester or actor; accounts' metadata is cleared, and so
      are their leaderboard names and opt-ins (they are listed anonymously again).

    Open payouts and redemptions are allowed and stay open (``open_payouts`` and
    ``open_redemptions`` count them), but a payout's destination is gone: settle or
    cancel them first if it is still needed. Ledger entries are never changed (they
    are immutable). Erasing an erased member changes nothing
    (:attr:`ErasureResult.changed` is false). After commit the erasure is logged on the
    ``django_referral_rewards.privacy`` logger with the member's key and ``erased_by``.
    """
    member = resolve_member(member, create=False)
    now = now or timezone.now()
    Member = get_member_model()
    account_ids = list(
        Account.objects.filter(member_id=member.pk).order_by("pk").values_list("pk", flat=True)
    )
    with transaction.atomic():
        # The order every event of a referred customer locks in: referral, then account.
        list(
            Referral.objects.select_for_update().filter(referred_id__in=account_ids).order_by("pk")
        )
        list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk"))
        locked = Member._default_manager.select_for_update().get(pk=member.pk)
        user_id = getattr(locked, "user_id", None)
        hashes = _personal_hashes(locked, account_ids)
        counts: dict[str, Any] = {}

        counts["member"] = _pseudonymise(locked)
        # The leaderboard name is the member's own words (often their name).
        counts["accounts"] = (
            Account.objects.filter(pk__in=account_ids)
            .filter(~Q(metadata={}) | Q(show_on_leaderboard=True) | ~Q(leaderboard_name=""))
            .update(metadata={}, show_on_leaderboard=False, leaderboard_name="")
        )
        counts["traces"], _ = Trace.objects.filter(member_id=locked.pk).delete()
        counts["referrals"] = _erase_referrals(account_ids)
        signal_rows = FraudSignal.objects.filter(referral__referred_id__in=account_ids)
        if hashes:
            signal_rows = FraudSignal.objects.filter(
                Q(referral__referred_id__in=account_ids) | Q(evidence__in=sorted(hashes))
            )
        counts["signals"] = signal_rows.exclude(evidence="").update(evidence="")
        counts["orders"] = (
            Order.objects.filter(account_id__in=account_ids)
            .exclude(payment_fingerprint_hash="")
            .update(payment_fingerprint_hash="")
        )
        counts["codes"], counts["codes_replaced"] = _erase_codes(account_ids)
        counts["redemptions"] = (
            Redemption.objects.filter(account_id__in=account_ids)
            .filter(~Q(notes="") | ~Q(reason=""))
            .update(notes="", reason="")
        )
        counts["payouts"] = _erase_payouts(account_ids, user_id)
        counts["history"] = _blank_history(
            RedemptionEvent, "redemption", account_ids, user_id
        ) + _blank_history(PayoutEvent, "payout", account_ids, user_id)
        counts["admin_log"] = _scrub_admin_log(locked, account_ids)
        counts["open_payouts"] = Payout.objects.filter(
            account_id__in=account_ids, status__in=OPEN_PAYOUT_STATUSES
        ).count()
        counts["open_redemptions"] = Redemption.objects.filter(
            account_id__in=account_ids, status__in=OPEN_REDEMPTION_STATUSES
        ).count()
        result = ErasureResult(member_id=locked.pk, erased_at=now, **counts)
        by = getattr(erased_by, "pk", erased_by)
        transaction.on_commit(
            lambda: logger.info(
                "Member %s erased by %s: %s",
                result.member_id,
                by if by is not None else "-",
                {k: v for k, v in result.as_dict().items() if v} if result.changed else "nothing",
            )
        )
    copy_into(locked, member)
    return result


def _scrub_admin_log(member: Any, account_ids: list[int]) -> int:
    """Rename the admin log's entries about ``member``, their accounts and the
    referrals where they are the customer (``object_repr`` is the object's ``str()``
    at the time, which held their name). Nothing when the admin is not installed."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return 0
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    referral_ids = list(
        Referral.objects.filter(referred_id__in=account_ids).values_list("pk", flat=True)
    )
    renamed = 0
    for model, pks in (
        (type(member), [member.pk]),
        (Account, account_ids),
        (Referral, referral_ids),
    ):
        if not pks:
            continue
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
        entries = LogEntry.objects.filter(
            content_type=content_type, object_id__in=[str(pk) for pk in pks]
        )
        for object_id in entries.values_list("object_id", flat=True).distinct():
            name = str(model._default_manager.get(pk=str(object_id)))[:200]
            renamed += (
                entries.filter(object_id=object_id)
                .exclude(object_repr=name)
                .update(object_repr=name)
            )
    return renamed


def _erase_referrals(account_ids: list[int]) -> int:
    rows = Referral.objects.filter(referred_id__in=account_ids)
    changed = rows.filter(
        ~Q(ip_hash="") | ~Q(device_hash="") | ~Q(user_agent_hash="") | ~Q(metadata={})
    )
    return int(changed.update(ip_hash="", device_hash="", user_agent_hash="", metadata={}))


def _erase_payouts(account_ids: list[int], user_id: Any) -> int:
    rows = Payout.objects.filter(account_id__in=account_ids)
    touched = ~Q(destination="") | ~Q(notes="") | ~Q(reason="") | ~Q(last_error="")
    updates: dict[str, Any] = {"destination": "", "notes": "", "reason": "", "last_error": ""}
    if user_id is not None:
        touched |= Q(requested_by_id=user_id)
        updates["requested_by"] = Case(
            When(requested_by_id=user_id, then=None), default="requested_by_id"
        )
    return int(rows.filter(touched).update(**updates))


# --- retention ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PurgeResult:
    """What :func:`purge_expired` removed or blanked (counts of rows)."""

    cutoff: dt.datetime
    #: Visits deleted.
    visits: int = 0
    #: Traces deleted.
    traces: int = 0
    #: Fraud signals deleted.
    signals: int = 0
    #: Referrals whose sign-up IP address, device and user agent hashes were blanked.
    referrals: int = 0
    #: Orders whose payment fingerprint hash was blanked.
    orders: int = 0
    #: Kept answers of idempotent API requests deleted (older than
    #: :setting:`REFERRAL_REWARDS_API_IDEMPOTENCY_RETENTION_HOURS`).
    idempotency_records: int = 0
    #: Webhook deliveries settled (delivered, given up or cancelled) before the cut-off
    #: deleted, with their attempts.
    webhook_deliveries: int = 0
    #: Transactions (batches) run.
    batches: int = 0

    @property
    def total(self) -> int:
        return (
            self.visits
            + self.traces
            + self.signals
            + self.referrals
            + self.orders
            + self.idempotency_records
            + self.webhook_deliveries
        )


def _positive(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument(f"{name} must be a whole number of at least 1.", **{name: value})
    return value


def _sweep(due: models.QuerySet[Any], batch_size: int, act: str, **updates: Any) -> tuple[int, int]:
    """Delete (``act="delete"``) or update the rows of ``due`` in primary key batches,
    one transaction each; rows another worker holds are skipped until the next run.
    Returns (rows changed, batches)."""
    changed = batches = 0
    for batch in claim_batches(due.only("pk"), batch_size):
        batches += 1
        rows = due.filter(pk__in=[row.pk for row in batch])
        if act == "delete":
            _, deleted = rows.delete()
            changed += deleted.get(due.model._meta.label, 0)  # not the rows it cascades to
        else:
            changed += rows.update(**updates)
    return changed, batches


def purge_expired(
    *,
    now: dt.datetime | None = None,
    days: int | None = None,
    batch_size: int | None = None,
) -> PurgeResult:
    """The retention sweep: remove what is kept only for fraud matching once it is
    older than ``days`` (default :setting:`REFERRAL_REWARDS_RETENTION_DAYS`).

    Deletes visits (by ``created_at``), traces not seen since (``last_seen``) and
    fraud signals (``created_at``) — except the signals of referrals still in review,
    which the decision needs; the decisions keep the signals' names, scores and
    reasons. Blanks the sign-up IP address, device and user agent hashes of referrals
    attached before the cut-off (those in review keep them until decided) and the
    payment fingerprint hashes of orders completed before it. Deletes the kept answers
    of idempotent API requests older than
    :setting:`REFERRAL_REWARDS_API_IDEMPOTENCY_RETENTION_HOURS` (``days`` does not
    change that), and the webhook deliveries settled before the cut-off (delivered, given
    up or cancelled; pending ones stay until they are).

    Works in primary key batches of ``batch_size`` rows (default
    :setting:`REFERRAL_REWARDS_SWEEP_BATCH_SIZE`), one short transaction each, so no
    single statement locks a table for long; rows another worker holds are left for
    the next run. Running it again removes nothing more.
    """
    now = now or timezone.now()
    days = _positive(days if days is not None else app_settings.RETENTION_DAYS, "days")
    size = _positive(
        batch_size if batch_size is not None else app_settings.SWEEP_BATCH_SIZE, "batch_size"
    )
    cutoff = now - dt.timedelta(days=days)
    answers_cutoff = now - dt.timedelta(hours=app_settings.API_IDEMPOTENCY_RETENTION_HOURS)
    in_review = Referral.objects.filter(fraud_status=FraudStatus.REVIEW).values("pk")
    counts: dict[str, int] = {}
    batches = 0
    for name, due, act, updates in (
        ("visits", Visit.objects.filter(created_at__lt=cutoff), "delete", {}),
        ("traces", Trace.objects.filter(last_seen__lt=cutoff), "delete", {}),
        (
            "signals",
            FraudSignal.objects.filter(created_at__lt=cutoff).exclude(referral_id__in=in_review),
            "delete",
            {},
        ),
        (
            "referrals",
            Referral.objects.filter(attached_at__lt=cutoff)
            .exclude(fraud_status=FraudStatus.REVIEW)
            .filter(~Q(ip_hash="") | ~Q(device_hash="") | ~Q(user_agent_hash="")),
            "update",
            {"ip_hash": "", "device_hash": "", "user_agent_hash": ""},
        ),
        (
            "orders",
            Order.objects.filter(occurred_at__lt=cutoff).exclude(payment_fingerprint_hash=""),
            "update",
            {"payment_fingerprint_hash": ""},
        ),
        (
            "idempotency_records",
            IdempotencyRecord.objects.filter(created_at__lt=answers_cutoff),
            "delete",
            {},
        ),
        (
            "webhook_deliveries",
            WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(
                status=WebhookDeliveryStatus.PENDING
            ),
            "delete",
            {},
        ),
    ):
        counts[name], run = _sweep(due, size, act, **updates)
        batches += run
    return PurgeResult(cutoff=cutoff, batches=batches, **counts)
