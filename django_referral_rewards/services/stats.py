"""Read-only figures for one referrer and the program leaderboard (the member portal's
dashboard and leaderboard pages; the API serves the same).

Nothing here writes. Each function is a fixed, small number of aggregate queries,
whatever the history's size.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from ..conf import app_settings
from ..enums import FraudStatus, GrantStatus, ReferralStatus, RewardKind
from ..exceptions import InvalidArgument
from ..models import Account, Program, Referral, RewardGrant, Visit

ZERO = Decimal("0")
COMMISSION_KINDS = (RewardKind.COMMISSION_FIXED, RewardKind.COMMISSION_PERCENT)
#: The leaderboard periods: all time, or the current calendar month.
PERIODS = ("all", "month")


@dataclasses.dataclass(frozen=True)
class ReferralStats:
    """How one referrer's sharing went.

    ``visits``: share-link visits on the codes the account owns; ``signups``: customers
    who signed up with them (every referral, whatever became of it); ``pending``,
    ``converted``, ``rejected`` (rejected or cancelled) and ``expired``: referrals by
    status; ``in_review``: referrals whose rewards wait for a fraud review.
    ``earned_points``, ``earned_credit`` and ``earned_commission`` are what referral
    rewards released to the account (net of reversals; credit and commission in the
    program currency); ``held_points`` ... what is still held.
    """

    visits: int
    signups: int
    pending: int
    converted: int
    rejected: int
    expired: int
    in_review: int
    earned_points: int
    earned_credit: Decimal
    earned_commission: Decimal
    held_points: int
    held_credit: Decimal
    held_commission: Decimal

    @property
    def conversion_rate(self) -> int | None:
        """Converted referrals as a whole percentage of sign-ups (``None`` without any)."""
        if not self.signups:
            return None
        return self.converted * 100 // self.signups


def _grant_sum(status: str, kinds: tuple[str, ...]) -> Coalesce:
    return Coalesce(
        Sum(
            F("value") - F("reversed_value"),
            filter=Q(status=status, kind__in=kinds),
        ),
        Value(ZERO),
        output_field=DecimalField(max_digits=18, decimal_places=4),
    )


def referral_stats(account: Account) -> ReferralStats:
    """The figures of ``account`` as a referrer (see :class:`ReferralStats`). Three
    queries."""
    visits = Visit.objects.filter(code__owner_id=account.pk).count()
    counts = Referral.objects.filter(referrer_id=account.pk).aggregate(
        signups=Count("pk"),
        pending=Count("pk", filter=Q(status=ReferralStatus.PENDING)),
        converted=Count("pk", filter=Q(status=ReferralStatus.CONVERTED)),
        rejected=Count(
            "pk", filter=Q(status__in=[ReferralStatus.REJECTED, ReferralStatus.CANCELLED])
        ),
        expired=Count("pk", filter=Q(status=ReferralStatus.EXPIRED)),
        in_review=Count("pk", filter=Q(fraud_status=FraudStatus.REVIEW)),
    )
    points = (RewardKind.POINTS,)
    credit = (RewardKind.CREDIT,)
    sums = RewardGrant.objects.filter(account_id=account.pk, referral__isnull=False).aggregate(
        earned_points=_grant_sum(GrantStatus.RELEASED, points),
        earned_credit=_grant_sum(GrantStatus.RELEASED, credit),
        earned_commission=_grant_sum(GrantStatus.RELEASED, COMMISSION_KINDS),
        held_points=_grant_sum(GrantStatus.HELD, points),
        held_credit=_grant_sum(GrantStatus.HELD, credit),
        held_commission=_grant_sum(GrantStatus.HELD, COMMISSION_KINDS),
    )
    return ReferralStats(
        visits=visits,
        **counts,
        earned_points=int(sums["earned_points"]),
        earned_credit=sums["earned_credit"],
        earned_commission=sums["earned_commission"],
        held_points=int(sums["held_points"]),
        held_credit=sums["held_credit"],
        held_commission=sums["held_commission"],
    )


@dataclasses.dataclass(frozen=True)
class LeaderboardRow:
    """One place on the leaderboard. ``name`` is the member's chosen leaderboard name,
    or ``""`` when they have not opted in (show them anonymously); ``is_you`` marks the
    viewer's own row."""

    rank: int
    account_id: int
    name: str
    conversions: int
    is_you: bool


def _month_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def leaderboard(
    program: Program,
    *,
    period: str = "all",
    size: int | None = None,
    viewer: Account | None = None,
    now: datetime | None = None,
) -> list[LeaderboardRow]:
    """The top referrers of ``program`` by converted referrals: all time (``"all"``) or
    this calendar month (``"month"``, in the current time zone). Ties go to whoever got
    there first (the older account). ``size`` defaults to
    ``REFERRAL_REWARDS_LEADERBOARD_SIZE``. Two queries (the ranking, then the names of
    those who opted in)."""
    if period not in PERIODS:
        raise InvalidArgument(
            gettext("Unknown leaderboard period %(period)r: use all or month.") % {"period": period}
        )
    size = size or app_settings.LEADERBOARD_SIZE
    if period == "all":
        ranked = list(
            Account.objects.filter(program_id=program.pk, conversions_count__gt=0)
            .order_by("-conversions_count", "pk")
            .values_list("pk", "conversions_count")[:size]
        )
    else:
        since = _month_start(now or timezone.now())
        ranked = list(
            Referral.objects.filter(
                program_id=program.pk,
                status=ReferralStatus.CONVERTED,
                converted_at__gte=since,
                referrer__isnull=False,
            )
            .values("referrer_id")
            .annotate(score=Count("pk"))
            .order_by("-score", "referrer_id")
            .values_list("referrer_id", "score")[:size]
        )
    names = (
        dict(
            Account.objects.filter(pk__in=[pk for pk, _ in ranked], show_on_leaderboard=True)
            .exclude(leaderboard_name="")
            .values_list("pk", "leaderboard_name")
        )
        if ranked
        else {}
    )
    viewer_id = viewer.pk if viewer is not None else None
    return [
        LeaderboardRow(
            rank=position,
            account_id=pk,
            name=names.get(pk, ""),
            conversions=score,
            is_you=pk == viewer_id,
        )
        for position, (pk, score) in enumerate(ranked, start=1)
    ]


__all__ = ["LeaderboardRow", "ReferralStats", "leaderboard", "referral_stats"]
