"""The default fraud checks. Each takes a :class:`~django_referral_rewards.fraud.FraudContext`
and yields :class:`~django_referral_rewards.fraud.Signal` objects; each is named in
``REFERRAL_REWARDS_FRAUD_CHECKS`` by its import string, so a host may drop, replace or
add checks. Scores are the defaults of :data:`DEFAULT_SCORES`, overridable by name in
``REFERRAL_REWARDS_FRAUD_SCORES``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, Q

from ..hashing import keyed_hash
from . import FraudContext, Signal
from .normalize import email_domain, is_disposable, normalize_email, normalize_phone

DEFAULT_CHECKS = (
    "django_referral_rewards.fraud.checks.same_person",
    "django_referral_rewards.fraud.checks.same_contact",
    "django_referral_rewards.fraud.checks.existing_customer",
    "django_referral_rewards.fraud.checks.same_device_or_network",
    "django_referral_rewards.fraud.checks.same_payment",
    "django_referral_rewards.fraud.checks.disposable_email",
    "django_referral_rewards.fraud.checks.velocity",
)

DEFAULT_SCORES = {
    "same_user": 100,
    "same_email": 100,
    "same_phone": 100,
    "existing_customer": 100,
    "same_device": 80,
    "same_ip": 40,
    "same_payment": 100,
    "disposable_email": 50,
    "velocity": 50,
}


def _span(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def _signal(name: str, reason: str, evidence: str = "") -> Signal:
    return Signal(name=name, score=DEFAULT_SCORES[name], reason=reason, evidence=evidence)


def same_person(context: FraudContext) -> Iterator[Signal]:
    """The customer is the referrer: the same member, or the referrer's own user."""
    if not context.at_signup or context.referrer is None:
        return
    referrer = context.referrer_member
    same_member = context.referrer.member_id == context.customer.member_id
    same_user = (
        context.user is not None
        and referrer.user_id is not None
        and referrer.user_id == getattr(context.user, "pk", None)
    )
    if same_member or same_user:
        yield _signal("same_user", "The customer is the referrer (their own code).")


def same_contact(context: FraudContext) -> Iterator[Signal]:
    """The customer's e-mail address (normalised: case, and dots and ``+tags`` where
    the provider ignores them) or phone number is the referrer's."""
    if not context.at_signup or context.referrer is None:
        return
    email = normalize_email(context.customer_email)
    if email and email == normalize_email(context.referrer_email):
        yield _signal(
            "same_email",
            "The customer's e-mail address is the referrer's, written differently.",
            keyed_hash(email, purpose="email"),
        )
    phone = normalize_phone(getattr(context.customer_member, "phone", ""))
    if phone and phone == normalize_phone(getattr(context.referrer_member, "phone", "")):
        yield _signal(
            "same_phone",
            "The customer's phone number is the referrer's.",
            keyed_hash(phone, purpose="phone"),
        )


def existing_customer(context: FraudContext) -> Iterator[Signal]:
    """The customer was a customer before signing up (the member adapter's
    :meth:`~django_referral_rewards.adapter.MemberAdapter.is_existing_customer`)."""
    from ..conf import app_settings

    if not context.at_signup:
        return
    if app_settings.member_adapter().is_existing_customer(
        context.user, account=context.customer, program=context.program
    ):
        yield _signal("existing_customer", "The customer was already a customer.")


def same_device_or_network(context: FraudContext) -> Iterator[Signal]:
    """The customer signed up from a device or an IP address the referrer has been
    seen using (their traces)."""
    if not context.at_signup or context.referrer_id is None:
        return
    if not (context.device_hash or context.ip_hash):
        return
    traces = context.referrer_traces
    if context.device_hash and context.device_hash in traces.get("device", ()):
        yield _signal(
            "same_device",
            "The customer signed up on a device the referrer uses.",
            context.device_hash,
        )
    if context.ip_hash and context.ip_hash in traces.get("ip", ()):
        yield _signal(
            "same_ip",
            "The customer signed up from an IP address the referrer uses.",
            context.ip_hash,
        )


def same_payment(context: FraudContext) -> Iterator[Signal]:
    """The customer's order was paid with a payment method (the host's fingerprint of
    a card or account) the referrer has paid with."""
    from ..models import Order

    if context.at_signup or not context.payment_hash or context.referrer_id is None:
        return
    used = (
        Order.objects.filter(
            payment_fingerprint_hash=context.payment_hash,
            account__member__accounts=context.referrer_id,
        )
        .order_by()
        .exists()
    )
    if used:
        yield _signal(
            "same_payment",
            "The customer paid with a payment method the referrer has used.",
            context.payment_hash,
        )


def disposable_email(context: FraudContext) -> Iterator[Signal]:
    """The customer's e-mail address is at a disposable (throw-away) domain."""
    if context.at_signup and is_disposable(context.customer_email):
        domain = email_domain(context.customer_email)
        yield _signal(
            "disposable_email",
            f"The customer's e-mail address is at a disposable domain ({domain}).",
        )


def velocity(context: FraudContext) -> Iterator[Signal]:
    """More referred sign-ups than ``REFERRAL_REWARDS_FRAUD_VELOCITY`` allows within its
    window: with this code, from this IP address, or for this referrer. One query."""
    from ..conf import app_settings
    from ..models import Referral

    if not context.at_signup:
        return
    limits = app_settings.FRAUD_VELOCITY
    window = int(limits["window"])  # type: ignore[arg-type]
    dimensions = {
        "code": (Q(code=context.code) if context.code is not None else None, limits["code"]),
        "ip": (Q(ip_hash=context.ip_hash) if context.ip_hash else None, limits["ip"]),
        "referrer": (
            Q(referrer_id=context.referrer_id) if context.referrer_id is not None else None,
            limits["referrer"],
        ),
    }
    active = {name: q for name, (q, limit) in dimensions.items() if q is not None and limit}
    if not active:
        return
    any_of = Q()
    for q in active.values():
        any_of |= q
    counts = (
        Referral.objects.filter(any_of, attached_at__gte=context.now - timedelta(seconds=window))
        .order_by()
        .aggregate(**{name: Count("pk", filter=q) for name, q in active.items()})
    )
    labels = {
        "code": "with this code",
        "ip": "from this IP address",
        "referrer": "for this referrer",
    }
    over = [
        f"{counts[name] + 1} sign-ups {labels[name]} within {_span(window)} "
        f"(more than {dimensions[name][1]})"
        for name in active
        if counts[name] + 1 > dimensions[name][1]
    ]
    if over:
        evidence = context.ip_hash if "ip" in active and counts["ip"] + 1 > limits["ip"] else ""
        yield _signal("velocity", "; ".join(over) + ".", evidence)
