"""Read-only analytics for staff: the referral funnel, per-referrer and per-campaign
performance, the leaderboard, the points ledger summary, the tier distribution and the
top customers.

Nothing here writes. Every function is a fixed, small number of aggregate queries (grouped
in the database, never a Python loop over rows), whatever the number of referrals, members
or ledger entries; what each one counts is described in ``docs/topics/analytics.rst``.

Date ranges are half-open: ``since`` (inclusive) to ``until`` (exclusive), timezone-aware
datetimes; either may be ``None`` (unbounded). Amounts of money are ``Decimal`` in the
program currency; points are ``int``; rates are ``Decimal`` percentages with two decimal
places, or ``None`` when there is nothing to divide by.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from ..codes import normalize
from ..conf import app_settings
from ..enums import (
    LEDGER_REWARD_UNITS,
    VOUCHER_REWARD_KINDS,
    EntryKind,
    FraudStatus,
    GrantStatus,
    ReferralStatus,
    RewardKind,
    Unit,
)
from ..exceptions import InvalidArgument
from ..models import (
    Account,
    Campaign,
    LedgerEntry,
    Order,
    Program,
    Referral,
    ReferralCode,
    RewardGrant,
    Tier,
    Visit,
)
from . import ledger, stats

ZERO = Decimal("0")
HUNDRED = Decimal("100")
RATE_PLACES = Decimal("0.01")
_MONEY = DecimalField(max_digits=20, decimal_places=4)

#: The orderings :func:`referrer_performance` accepts (each descending; ties go to the
#: older account).
REFERRER_ORDERINGS = ("conversions", "signups", "revenue")
#: What :func:`top_customers` ranks by.
CUSTOMER_BASES = ("spend", "points")

COMMISSION_KINDS = tuple(k for k, unit in LEDGER_REWARD_UNITS.items() if unit == Unit.COMMISSION)
VOUCHER_KINDS = tuple(VOUCHER_REWARD_KINDS)


# --- helpers -----------------------------------------------------------------------------


def rate(part: int, whole: int) -> Decimal | None:
    """``part`` as a percentage of ``whole`` with two decimal places (half up), or
    ``None`` when ``whole`` is zero."""
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(RATE_PLACES, ROUND_HALF_UP)


def _point_value(given: Decimal | None) -> Decimal | None:
    """``given``, or :setting:`REFERRAL_REWARDS_POINT_VALUE` when it is ``None``;
    :class:`InvalidArgument` for anything but a ``Decimal`` of at least 0."""
    value = app_settings.POINT_VALUE if given is None else given
    if value is not None and (not isinstance(value, Decimal) or value < 0):
        raise InvalidArgument(gettext("The value of a point must be a Decimal of at least 0."))
    return value


def _check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise InvalidArgument(gettext("The start of a date range must come before its end."))


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgument(gettext("The limit must be a whole number of at least 1."))


def _in_range(field: str, since: datetime | None, until: datetime | None) -> Q:
    q = Q()
    if since is not None:
        q &= Q(**{f"{field}__gte": since})
    if until is not None:
        q &= Q(**{f"{field}__lt": until})
    return q


def _campaign_q(field: str, campaign: Campaign | str | None) -> Q:
    """Filter ``field`` (a path to a Campaign) by a Campaign or its slug."""
    if campaign is None:
        return Q()
    if isinstance(campaign, Campaign):
        return Q(**{f"{field}_id": campaign.pk})
    if isinstance(campaign, str):
        return Q(**{f"{field}__slug": campaign})
    raise InvalidArgument(gettext("Expected a campaign or its slug."))


def _code_q(field: str, code: ReferralCode | str | None) -> Q:
    """Filter ``field`` (a path to a ReferralCode) by a ReferralCode or the code itself
    (case, spaces and dashes ignored)."""
    if code is None:
        return Q()
    if isinstance(code, ReferralCode):
        return Q(**{f"{field}_id": code.pk})
    if isinstance(code, str):
        return Q(**{f"{field}__code": normalize(code)})
    raise InvalidArgument(gettext("Expected a referral code or its text."))


def _display_name(name: str, member_id: int) -> str:
    """A member as staff see them in analytics: their name, never their e-mail."""
    return name or gettext("Member #%(id)s") % {"id": member_id}


def _quantize(amount: Decimal, program: Program) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-program.currency_decimal_places), ROUND_HALF_UP)


@dataclasses.dataclass(frozen=True)
class RewardsCost:
    """What rewards cost, net of reversals; grants voided before release cost nothing.

    ``points``: points granted; ``credit`` and ``commission``: amounts of the program
    currency; ``vouchers``: vouchers granted (held or released; their worth depends on
    the order they are applied to, so they are counted, not valued).
    """

    points: int
    credit: Decimal
    commission: Decimal
    vouchers: int

    def in_currency(self, point_value: Decimal | None) -> Decimal | None:
        """Credit plus commission plus the points at ``point_value`` (the worth of one
        point in the program currency). ``None`` when points were granted and their
        value is unknown (``point_value=None``)."""
        if point_value is None:
            return None if self.points else self.credit + self.commission
        return self.credit + self.commission + self.points * point_value


def _cost_expressions(prefix: str = "") -> dict[str, Any]:
    """Conditional sums over RewardGrant rows (``prefix`` is the path to the grant)."""

    def net(kinds: tuple[str, ...]) -> Coalesce:
        return Coalesce(
            Sum(
                F(f"{prefix}value") - F(f"{prefix}reversed_value"),
                # Every grant decided costs something, except one voided before release.
                filter=Q(**{f"{prefix}kind__in": kinds})
                & ~Q(**{f"{prefix}status": GrantStatus.VOIDED}),
            ),
            Value(ZERO),
            output_field=_MONEY,
        )

    return {
        "cost_points": net((RewardKind.POINTS,)),
        "cost_credit": net((RewardKind.CREDIT,)),
        "cost_commission": net(COMMISSION_KINDS),
        "cost_vouchers": Count(
            f"{prefix}pk",
            filter=Q(
                **{
                    f"{prefix}kind__in": VOUCHER_KINDS,
                    f"{prefix}status__in": (GrantStatus.HELD, GrantStatus.RELEASED),
                }
            ),
        ),
    }


def _cost_from(row: Mapping[str, Any] | None) -> RewardsCost:
    if row is None:
        return RewardsCost(points=0, credit=ZERO, commission=ZERO, vouchers=0)
    return RewardsCost(
        points=int(row["cost_points"]),
        credit=Decimal(row["cost_credit"]),
        commission=Decimal(row["cost_commission"]),
        vouchers=int(row["cost_vouchers"]),
    )


def _referral_counts() -> dict[str, Any]:
    return {
        "signups": Count("pk"),
        "pending": Count("pk", filter=Q(status=ReferralStatus.PENDING)),
        "converted": Count("pk", filter=Q(status=ReferralStatus.CONVERTED)),
        "expired": Count("pk", filter=Q(status=ReferralStatus.EXPIRED)),
        "rejected": Count("pk", filter=Q(status=ReferralStatus.REJECTED)),
        "cancelled": Count("pk", filter=Q(status=ReferralStatus.CANCELLED)),
        "in_review": Count("pk", filter=Q(fraud_status=FraudStatus.REVIEW)),
        "revenue": Coalesce(Sum("referred_revenue"), Value(ZERO), output_field=_MONEY),
    }


# --- funnel ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Funnel:
    """Visits → sign-ups → conversions for a program (or one campaign or code).

    ``visits``: share-link visits in the range. ``signups``: referrals attached in the
    range (typed or remembered codes; a sign-up need not follow a recorded visit);
    ``pending``, ``converted``, ``expired``, ``rejected``, ``cancelled``: what has become
    of those sign-ups so far (they add up to ``signups``); ``in_review``: those whose
    rewards wait for a fraud review. ``conversion_rate``: converted as a percentage of
    sign-ups (``None`` without sign-ups). ``revenue``: the referred customers' qualifying
    orders, net of refunds.
    """

    visits: int
    signups: int
    pending: int
    converted: int
    expired: int
    rejected: int
    cancelled: int
    in_review: int
    conversion_rate: Decimal | None
    revenue: Decimal


def funnel(
    program: Program | str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    campaign: Campaign | str | None = None,
    code: ReferralCode | str | None = None,
) -> Funnel:
    """The referral funnel of ``program`` (see :class:`Funnel`), optionally of one
    ``campaign`` (a Campaign or its slug) and/or one ``code`` (a ReferralCode or its
    text). Sign-ups are the cohort attached in ``[since, until)``, followed to their
    current status. Three queries (the program, the visits, the referrals)."""
    _check_range(since, until)
    program_obj = Program.objects.resolve(program)
    visits = Visit.objects.filter(
        Q(code__program_id=program_obj.pk)
        & _in_range("created_at", since, until)
        & _campaign_q("code__campaign", campaign)
        & _code_q("code", code)
    ).count()
    counts = Referral.objects.filter(
        Q(program_id=program_obj.pk)
        & _in_range("attached_at", since, until)
        & _campaign_q("campaign", campaign)
        & _code_q("code", code)
    ).aggregate(**_referral_counts())
    return Funnel(
        visits=visits,
        signups=counts["signups"],
        pending=counts["pending"],
        converted=counts["converted"],
        expired=counts["expired"],
        rejected=counts["rejected"],
        cancelled=counts["cancelled"],
        in_review=counts["in_review"],
        conversion_rate=rate(counts["converted"], counts["signups"]),
        revenue=Decimal(counts["revenue"]),
    )


# --- per referrer ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReferrerPerformance:
    """One referrer's results over the sign-ups they brought in the range.

    ``name`` is the member's name (never their e-mail). ``signups`` and ``conversions``
    count their referrals attached in the range (conversions: those converted so far);
    ``revenue`` is those customers' qualifying orders net of refunds; ``cost`` is every
    reward decided for those referrals, to the referrer and to the referred customers
    (:class:`RewardsCost`); ``cost_total`` is that cost in the program currency
    (``None`` when points were granted and no ``point_value`` was given).
    """

    account_id: int
    member_id: int
    name: str
    signups: int
    conversions: int
    conversion_rate: Decimal | None
    revenue: Decimal
    cost: RewardsCost
    cost_total: Decimal | None


def referrer_performance(
    program: Program | str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    campaign: Campaign | str | None = None,
    limit: int = 50,
    order_by: str = "conversions",
    point_value: Decimal | None = None,
) -> list[ReferrerPerformance]:
    """The ``limit`` best referrers of ``program`` by ``order_by`` (``"conversions"``,
    ``"signups"`` or ``"revenue"``, descending; ties go to the older account), over the
    referrals attached in ``[since, until)`` (optionally through one ``campaign``).
    House referrals (campaign codes without an owner) have no referrer and are left out.
    Four queries: the program, the ranking, the rewards cost of those ranked, their
    names."""
    _check_range(since, until)
    _check_limit(limit)
    point_value = _point_value(point_value)
    if order_by not in REFERRER_ORDERINGS:
        raise InvalidArgument(
            gettext("Unknown ordering %(order)r: use one of %(choices)s.")
            % {"order": order_by, "choices": ", ".join(REFERRER_ORDERINGS)}
        )
    program_obj = Program.objects.resolve(program)
    cohort = (
        Q(program_id=program_obj.pk, referrer__isnull=False)
        & _in_range("attached_at", since, until)
        & _campaign_q("campaign", campaign)
    )
    sort = {"conversions": "converted", "signups": "signups", "revenue": "revenue"}[order_by]
    counts = _referral_counts()
    ranked = list(
        Referral.objects.filter(cohort)
        .values("referrer_id")
        .annotate(
            signups=counts["signups"], converted=counts["converted"], revenue=counts["revenue"]
        )
        .order_by(f"-{sort}", "referrer_id")[:limit]
    )
    if not ranked:
        return []
    ids = [row["referrer_id"] for row in ranked]
    grant_cohort = (
        Q(referral__program_id=program_obj.pk, referral__referrer_id__in=ids)
        & _in_range("referral__attached_at", since, until)
        & _campaign_q("referral__campaign", campaign)
    )
    costs = {
        row["referral__referrer_id"]: row
        for row in RewardGrant.objects.filter(grant_cohort)
        .values("referral__referrer_id")
        .annotate(**_cost_expressions())
        .order_by()
    }
    names = {
        pk: (member_id, name)
        for pk, member_id, name in Account.objects.filter(pk__in=ids).values_list(
            "pk", "member_id", "member__name"
        )
    }
    result = []
    for row in ranked:
        member_id, name = names[row["referrer_id"]]
        cost = _cost_from(costs.get(row["referrer_id"]))
        result.append(
            ReferrerPerformance(
                account_id=row["referrer_id"],
                member_id=member_id,
                name=_display_name(name, member_id),
                signups=row["signups"],
                conversions=row["converted"],
                conversion_rate=rate(row["converted"], row["signups"]),
                revenue=Decimal(row["revenue"]),
                cost=cost,
                cost_total=cost.in_currency(point_value),
            )
        )
    return result


# --- leaderboard -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LeaderboardEntry:
    """One place on the staff leaderboard: every referrer, opted in or not. ``name`` is
    the member's name (never their e-mail); ``leaderboard_name`` what they chose to show
    other members (``""`` when they have not opted in)."""

    rank: int
    account_id: int
    member_id: int
    name: str
    leaderboard_name: str
    conversions: int


def leaderboard(
    program: Program | str | None = None,
    *,
    period: str = "all",
    limit: int = 10,
    now: datetime | None = None,
) -> list[LeaderboardEntry]:
    """The top ``limit`` referrers of ``program`` by converted referrals, all time
    (``"all"``) or this calendar month (``"month"``, in the current time zone), ranked
    exactly as the member portal ranks them
    (:func:`~django_referral_rewards.services.stats.leaderboard`: ties go to the older
    account). Four queries: the program, the ranking, the portal's opt-in names and the
    members' names."""
    _check_limit(limit)
    program_obj = Program.objects.resolve(program)
    ranked = stats.leaderboard(program_obj, period=period, size=limit, now=now)
    if not ranked:
        return []
    names = {
        pk: (member_id, name, shown, chosen)
        for pk, member_id, name, shown, chosen in Account.objects.filter(
            pk__in=[row.account_id for row in ranked]
        ).values_list("pk", "member_id", "member__name", "show_on_leaderboard", "leaderboard_name")
    }
    result = []
    for row in ranked:
        member_id, name, shown, chosen = names[row.account_id]
        result.append(
            LeaderboardEntry(
                rank=row.rank,
                account_id=row.account_id,
                member_id=member_id,
                name=_display_name(name, member_id),
                leaderboard_name=chosen if shown else "",
                conversions=row.conversions,
            )
        )
    return result


# --- per campaign ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CampaignPerformance:
    """One campaign's funnel and cost over the range (counted as in :class:`Funnel`:
    visits on the campaign's codes, sign-ups attached through the campaign and what
    became of them). ``cost`` is every reward decided for those referrals;
    ``budget_used`` is that cost in the program currency (``None`` when points were
    granted and no ``point_value`` was given); ``budget`` is the campaign's budget
    (``None`` without one)."""

    campaign_id: int
    slug: str
    name: str
    active: bool
    starts_at: datetime | None
    ends_at: datetime | None
    visits: int
    signups: int
    conversions: int
    conversion_rate: Decimal | None
    revenue: Decimal
    cost: RewardsCost
    budget: Decimal | None
    budget_used: Decimal | None


def campaign_performance(
    program: Program | str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    point_value: Decimal | None = None,
) -> list[CampaignPerformance]:
    """Every campaign of ``program`` (newest start first, as the admin lists them), with
    its figures over ``[since, until)`` (see :class:`CampaignPerformance`), campaigns
    without activity included. Five queries: the program, the campaigns, their visits,
    their referrals, their rewards cost."""
    _check_range(since, until)
    point_value = _point_value(point_value)
    program_obj = Program.objects.resolve(program)
    campaigns = list(Campaign.objects.filter(program_id=program_obj.pk))
    if not campaigns:
        return []
    visits = dict(
        Visit.objects.filter(
            Q(code__program_id=program_obj.pk, code__campaign__isnull=False)
            & _in_range("created_at", since, until)
        )
        .values("code__campaign_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("code__campaign_id", "n")
    )
    cohort = Q(program_id=program_obj.pk, campaign__isnull=False) & _in_range(
        "attached_at", since, until
    )
    counts = _referral_counts()
    referral_rows = {
        row["campaign_id"]: row
        for row in Referral.objects.filter(cohort)
        .values("campaign_id")
        .annotate(
            signups=counts["signups"], converted=counts["converted"], revenue=counts["revenue"]
        )
        .order_by()
    }
    grant_q = Q(referral__program_id=program_obj.pk, referral__campaign__isnull=False)
    grant_q &= _in_range("referral__attached_at", since, until)
    costs = {
        row["referral__campaign_id"]: row
        for row in RewardGrant.objects.filter(grant_q)
        .values("referral__campaign_id")
        .annotate(**_cost_expressions())
        .order_by()
    }
    result = []
    for campaign in campaigns:
        row: Mapping[str, Any] = referral_rows.get(campaign.pk, {})
        signups = int(row.get("signups", 0))
        converted = int(row.get("converted", 0))
        cost = _cost_from(costs.get(campaign.pk))
        budget = campaign.budget
        result.append(
            CampaignPerformance(
                campaign_id=campaign.pk,
                slug=campaign.slug,
                name=campaign.name,
                active=campaign.active,
                starts_at=campaign.starts_at,
                ends_at=campaign.ends_at,
                visits=int(visits.get(campaign.pk, 0)),
                signups=signups,
                conversions=converted,
                conversion_rate=rate(converted, signups),
                revenue=Decimal(row.get("revenue", ZERO)),
                cost=cost,
                budget=Decimal(budget) if budget is not None else None,
                budget_used=cost.in_currency(point_value),
            )
        )
    return result


# --- points ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PointsSummary:
    """The program's points, from the ledger, over the range (all time without one).

    ``issued``: points earned (order points and released point rewards); ``redeemed``:
    points spent on redemptions; ``expired``: points that expired (these three are
    positive). ``reversed``, ``adjusted`` and ``transferred`` are signed net sums
    (a reversal takes points back after a refund, or returns the points of a rejected
    or cancelled redemption; staff adjustments go either way). ``net`` is the sum of all
    of them (the change of the outstanding balance over the range). ``outstanding`` is
    the points members hold at the end of the range (now, without ``until``);
    ``held`` is the points decided but still on hold, now. ``liability`` is
    ``outstanding`` in the program currency at ``point_value`` (``None`` without one).
    """

    issued: int
    redeemed: int
    expired: int
    reversed: int
    adjusted: int
    transferred: int
    net: int
    outstanding: int
    held: int
    point_value: Decimal | None
    liability: Decimal | None


def points_summary(
    program: Program | str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    point_value: Decimal | None = None,
) -> PointsSummary:
    """The points ledger of ``program`` summed by entry kind (see
    :class:`PointsSummary`). All time: the figures of
    :func:`~django_referral_rewards.services.ledger.program_totals` plus the held
    points (four queries). With a range: the entries created in ``[since, until)``, the
    balance at ``until`` and the held points (four queries)."""
    _check_range(since, until)
    point_value = _point_value(point_value)
    program_obj = Program.objects.resolve(program)
    if since is None and until is None:
        totals = ledger.program_totals(program_obj)[Unit.POINTS]
        kinds: Mapping[str, int] = totals
        outstanding = totals["balances"]
    else:
        entries = LedgerEntry.objects.filter(account__program_id=program_obj.pk, unit=Unit.POINTS)
        kinds = dict(
            entries.filter(_in_range("created_at", since, until))
            .values("kind")
            .annotate(total=Sum("amount"))
            .order_by()
            .values_list("kind", "total")
        )
        if until is None:
            outstanding = int(
                Account.objects.filter(program_id=program_obj.pk).aggregate(
                    total=Sum("points_balance")
                )["total"]
                or 0
            )
        else:
            outstanding = int(
                entries.filter(created_at__lt=until).aggregate(total=Sum("amount"))["total"] or 0
            )
    held = int(
        Account.objects.filter(program_id=program_obj.pk).aggregate(total=Sum("held_points"))[
            "total"
        ]
        or 0
    )

    def total(kind: str) -> int:
        return int(kinds.get(kind, 0) or 0)

    net = sum(total(kind) for kind in EntryKind.values)
    liability = (
        _quantize(outstanding * point_value, program_obj) if point_value is not None else None
    )
    return PointsSummary(
        issued=total(EntryKind.EARN),
        redeemed=-total(EntryKind.SPEND),
        expired=-total(EntryKind.EXPIRE),
        reversed=total(EntryKind.REVERSE),
        adjusted=total(EntryKind.ADJUST),
        transferred=total(EntryKind.TRANSFER),
        net=net,
        outstanding=outstanding,
        held=held,
        point_value=point_value,
        liability=liability,
    )


# --- tiers -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TierShare:
    """How many accounts of the program are in one tier. ``tier_id``, ``name`` and
    ``rank`` are ``None``, ``""`` and ``None`` for accounts without a tier; ``share`` is
    the percentage of all the program's accounts (``None`` without accounts)."""

    tier_id: int | None
    name: str
    rank: int | None
    active: bool
    accounts: int
    share: Decimal | None


def tier_distribution(program: Program | str | None = None) -> list[TierShare]:
    """Accounts per tier of ``program``: first those without a tier, then every tier in
    rank order (lowest first), empty tiers included. Three queries."""
    program_obj = Program.objects.resolve(program)
    tiers = list(Tier.objects.filter(program_id=program_obj.pk).order_by("rank"))
    counts: dict[int | None, int] = dict(
        Account.objects.filter(program_id=program_obj.pk)
        .values("tier_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("tier_id", "n")
    )
    everyone = sum(counts.values())
    rows = [
        TierShare(
            tier_id=None,
            name="",
            rank=None,
            active=True,
            accounts=counts.get(None, 0),
            share=rate(counts.get(None, 0), everyone),
        )
    ]
    rows.extend(
        TierShare(
            tier_id=tier.pk,
            name=tier.name,
            rank=tier.rank,
            active=tier.active,
            accounts=counts.get(tier.pk, 0),
            share=rate(counts.get(tier.pk, 0), everyone),
        )
        for tier in tiers
    )
    return rows


# --- customers ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TopCustomer:
    """One of the program's best customers. All time, ``spend`` is their qualifying
    spend and ``points`` their lifetime points (the account's counters); over a range,
    ``spend`` is their qualifying orders completed in it (net of refunds) and ``points``
    the points they earned in it. ``tier`` is the name of their tier now (``""``
    without one). ``name`` is the member's name, never their e-mail."""

    rank: int
    account_id: int
    member_id: int
    name: str
    spend: Decimal
    points: int
    tier: str


def top_customers(
    program: Program | str | None = None,
    *,
    by: str = "spend",
    limit: int = 10,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[TopCustomer]:
    """The ``limit`` customers of ``program`` with the most qualifying spend
    (``by="spend"``) or points (``by="points"``), all time or over ``[since, until)``;
    customers with nothing are left out; ties go to the older account. Two queries all
    time, four with a range."""
    _check_range(since, until)
    _check_limit(limit)
    if by not in CUSTOMER_BASES:
        raise InvalidArgument(gettext("Unknown ranking %(by)r: use spend or points.") % {"by": by})
    program_obj = Program.objects.resolve(program)
    details = ("pk", "member_id", "member__name", "tier__name")
    if since is None and until is None:
        field = "qualifying_spend" if by == "spend" else "lifetime_points"
        rows = (
            Account.objects.filter(program_id=program_obj.pk, **{f"{field}__gt": 0})
            .order_by(f"-{field}", "pk")
            .values(*details, "qualifying_spend", "lifetime_points")[:limit]
        )
        return [
            TopCustomer(
                rank=position,
                account_id=row["pk"],
                member_id=row["member_id"],
                name=_display_name(row["member__name"], row["member_id"]),
                spend=Decimal(row["qualifying_spend"]),
                points=int(row["lifetime_points"]),
                tier=row["tier__name"] or "",
            )
            for position, row in enumerate(rows, start=1)
        ]
    spend_qs = _range_spend(program_obj, since, until)
    points_qs = _range_points(program_obj, since, until)
    primary = spend_qs if by == "spend" else points_qs
    ranked = list(
        primary.filter(score__gt=0)
        .order_by("-score", "account_id")
        .values_list("account_id", "score")[:limit]
    )
    if not ranked:
        return []
    ids = [pk for pk, _ in ranked]
    secondary = points_qs if by == "spend" else spend_qs
    other = dict(secondary.filter(account_id__in=ids).values_list("account_id", "score"))
    accounts = {row["pk"]: row for row in Account.objects.filter(pk__in=ids).values(*details)}
    result = []
    for position, (pk, score) in enumerate(ranked, start=1):
        spend, points = (score, other.get(pk, 0)) if by == "spend" else (other.get(pk, 0), score)
        row = accounts[pk]
        result.append(
            TopCustomer(
                rank=position,
                account_id=pk,
                member_id=row["member_id"],
                name=_display_name(row["member__name"], row["member_id"]),
                spend=Decimal(spend or ZERO),
                points=int(points or 0),
                tier=row["tier__name"] or "",
            )
        )
    return result


def _range_spend(
    program: Program, since: datetime | None, until: datetime | None
) -> QuerySet[Any, Any]:
    return (
        Order.objects.filter(
            Q(program_id=program.pk, qualifying=True) & _in_range("occurred_at", since, until)
        )
        .values("account_id")
        .annotate(score=Sum(F("amount") - F("refunded_amount"), output_field=_MONEY))
        .order_by()
    )


def _range_points(
    program: Program, since: datetime | None, until: datetime | None
) -> QuerySet[Any, Any]:
    return (
        LedgerEntry.objects.filter(
            Q(account__program_id=program.pk, unit=Unit.POINTS, kind=EntryKind.EARN)
            & _in_range("created_at", since, until)
        )
        .values("account_id")
        .annotate(score=Sum("amount"))
        .order_by()
    )


__all__ = [
    "CUSTOMER_BASES",
    "REFERRER_ORDERINGS",
    "CampaignPerformance",
    "Funnel",
    "LeaderboardEntry",
    "PointsSummary",
    "ReferrerPerformance",
    "RewardsCost",
    "TierShare",
    "TopCustomer",
    "campaign_performance",
    "funnel",
    "leaderboard",
    "points_summary",
    "rate",
    "referrer_performance",
    "tier_distribution",
    "top_customers",
]
