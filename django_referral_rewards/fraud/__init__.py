"""The fraud checks: small, pluggable callables that look at a referred sign-up (or the
order that may convert it) and return *signals* — a name, a score and a reason.

A program adds the scores up: at its ``fraud_review_score`` the referral waits for a
staff review (its rewards are held until the decision), at its ``fraud_block_score``
it is rejected at once. Every signal and every decision is stored with the referral,
so each outcome can be explained. Write your own check as a function::

    from django_referral_rewards.fraud import FraudContext, Signal

    def banned_domain(context: FraudContext):
        if context.customer_email.endswith("@example.net"):
            yield Signal("banned_domain", 100, "Sign-ups from example.net are not rewarded.")

and add its import string to ``REFERRAL_REWARDS_FRAUD_CHECKS``. See
``docs/topics/fraud.rst``.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..enums import FraudStage

if TYPE_CHECKING:
    from ..models import Account, Program, Referral, ReferralCode

ALLOW = "allow"
REVIEW = "review"
BLOCK = "block"


@dataclasses.dataclass(frozen=True)
class Signal:
    """Something a check noticed. ``score`` weighs it (``REFERRAL_REWARDS_FRAUD_SCORES``
    overrides it by ``name``); ``reason`` says it in words staff read (never the
    personal data itself); ``evidence`` is the keyed hash of what matched, if any."""

    name: str
    score: int
    reason: str
    evidence: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Name, score and reason (the evidence stays out of decision records)."""
        return {"name": self.name, "score": self.score, "reason": self.reason}


@dataclasses.dataclass
class FraudContext:
    """What the checks may look at. Hashes are keyed hashes
    (:func:`django_referral_rewards.hashing.keyed_hash`), ``""`` when unknown.

    ``stage`` is ``"signup"`` (the customer has just signed up with ``code``) or
    ``"order"`` (an order of the referred customer that may convert ``referral``;
    ``payment_hash`` is the hashed payment fingerprint the host gave, if any).
    ``referrer`` (the referrer's account, ``None`` for house codes) is loaded on first
    use when only ``referrer_id`` is known: test ``referrer_id`` first to stay free.
    """

    stage: str
    program: Program
    customer: Account
    now: datetime
    referrer_id: int | None = None
    referrer_account: Account | None = dataclasses.field(default=None, repr=False)
    code: ReferralCode | None = None
    user: Any = None
    referral: Referral | None = None
    ip_hash: str = ""
    device_hash: str = ""
    user_agent_hash: str = ""
    payment_hash: str = ""
    order_id: str = ""

    @property
    def at_signup(self) -> bool:
        return self.stage == FraudStage.SIGNUP

    @property
    def referrer(self) -> Account | None:
        """The referrer's account (one query the first time, unless it was given)."""
        if self.referrer_account is None and self.referrer_id is not None:
            from ..models import Account

            self.referrer_account = Account.objects.select_related("member").get(
                pk=self.referrer_id
            )
        return self.referrer_account

    @functools.cached_property
    def customer_member(self) -> Any:
        return self.customer.member

    @functools.cached_property
    def referrer_member(self) -> Any:
        return self.referrer.member if self.referrer is not None else None

    @functools.cached_property
    def customer_email(self) -> str:
        """The customer's e-mail address (their member's, else their user's)."""
        email = getattr(self.customer_member, "email", "") or ""
        if not email and self.user is not None:
            email = getattr(self.user, "email", "") or ""
        return str(email)

    @functools.cached_property
    def referrer_email(self) -> str:
        member = self.referrer_member
        if member is None:
            return ""
        email = member.email or ""
        if not email and member.user_id is not None:
            email = getattr(member.user, "email", "") or ""
        return str(email)

    @functools.cached_property
    def referrer_traces(self) -> dict[str, set[str]]:
        """The referrer's traces (hashed IP addresses and devices), by kind; one query,
        on first use."""
        from ..models import Trace

        found: dict[str, set[str]] = {}
        if self.referrer_id is None:
            return found
        rows = Trace.objects.filter(member__accounts=self.referrer_id).values_list(
            "kind", "value_hash"
        )
        for kind, value in rows:
            found.setdefault(kind, set()).add(value)
        return found


@dataclasses.dataclass(frozen=True)
class Assessment:
    """The checks' verdict: the signals found, their total score, and the outcome the
    program's thresholds give it (``"allow"``, ``"review"`` or ``"block"``)."""

    signals: tuple[Signal, ...]
    score: int
    outcome: str

    @property
    def flagged(self) -> bool:
        return self.outcome != ALLOW


def outcome_for(score: int, program: Program) -> str:
    """The outcome ``program``'s thresholds give ``score``."""
    if score >= program.fraud_block_score:
        return BLOCK
    if score >= program.fraud_review_score:
        return REVIEW
    return ALLOW


def run_checks(context: FraudContext) -> list[Signal]:
    """Run the configured checks on ``context`` and return their signals, with scores
    from ``REFERRAL_REWARDS_FRAUD_SCORES``; a name is counted once (the first signal
    of it wins)."""
    from ..conf import app_settings

    scores = app_settings.FRAUD_SCORES
    seen: set[str] = set()
    found = []
    for check in app_settings.fraud_checks():
        for signal in check(context) or ():
            if signal.name in seen:
                continue
            seen.add(signal.name)
            found.append(dataclasses.replace(signal, score=scores.get(signal.name, signal.score)))
    return found


def assess(context: FraudContext, *, base_score: int = 0) -> Assessment:
    """Run the checks and judge the total (``base_score`` being what earlier stages
    found) by the program's thresholds."""
    signals = run_checks(context)
    score = base_score + sum(signal.score for signal in signals)
    outcome = outcome_for(score, context.program)
    return Assessment(signals=tuple(signals), score=score, outcome=outcome)


__all__ = [
    "ALLOW",
    "BLOCK",
    "REVIEW",
    "Assessment",
    "FraudContext",
    "Signal",
    "assess",
    "outcome_for",
    "run_checks",
]
