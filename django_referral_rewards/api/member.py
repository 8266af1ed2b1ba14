"""The member endpoints (``me/...``): the signed-in member's own accounts, balances,
codes, referrals, leaderboard, reward catalog, redemptions, vouchers, payouts and
ledger — what the member portal shows, as JSON.

``?program=<slug>`` (or ``"program"`` in a write's body) picks the account; the default
program's otherwise. Lists and the catalog are of that account. An object id (a
redemption, a payout, a code) may be of any of the member's accounts; another
member's id is a 404, the same answer as an id that does not exist. Redeeming and
asking for a payout are rate-limited (scopes ``redeem`` and ``payout``, as in the
portal); every write takes an ``Idempotency-Key`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import F, QuerySet
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from .. import permissions, ratelimit
from ..codes import lookup_candidates, normalize
from ..models import (
    Account,
    LedgerEntry,
    Payout,
    Redemption,
    Referral,
    ReferralCode,
    RewardOption,
    Voucher,
)
from ..services import codes, payouts, redemptions, stats
from . import schema
from .base import MemberAPIView, MemberListAPIView, MemberMixin
from .schema import ViewMethod
from .serializers import (
    AccountSerializer,
    BalanceSerializer,
    CancelSerializer,
    CodeSerializer,
    LeaderboardQuerySerializer,
    LeaderboardSerializer,
    LedgerEntrySerializer,
    LedgerQuerySerializer,
    PayoutDetailSerializer,
    PayoutRequestSerializer,
    PayoutSerializer,
    ProgramBodySerializer,
    RedemptionDetailSerializer,
    RedemptionQuerySerializer,
    RedemptionSerializer,
    ReferralSerializer,
    ReferralStatsSerializer,
    RewardChoiceSerializer,
    VoucherSerializer,
)


def operation(**kwargs: Any) -> Callable[[ViewMethod], ViewMethod]:
    """:func:`.schema.operation` tagged ``member``."""
    return schema.operation(tags=["member"], **kwargs)


PROGRAM = OpenApiParameter(
    "program",
    str,
    OpenApiParameter.QUERY,
    required=False,
    description="The program's slug (the default program when omitted).",
)


class Member(MemberMixin):
    """Helpers of the member views (mixed into :class:`MemberAPIView` and
    :class:`MemberListAPIView`)."""

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"request": self.request, "view": self, **extra}

    def own(self, queryset: QuerySet[Any], pk: int) -> Any:
        """The object ``pk`` of ``queryset`` held by one of the member's accounts, else
        a 404 (see :func:`~django_referral_rewards.permissions.get_for_request`)."""
        return permissions.get_for_request(
            queryset, self.request, owner="account__member", staff_action=None, pk=pk
        )

    def body(self, serializer_class: type, **context: Any) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, context=self.context(**context))
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def query(self, serializer_class: type) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.query_params, context=self.context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class MemberView(Member, MemberAPIView):
    """A member endpoint answering one object or a short list."""


class MemberListView(Member, MemberListAPIView):
    """A paginated list of the account's objects, newest first."""

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "program": self.account.program}


# --- accounts and balances ----------------------------------------------------------------


class AccountList(MemberView):
    @operation(
        responses=AccountSerializer(many=True),
        operation_id="member_accounts_list",
        summary="My accounts, one per program",
    )
    def get(self, request: Request) -> Response:
        accounts = list(
            Account.objects.filter(member_id=self.member.pk, program__active=True)
            .select_related("program", "tier")
            .order_by("program__name", "pk")
        )
        if not accounts:  # the first visit: an account in the default program
            accounts = [self.account]
        return Response(AccountSerializer(accounts, many=True, context=self.context()).data)


class Balance(MemberView):
    @operation(
        parameters=[PROGRAM],
        responses=BalanceSerializer,
        operation_id="member_balance",
        summary="The balances of one account",
    )
    def get(self, request: Request) -> Response:
        return Response(BalanceSerializer(self.account, context=self.context()).data)


# --- codes --------------------------------------------------------------------------------


class CodeList(MemberView):
    @operation(
        parameters=[PROGRAM],
        responses=CodeSerializer(many=True),
        operation_id="member_codes_list",
        summary="My codes: the personal code first, then campaign codes, newest first",
    )
    def get(self, request: Request) -> Response:
        owned = (
            ReferralCode.objects.filter(owner=self.account)
            .select_related("program", "campaign")
            .order_by(F("personal_for").desc(nulls_last=True), "-created", "-pk")
        )
        return Response(CodeSerializer(owned, many=True, context=self.context()).data)

    @operation(
        request=ProgramBodySerializer,
        responses={200: CodeSerializer, 201: CodeSerializer},
        operation_id="member_codes_create",
        summary="Create my personal code (201), or get it if it exists (200)",
    )
    def post(self, request: Request) -> Response:
        self.body(ProgramBodySerializer)
        had_one = ReferralCode.objects.filter(personal_for=self.account).exists()
        code = codes.get_or_create_personal_code(self.account)
        return Response(
            CodeSerializer(code, context=self.context()).data,
            status=status.HTTP_200_OK if had_one else status.HTTP_201_CREATED,
        )


class CodeDetail(MemberView):
    @operation(
        responses=CodeSerializer,
        operation_id="member_codes_retrieve",
        summary="One of my codes (as typed: case, spaces and dashes ignored)",
    )
    def get(self, request: Request, code: str) -> Response:
        typed = normalize(code)
        found = permissions.get_for_request(
            ReferralCode.objects.select_related("program", "campaign"),
            request,
            owner="owner__member",
            staff_action=None,
            code__in=lookup_candidates(typed) if typed else [],
        )
        return Response(CodeSerializer(found, context=self.context()).data)


# --- referrals and the leaderboard --------------------------------------------------------


class ReferralList(MemberListView):
    serializer_class = ReferralSerializer

    def get_queryset(self) -> QuerySet[Referral]:
        return (
            Referral.objects.filter(referrer_id=self.account.pk)
            .select_related("referred__member", "code")
            .order_by("-attached_at", "-pk")
        )

    @operation(
        parameters=[PROGRAM],
        operation_id="member_referrals_list",
        summary="The customers I referred, newest first",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ReferralStats(MemberView):
    @operation(
        parameters=[PROGRAM],
        responses=ReferralStatsSerializer,
        operation_id="member_referrals_stats",
        summary="How my referrals went",
    )
    def get(self, request: Request) -> Response:
        account = self.account
        figures = stats.referral_stats(account)
        context = self.context(program=account.program)
        return Response(ReferralStatsSerializer(figures, context=context).data)


class Leaderboard(MemberView):
    @operation(
        parameters=[LeaderboardQuerySerializer],
        responses=LeaderboardSerializer,
        operation_id="member_leaderboard",
        summary="The program's top referrers (all time, or this month)",
    )
    def get(self, request: Request) -> Response:
        period = self.query(LeaderboardQuerySerializer)["period"]
        account = self.account
        rows = stats.leaderboard(account.program, period=period, viewer=account)
        board = {
            "program": account.program.slug,
            "period": period,
            "rows": rows,
            "show_on_leaderboard": account.show_on_leaderboard,
            "leaderboard_name": account.leaderboard_name,
        }
        return Response(LeaderboardSerializer(board, context=self.context()).data)


# --- the catalog and redemptions ----------------------------------------------------------


class RewardList(MemberView):
    @operation(
        parameters=[PROGRAM],
        responses=RewardChoiceSerializer(many=True),
        operation_id="member_rewards_list",
        summary="The reward catalog, with whether I can redeem each option and why not",
    )
    def get(self, request: Request) -> Response:
        choices = redemptions.options_for(self.account)
        return Response(RewardChoiceSerializer(choices, many=True, context=self.context()).data)


def _redemption_answer(view: Member, redemption: Redemption, code: int = 200) -> Response:
    found = Redemption.objects.select_related("program", "option", "voucher__program").get(
        pk=redemption.pk
    )
    context = view.context(history=redemptions.history(found))
    return Response(RedemptionDetailSerializer(found, context=context).data, status=code)


class Redeem(MemberView):
    @operation(
        parameters=[PROGRAM],
        request=ProgramBodySerializer,
        responses={201: RedemptionDetailSerializer},
        operation_id="member_rewards_redeem",
        summary="Redeem a reward option of the program (rate-limited: scope redeem)",
    )
    def post(self, request: Request, pk: int) -> Response:
        ratelimit.enforce(request, "redeem")
        self.body(ProgramBodySerializer)
        option = (
            RewardOption.objects.select_related("program", "minimum_tier")
            .filter(pk=pk, program_id=self.account.program_id, active=True)
            .first()
        )
        if option is None:
            raise Http404("No reward option matches the given query.")
        redemption = redemptions.request_redemption(self.account, option, requested_by=request.user)
        return _redemption_answer(self, redemption, status.HTTP_201_CREATED)


class RedemptionList(MemberListView):
    serializer_class = RedemptionSerializer

    def get_queryset(self) -> QuerySet[Redemption]:
        chosen = self.query(RedemptionQuerySerializer).get("status")
        rows = (
            Redemption.objects.filter(account_id=self.account.pk)
            .select_related("program", "option", "voucher__program")
            .order_by("-requested_at", "-pk")
        )
        return rows.filter(status=chosen) if chosen else rows

    @operation(
        parameters=[RedemptionQuerySerializer],
        operation_id="member_redemptions_list",
        summary="My redemptions, newest first",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class RedemptionDetail(MemberView):
    @operation(
        responses=RedemptionDetailSerializer,
        operation_id="member_redemptions_retrieve",
        summary="One of my redemptions, with its history",
    )
    def get(self, request: Request, pk: int) -> Response:
        return _redemption_answer(self, self.own(Redemption.objects.all(), pk))


class RedemptionCancel(MemberView):
    @operation(
        request=CancelSerializer,
        responses=RedemptionDetailSerializer,
        operation_id="member_redemptions_cancel",
        summary="Cancel one of my redemptions that is not fulfilled yet (points come back)",
    )
    def post(self, request: Request, pk: int) -> Response:
        reason = self.body(CancelSerializer)["reason"]
        redemption = self.own(Redemption.objects.all(), pk)
        redemptions.cancel(redemption, by=request.user, reason=reason)
        return _redemption_answer(self, redemption)


class VoucherList(MemberListView):
    serializer_class = VoucherSerializer

    def get_queryset(self) -> QuerySet[Voucher]:
        return (
            Voucher.objects.filter(account_id=self.account.pk)
            .select_related("program")
            .order_by("-created_at", "-pk")
        )

    @operation(
        parameters=[PROGRAM],
        operation_id="member_vouchers_list",
        summary="My vouchers, newest first",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


# --- payouts and the ledger ---------------------------------------------------------------


def _payout_answer(view: Member, payout: Payout, code: int = 200) -> Response:
    found = Payout.objects.select_related("program").get(pk=payout.pk)
    context = view.context(history=payouts.history(found))
    return Response(PayoutDetailSerializer(found, context=context).data, status=code)


class PayoutList(MemberListView):
    serializer_class = PayoutSerializer

    def get_queryset(self) -> QuerySet[Payout]:
        return (
            Payout.objects.filter(account_id=self.account.pk)
            .select_related("program")
            .order_by("-requested_at", "-pk")
        )

    @operation(
        parameters=[PROGRAM],
        operation_id="member_payouts_list",
        summary="My payouts, newest first",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @operation(
        parameters=[PROGRAM],
        request=PayoutRequestSerializer,
        responses={201: PayoutDetailSerializer},
        operation_id="member_payouts_create",
        summary="Ask for commission to be paid out (rate-limited: scope payout)",
    )
    def post(self, request: Request) -> Response:
        ratelimit.enforce(request, "payout")
        data = self.body(PayoutRequestSerializer, program=self.account.program)
        payout = payouts.request_payout(
            self.account,
            amount=data["amount"],
            method=data["method"],
            destination=data["destination"],
            requested_by=request.user,
        )
        return _payout_answer(self, payout, status.HTTP_201_CREATED)


class PayoutDetail(MemberView):
    @operation(
        responses=PayoutDetailSerializer,
        operation_id="member_payouts_retrieve",
        summary="One of my payouts, with its history",
    )
    def get(self, request: Request, pk: int) -> Response:
        return _payout_answer(self, self.own(Payout.objects.all(), pk))


class PayoutCancel(MemberView):
    @operation(
        request=CancelSerializer,
        responses=PayoutDetailSerializer,
        operation_id="member_payouts_cancel",
        summary="Cancel one of my payouts while it waits for approval",
    )
    def post(self, request: Request, pk: int) -> Response:
        reason = self.body(CancelSerializer)["reason"]
        payout = self.own(Payout.objects.all(), pk)
        payouts.cancel_payout(payout, by=request.user, reason=reason, as_member=True)
        return _payout_answer(self, payout)


class LedgerList(MemberListView):
    serializer_class = LedgerEntrySerializer

    def get_queryset(self) -> QuerySet[LedgerEntry]:
        unit = self.query(LedgerQuerySerializer).get("unit")
        rows = LedgerEntry.objects.filter(account_id=self.account.pk).order_by("-created_at", "-pk")
        return rows.filter(unit=unit) if unit else rows

    @operation(
        parameters=[LedgerQuerySerializer],
        operation_id="member_ledger_list",
        summary="My account's ledger, newest first (?unit=points, credit or commission)",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("accounts/", AccountList.as_view(), name="member_accounts"),
    path("balance/", Balance.as_view(), name="member_balance"),
    path("codes/", CodeList.as_view(), name="member_codes"),
    path("codes/<str:code>/", CodeDetail.as_view(), name="member_code"),
    path("referrals/", ReferralList.as_view(), name="member_referrals"),
    path("referrals/stats/", ReferralStats.as_view(), name="member_referral_stats"),
    path("leaderboard/", Leaderboard.as_view(), name="member_leaderboard"),
    path("rewards/", RewardList.as_view(), name="member_rewards"),
    path("rewards/<int:pk>/redeem/", Redeem.as_view(), name="member_redeem"),
    path("redemptions/", RedemptionList.as_view(), name="member_redemptions"),
    path("redemptions/<int:pk>/", RedemptionDetail.as_view(), name="member_redemption"),
    path(
        "redemptions/<int:pk>/cancel/",
        RedemptionCancel.as_view(),
        name="member_redemption_cancel",
    ),
    path("vouchers/", VoucherList.as_view(), name="member_vouchers"),
    path("payouts/", PayoutList.as_view(), name="member_payouts"),
    path("payouts/<int:pk>/", PayoutDetail.as_view(), name="member_payout"),
    path("payouts/<int:pk>/cancel/", PayoutCancel.as_view(), name="member_payout_cancel"),
    path("ledger/", LedgerList.as_view(), name="member_ledger"),
]
