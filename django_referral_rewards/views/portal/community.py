"""The member as a referrer: the customers they referred (shown privately) and the
program's leaderboard, with the opt-in to appear on it by name."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db.models import Count, DecimalField, F, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_safe

from ...enums import FraudStatus, GrantStatus, RewardKind
from ...models import Referral, RewardGrant
from ...services import stats
from .base import Portal, portal_view, render_portal
from .forms import LeaderboardForm
from .pages import page_query, paginate

ZERO = Decimal("0")
MONEY_KINDS: dict[str, str] = {
    RewardKind.CREDIT: "credit",
    RewardKind.COMMISSION_FIXED: "commission",
    RewardKind.COMMISSION_PERCENT: "commission",
}


def customer_label(referral: Referral) -> str:
    """How the referrer sees the customer they referred: the first name and the
    initial of the last ("Juan P."), never an e-mail address; "Customer #12" when the
    name is missing, looks like an e-mail address, or the customer was erased (an
    inactive member)."""
    member = referral.referred.member
    words = (member.name or "").split()
    if not words or not member.active or any("@" in word for word in words):
        return gettext("Customer #%(id)s") % {"id": referral.referred_id}
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0]}."


@dataclasses.dataclass
class Earned:
    """What one referral earned the referrer: released (net of reversals) and held."""

    points: int = 0
    credit: Decimal = ZERO
    commission: Decimal = ZERO
    vouchers: int = 0
    held_points: int = 0
    held_credit: Decimal = ZERO
    held_commission: Decimal = ZERO

    @property
    def anything(self) -> bool:
        return bool(
            self.points
            or self.credit
            or self.commission
            or self.vouchers
            or self.held_points
            or self.held_credit
            or self.held_commission
        )


def _earned(account_id: int, referral_ids: list[int]) -> dict[int, Earned]:
    """What each referral earned ``account`` (one query for the whole page)."""
    found: dict[int, Earned] = defaultdict(Earned)
    if not referral_ids:
        return found
    rows = (
        RewardGrant.objects.filter(
            account_id=account_id,
            referral_id__in=referral_ids,
            status__in=(GrantStatus.RELEASED, GrantStatus.HELD),
        )
        .order_by()
        .values("referral_id", "kind", "status")
        .annotate(
            n=Count("pk"),
            total=Coalesce(
                Sum(F("value") - F("reversed_value")),
                ZERO,
                output_field=DecimalField(max_digits=18, decimal_places=4),
            ),
        )
    )
    for row in rows:
        earned = found[row["referral_id"]]
        held = row["status"] == GrantStatus.HELD
        kind, total = row["kind"], row["total"]
        if kind == RewardKind.POINTS:
            if held:
                earned.held_points += int(total)
            else:
                earned.points += int(total)
        elif kind in MONEY_KINDS:
            name = ("held_" if held else "") + MONEY_KINDS[kind]
            setattr(earned, name, getattr(earned, name) + total)
        elif not held:  # a voucher, issued on release
            earned.vouchers += row["n"]
    return found


@require_safe
@portal_view
def referrals(request: HttpRequest, portal: Portal) -> HttpResponse:
    """The customers the member referred in the program shown, newest first, with
    where each stands and what it earned them, under the figures of
    :func:`~django_referral_rewards.services.stats.referral_stats`."""
    account = portal.account
    rows = (
        Referral.objects.filter(referrer_id=account.pk)
        .select_related("referred__member")
        .order_by("-attached_at", "-pk")
    )
    page = paginate(request, rows)
    earned = _earned(account.pk, [referral.pk for referral in page.object_list])
    listed: list[dict[str, Any]] = [
        {
            "referral": referral,
            "customer": customer_label(referral),
            "in_review": referral.fraud_status == FraudStatus.REVIEW,
            "earned": earned.get(referral.pk) or Earned(),
        }
        for referral in page.object_list
    ]
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/referrals.html",
        {
            "title": gettext("Your referrals"),
            "stats": stats.referral_stats(account),
            "page": page,
            "rows": listed,
            "query": page_query(request),
        },
    )


@require_http_methods(["GET", "POST"])
@portal_view
def leaderboard(request: HttpRequest, portal: Portal) -> HttpResponse:
    """GET: the program's top referrers (``?period=all`` or ``month``; anything else
    is all time). POST: the member's opt-in (shown by name, or anonymously)."""
    account = portal.account
    period = request.GET.get("period", "all")
    if period not in stats.PERIODS:
        period = "all"
    status = 200
    if request.method == "POST":
        form = LeaderboardForm(request.POST)
        if form.is_valid():
            account.show_on_leaderboard = form.cleaned_data["show_on_leaderboard"]
            account.leaderboard_name = form.cleaned_data["leaderboard_name"]
            account.save(update_fields=["show_on_leaderboard", "leaderboard_name"])
            if account.show_on_leaderboard:
                messages.success(
                    request,
                    gettext("Other members now see you on the leaderboard as %(name)s.")
                    % {"name": account.leaderboard_name},
                )
            else:
                messages.success(
                    request, gettext("Other members now see you on the leaderboard anonymously.")
                )
            target = reverse("referral_rewards:portal_leaderboard")
            if period != "all":
                target += f"?period={period}"
            return HttpResponseRedirect(target)
        status = 400
    else:
        form = LeaderboardForm(
            initial={
                "show_on_leaderboard": account.show_on_leaderboard,
                "leaderboard_name": account.leaderboard_name,
            }
        )
    rows = stats.leaderboard(portal.program, period=period, viewer=account)
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/leaderboard.html",
        {
            "title": gettext("Leaderboard"),
            "rows": rows,
            "period": period,
            "form": form,
            "listed": any(row.is_you for row in rows),
        },
        status=status,
    )
