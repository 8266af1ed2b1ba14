"""Professional referrals: patients or customers exchanged with partner clinics and
specialists, and the balance of who owes whom.

These are kept apart from customer referrals (nobody earns a reward). The balance of a
partner is *received - sent*, counted from this site's side, and read as the seed's
clinics read it: positive means "They owe us N referral(s)", negative "We owe them N
referral(s)", zero "Even".
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Abs
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from ..arguments import check_text
from ..enums import ReferralDirection
from ..exceptions import InvalidArgument
from ..models import Partner, ProfessionalReferral
from .workflow import actor

MAX_REFERENCE = 200
MAX_REASON = 200


@dataclasses.dataclass(frozen=True)
class PartnerBalance:
    """Referrals exchanged with one partner (in a date range, or ever)."""

    partner: Partner
    sent: int
    received: int

    @property
    def balance(self) -> int:
        """Received - sent: positive, they owe us; negative, we owe them."""
        return self.received - self.sent

    @property
    def description(self) -> str:
        """``"They owe us 2 referral(s)"``, ``"We owe them 1 referral(s)"`` or
        ``"Even"`` (translated, with the right plural)."""
        return describe(self.balance)


def describe(balance: int) -> str:
    """The words for a balance of ``balance`` (received - sent)."""
    if balance > 0:
        return ngettext(
            "They owe us %(count)d referral", "They owe us %(count)d referrals", balance
        ) % {"count": balance}
    if balance < 0:
        return ngettext(
            "We owe them %(count)d referral", "We owe them %(count)d referrals", -balance
        ) % {"count": -balance}
    return gettext("Even")


def _check_date(value: Any, name: str) -> datetime.date | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        raise InvalidArgument(
            gettext("%(name)s must be a date.") % {"name": name}, **{name: str(value)}
        )
    return value


def record_referral(
    partner: Partner,
    *,
    direction: str,
    date: datetime.date | None = None,
    reference: str = "",
    reason: str = "",
    notes: str = "",
    created_by: Any = None,
) -> ProfessionalReferral:
    """Record a patient or customer ``sent`` to ``partner`` or ``received`` from it,
    on ``date`` (default today). ``reference`` is your own reference for who was
    referred (no personal data needed); ``reason`` what for."""
    if not isinstance(partner, Partner) or partner.pk is None:
        raise InvalidArgument(gettext("partner must be a saved partner."))
    if direction not in ReferralDirection.values:
        raise InvalidArgument(
            gettext("direction must be 'sent' or 'received', not %(direction)r.")
            % {"direction": direction},
            direction=direction,
        )
    return ProfessionalReferral.objects.create(
        partner=partner,
        direction=direction,
        date=_check_date(date, "date") or timezone.localdate(),
        reference=check_text(reference, "reference", MAX_REFERENCE),
        reason=check_text(reason, "reason", MAX_REASON),
        notes=check_text(notes, "notes"),
        created_by=actor(created_by),
    )


def _range(start: datetime.date | None, end: datetime.date | None) -> Q:
    start = _check_date(start, "start")
    end = _check_date(end, "end")
    if start is not None and end is not None and start > end:
        raise InvalidArgument(gettext("The start date is after the end date."))
    window = Q()
    if start is not None:
        window &= Q(referrals__date__gte=start)
    if end is not None:
        window &= Q(referrals__date__lte=end)
    return window


def with_counts(
    queryset: QuerySet[Partner] | None = None,
    *,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> QuerySet[Partner]:
    """``queryset`` (default: every partner) annotated with ``referrals_sent``,
    ``referrals_received`` and ``referral_balance`` (received - sent) for referrals
    dated from ``start`` to ``end`` (both included; open ends when ``None``). One
    query, whatever the number of partners."""
    window = _range(start, end)
    queryset = Partner.objects.all() if queryset is None else queryset
    return queryset.annotate(
        referrals_sent=Count(
            "referrals", filter=window & Q(referrals__direction=ReferralDirection.SENT)
        ),
        referrals_received=Count(
            "referrals", filter=window & Q(referrals__direction=ReferralDirection.RECEIVED)
        ),
    ).annotate(referral_balance=F("referrals_received") - F("referrals_sent"))


def _balance_of(counted: Any, partner: Partner | None = None) -> PartnerBalance:
    """A :class:`PartnerBalance` from a partner annotated by :func:`with_counts`."""
    return PartnerBalance(
        partner=partner or counted,
        sent=int(counted.referrals_sent),
        received=int(counted.referrals_received),
    )


def balance(
    partner: Partner,
    *,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> PartnerBalance:
    """The referrals exchanged with ``partner`` (from ``start`` to ``end``, or ever)."""
    if not isinstance(partner, Partner) or partner.pk is None:
        raise InvalidArgument(gettext("partner must be a saved partner."))
    counted = with_counts(Partner.objects.filter(pk=partner.pk), start=start, end=end).get()
    return _balance_of(counted, partner)


def balances(
    *,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    partners: QuerySet[Partner] | None = None,
    include_inactive: bool = False,
) -> list[PartnerBalance]:
    """The balance report: one :class:`PartnerBalance` per partner (active ones unless
    ``include_inactive``), for referrals from ``start`` to ``end``, largest debts
    either way first, then by name. One query."""
    queryset = Partner.objects.all() if partners is None else partners
    if not include_inactive:
        queryset = queryset.filter(active=True)
    counted = with_counts(queryset, start=start, end=end).order_by(
        Abs("referral_balance").desc(), "name", "pk"
    )
    return [_balance_of(row) for row in counted]


__all__ = [
    "PartnerBalance",
    "balance",
    "balances",
    "describe",
    "record_referral",
    "with_counts",
]
