"""The staff endpoints of the REST API, under ``staff/``: programs and reward rules,
codes, referrals and their fraud reviews, members' referrals and rewards granted by
hand, redemptions, payouts and program analytics.

Every endpoint needs an active staff user holding the model permission it names
(``view`` for reads, ``change`` for steps unless said otherwise; see
:class:`~django_referral_rewards.api.base.StaffPermission`). Views are thin: they
validate the request with a serializer (:mod:`.staff_serializers`), call the service
the admin action calls, and render the result; the service's errors become the API's
JSON errors (an illegal step is ``409 invalid_transition`` and changes nothing). Every
step may carry an ``Idempotency-Key`` header.

See ``docs/api/staff.rst`` for the reference of each endpoint.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from ..codes import normalize
from ..conf import app_settings, get_member_model
from ..enums import (
    CodeKind,
    FraudStatus,
    PayoutMethod,
    PayoutStatus,
    RedemptionStatus,
    ReferralStatus,
    RewardTrigger,
    Unit,
)
from ..exceptions import InvalidTransition
from ..models import (
    Payout,
    Program,
    Redemption,
    Referral,
    ReferralCode,
    RewardGrant,
    RewardRule,
)
from ..permissions import has_staff_permission
from ..services import analytics, fraud, ledger, payouts, redemptions, referrals, rewards
from ..services import codes as code_service
from ..services.accounts import get_or_create_account
from . import schema
from . import staff_serializers as s
from .base import StaffGenericAPIView, StaffMixin

TAGS = ["staff"]


def staff_schema(
    operation_id: str,
    *,
    responses: Any,
    request: Any = None,
    parameters: list[OpenApiParameter] | None = None,
    description: str = "",
) -> Any:
    """:func:`.schema.operation` of one view method, tagged ``staff``."""
    return schema.operation(
        tags=TAGS,
        operation_id=operation_id,
        request=request,
        responses=responses,
        parameters=parameters or [],
        description=description,
    )


# Query parameters.


def query_param(name: str, description: str, **kwargs: Any) -> OpenApiParameter:
    kwargs.setdefault("type", OpenApiTypes.STR)
    return OpenApiParameter(
        name, location=OpenApiParameter.QUERY, description=description, **kwargs
    )


PROGRAM_PARAM = query_param("program", "A program's slug.")


def bad_param(name: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({name: [message]})


def choice_param(request: Request, name: str, choices: Any) -> str | None:
    """``?name=``, one of ``choices`` (400 naming the parameter otherwise), or ``None``."""
    value = request.query_params.get(name)
    if not value:
        return None
    if value not in choices:
        raise bad_param(name, f"Use one of: {', '.join(choices)}.")
    return value


def int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_param(name, "A whole number is required.") from None


def bool_param(request: Request, name: str) -> bool | None:
    value = request.query_params.get(name)
    if not value:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise bad_param(name, "Use true or false.")


def program_param(request: Request, *, default: bool = False) -> Program | None:
    """The program ``?program=`` names (404 ``program_not_found`` for an unknown slug);
    without it ``None``, or the default program when ``default``."""
    slug = request.query_params.get("program")
    if not slug:
        return Program.objects.get_default() if default else None
    return Program.objects.resolve(slug)


def validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Programs.


@extend_schema_view(
    get=staff_schema(
        "staff_programs_list",
        responses=s.StaffProgramSerializer(many=True),
        description="Every program (needs view_program).",
    ),
    post=staff_schema(
        "staff_programs_create",
        request=s.StaffProgramSerializer,
        responses={201: s.StaffProgramSerializer},
        description="Create a program (needs add_program).",
    ),
)
class ProgramListView(StaffMixin, generics.ListCreateAPIView):
    staff_model = Program
    staff_actions: ClassVar[dict[str, str]] = {"POST": "add"}
    serializer_class = s.StaffProgramSerializer
    queryset = Program.objects.order_by("name", "pk")


@extend_schema_view(
    get=staff_schema("staff_programs_retrieve", responses=s.StaffProgramSerializer),
    put=staff_schema(
        "staff_programs_update",
        request=s.StaffProgramSerializer,
        responses=s.StaffProgramSerializer,
        description="Replace a program's settings (needs change_program).",
    ),
    patch=staff_schema(
        "staff_programs_partial_update",
        request=s.StaffProgramSerializer,
        responses=s.StaffProgramSerializer,
        description="Change some of a program's settings (needs change_program).",
    ),
)
class ProgramDetailView(StaffMixin, generics.RetrieveUpdateAPIView):
    staff_model = Program
    serializer_class = s.StaffProgramSerializer
    queryset = Program.objects.all()
    lookup_field = "slug"


# Reward rules.


@extend_schema_view(
    get=staff_schema(
        "staff_rules_list",
        responses=s.StaffRewardRuleSerializer(many=True),
        parameters=[
            PROGRAM_PARAM,
            query_param("trigger", "A trigger.", enum=RewardTrigger.values),
            query_param("active", "true or false.", type=OpenApiTypes.BOOL),
        ],
    ),
    post=staff_schema(
        "staff_rules_create",
        request=s.StaffRewardRuleSerializer,
        responses={201: s.StaffRewardRuleSerializer},
        description="Create a reward rule (needs add_rewardrule).",
    ),
)
class RuleListView(StaffMixin, generics.ListCreateAPIView):
    staff_model = RewardRule
    staff_actions: ClassVar[dict[str, str]] = {"POST": "add"}
    serializer_class = s.StaffRewardRuleSerializer

    def get_queryset(self) -> QuerySet[RewardRule]:
        found = RewardRule.objects.select_related("program").order_by("program_id", "pk")
        program = program_param(self.request)
        if program is not None:
            found = found.filter(program=program)
        trigger = choice_param(self.request, "trigger", RewardTrigger.values)
        if trigger:
            found = found.filter(trigger=trigger)
        active = bool_param(self.request, "active")
        if active is not None:
            found = found.filter(active=active)
        return found


@extend_schema_view(
    get=staff_schema("staff_rules_retrieve", responses=s.StaffRewardRuleSerializer),
    put=staff_schema(
        "staff_rules_update",
        request=s.StaffRewardRuleSerializer,
        responses=s.StaffRewardRuleSerializer,
    ),
    patch=staff_schema(
        "staff_rules_partial_update",
        request=s.StaffRewardRuleSerializer,
        responses=s.StaffRewardRuleSerializer,
    ),
    delete=staff_schema(
        "staff_rules_deactivate",
        responses=s.StaffRewardRuleSerializer,
        description=(
            "Deactivate the rule (needs change_rewardrule): grants keep referring to it, so "
            "rules are never deleted. Answers the deactivated rule."
        ),
    ),
)
class RuleDetailView(StaffMixin, generics.RetrieveUpdateDestroyAPIView):
    staff_model = RewardRule
    staff_actions: ClassVar[dict[str, str]] = {"DELETE": "change"}
    serializer_class = s.StaffRewardRuleSerializer
    queryset = RewardRule.objects.select_related("program")

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        RewardRule.objects.filter(pk=rule.pk).update(active=False)
        rule.refresh_from_db()
        return Response(self.get_serializer(rule).data)


# Codes.


CODE_FILTERS = [
    PROGRAM_PARAM,
    query_param("kind", "personal or campaign.", enum=CodeKind.values),
    query_param("active", "true or false.", type=OpenApiTypes.BOOL),
    query_param("campaign", "A campaign's id.", type=OpenApiTypes.INT),
    query_param("owner", "The owner's account id.", type=OpenApiTypes.INT),
    query_param("q", "Codes containing this text."),
]


@extend_schema_view(
    get=staff_schema(
        "staff_codes_list",
        responses=s.StaffReferralCodeSerializer(many=True),
        parameters=CODE_FILTERS,
    ),
    post=staff_schema(
        "staff_codes_create",
        request=s.StaffCodeCreateSerializer,
        responses={201: s.StaffReferralCodeSerializer},
        description=(
            "Create one campaign code (needs add_referralcode): a vanity code when `code` "
            "is given, a generated one otherwise."
        ),
    ),
)
class CodeListView(StaffMixin, generics.ListAPIView):
    staff_model = ReferralCode
    staff_actions: ClassVar[dict[str, str]] = {"POST": "add"}
    serializer_class = s.StaffReferralCodeSerializer

    def get_queryset(self) -> QuerySet[ReferralCode]:
        found = ReferralCode.objects.select_related("program", "owner").order_by("-created", "-pk")
        program = program_param(self.request)
        if program is not None:
            found = found.filter(program=program)
        kind = choice_param(self.request, "kind", CodeKind.values)
        if kind:
            found = found.filter(kind=kind)
        active = bool_param(self.request, "active")
        if active is not None:
            found = found.filter(active=active)
        for name in ("campaign", "owner"):
            value = int_param(self.request, name)
            if value is not None:
                found = found.filter(**{f"{name}_id": value})
        text = normalize(self.request.query_params.get("q", ""))
        if text:
            found = found.filter(code__contains=text)
        return found

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = validated(s.StaffCodeCreateSerializer, request)
        code = code_service.create_code(data.pop("code", None), **code_arguments(data))
        code = ReferralCode.objects.select_related("program", "owner").get(pk=code.pk)
        return Response(s.StaffReferralCodeSerializer(code).data, status=status.HTTP_201_CREATED)


def code_arguments(data: dict[str, Any]) -> dict[str, Any]:
    """:func:`services.codes.create_code`'s arguments from a validated code request:
    the program is the campaign's, else the one named, else the owner's."""
    owner = data.get("owner")
    program = data.get("program") or (owner.program if owner is not None else None)
    return {
        "program": program,
        "owner": owner,
        "campaign": data.get("campaign"),
        "starts_at": data.get("starts_at"),
        "expires_at": data.get("expires_at"),
        "max_uses": data.get("max_uses"),
        "max_uses_per_customer": data.get("max_uses_per_customer"),
        "active": data.get("active", True),
    }


class CodeBulkView(StaffGenericAPIView):
    staff_model = ReferralCode
    staff_actions: ClassVar[dict[str, str]] = {"POST": "add"}

    @staff_schema(
        "staff_codes_bulk_create",
        request=s.StaffCodeBulkSerializer,
        responses={201: s.StaffCodeBulkResultSerializer},
        description=(
            f"Create `count` generated campaign codes (at most {s.MAX_BULK_CODES}) with "
            "the same limits, all or none (needs add_referralcode)."
        ),
    )
    def post(self, request: Request) -> Response:
        data = validated(s.StaffCodeBulkSerializer, request)
        count = data.pop("count")
        arguments = code_arguments(data)
        with transaction.atomic():
            created = [code_service.create_code(None, **arguments) for _ in range(count)]
        found = ReferralCode.objects.filter(pk__in=[c.pk for c in created])
        found = found.select_related("program", "owner").order_by("pk")
        return Response(
            {"count": count, "codes": s.StaffReferralCodeSerializer(found, many=True).data},
            status=status.HTTP_201_CREATED,
        )


class CodeMixin:
    def get_code(self, code: str) -> ReferralCode:
        found = ReferralCode.objects.select_related("program", "owner").filter(code=normalize(code))
        obj = found.first()
        if obj is None:
            raise Http404("No referral code matches the given query.")
        return obj


class CodeDetailView(CodeMixin, StaffGenericAPIView):
    staff_model = ReferralCode

    @staff_schema("staff_codes_retrieve", responses=s.StaffReferralCodeSerializer)
    def get(self, request: Request, code: str) -> Response:
        return Response(s.StaffReferralCodeSerializer(self.get_code(code)).data)


class CodeActiveView(CodeMixin, StaffGenericAPIView):
    staff_model = ReferralCode
    active: ClassVar[bool]

    def post(self, request: Request, code: str) -> Response:
        found = self.get_code(code)
        code_service.set_active(ReferralCode.objects.filter(pk=found.pk), active=self.active)
        found.refresh_from_db()
        return Response(s.StaffReferralCodeSerializer(found).data)


@extend_schema_view(
    post=staff_schema(
        "staff_codes_activate",
        responses=s.StaffReferralCodeSerializer,
        description="Activate the code (needs change_referralcode).",
    )
)
class CodeActivateView(CodeActiveView):
    active = True


@extend_schema_view(
    post=staff_schema(
        "staff_codes_deactivate",
        responses=s.StaffReferralCodeSerializer,
        description="Deactivate the code: nobody can use it any more (needs change_referralcode).",
    )
)
class CodeDeactivateView(CodeActiveView):
    active = False


# Referrals.


REFERRAL_RELATED = ("program", "referrer__member", "referred__member", "code")
REFERRAL_FILTERS = [
    PROGRAM_PARAM,
    query_param("status", "A referral status.", enum=ReferralStatus.values),
    query_param("fraud_status", "A fraud status (review: the queue).", enum=FraudStatus.values),
    query_param("referrer", "The referrer's account id.", type=OpenApiTypes.INT),
]


def filter_referrals(request: Request, found: QuerySet[Referral]) -> QuerySet[Referral]:
    program = program_param(request)
    if program is not None:
        found = found.filter(program=program)
    for name, choices in (("status", ReferralStatus.values), ("fraud_status", FraudStatus.values)):
        value = choice_param(request, name, choices)
        if value:
            found = found.filter(**{name: value})
    return found


@extend_schema_view(
    get=staff_schema(
        "staff_referrals_list",
        responses=s.StaffReferralSerializer(many=True),
        parameters=REFERRAL_FILTERS,
        description="Referrals, newest first; the review queue with ?fraud_status=review.",
    )
)
class ReferralListView(StaffMixin, generics.ListAPIView):
    staff_model = Referral
    serializer_class = s.StaffReferralSerializer

    def get_queryset(self) -> QuerySet[Referral]:
        found = Referral.objects.select_related(*REFERRAL_RELATED).order_by("-attached_at", "-pk")
        found = filter_referrals(self.request, found)
        referrer = int_param(self.request, "referrer")
        if referrer is not None:
            found = found.filter(referrer_id=referrer)
        return found


@extend_schema_view(
    get=staff_schema("staff_referrals_retrieve", responses=s.StaffReferralSerializer)
)
class ReferralDetailView(StaffMixin, generics.RetrieveAPIView):
    staff_model = Referral
    serializer_class = s.StaffReferralSerializer
    queryset = Referral.objects.select_related(*REFERRAL_RELATED)


class StepView(StaffGenericAPIView):
    """A step on one object (``<pk>``): validate the body with ``input_class``, call
    :meth:`perform`, answer the object as ``output_class`` renders it."""

    input_class: ClassVar[type[serializers.Serializer] | None] = None
    output_class: ClassVar[type[serializers.Serializer]]
    related: ClassVar[tuple[str, ...]] = ()

    def get_queryset(self) -> QuerySet[Any]:
        return self.staff_model._default_manager.select_related(*self.related)

    def perform(self, obj: Any, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        obj = self.get_object()
        data = validated(self.input_class, request) if self.input_class is not None else {}
        done = self.perform(obj, data)
        done = self.get_queryset().get(pk=done.pk)
        return Response(self.output_class(done).data)


class ReferralStepView(StepView):
    staff_model = Referral
    output_class = s.StaffReferralSerializer
    related = REFERRAL_RELATED


@extend_schema_view(
    post=staff_schema(
        "staff_referrals_approve",
        request=s.StaffNoteSerializer,
        responses=s.StaffReferralSerializer,
        description=(
            "Approve a referral in review (needs change_referral): its rewards are released "
            "when due. 409 invalid_transition when it is not in review."
        ),
    )
)
class ReferralApproveView(ReferralStepView):
    input_class = s.StaffNoteSerializer

    def perform(self, obj: Referral, data: dict[str, Any]) -> Referral:
        return fraud.approve_referral(obj, by=self.request.user, note=data["note"])


@extend_schema_view(
    post=staff_schema(
        "staff_referrals_reject",
        request=s.StaffReasonSerializer,
        responses=s.StaffReferralSerializer,
        description=(
            "Reject a pending or converted referral with a reason (needs change_referral): "
            "nobody is rewarded and its held rewards are voided. A referral in review is "
            "rejected after review (the decision closes the review)."
        ),
    )
)
class ReferralRejectView(ReferralStepView):
    input_class = s.StaffReasonSerializer

    def perform(self, obj: Referral, data: dict[str, Any]) -> Referral:
        user, reason = self.request.user, data["reason"]
        if obj.fraud_status == FraudStatus.REVIEW:
            return fraud.reject_referral(obj, by=user, reason=reason)
        return referrals.reject(obj, reason=reason, rejected_by=user)


# Members: their referrals and rewards granted by hand.


class MemberMixin:
    kwargs: dict[str, Any]

    def get_member(self) -> Any:
        model = get_member_model()
        member = model._default_manager.filter(pk=self.kwargs["member_id"]).first()
        if member is None:
            raise Http404("No member matches the given query.")
        return member


@extend_schema_view(
    get=staff_schema(
        "staff_member_referrals_list",
        responses=s.StaffReferralSerializer(many=True),
        parameters=REFERRAL_FILTERS[:3],
        description="The referrals the member made, as referrer (needs view_referral).",
    )
)
class MemberReferralsView(MemberMixin, StaffMixin, generics.ListAPIView):
    staff_model = Referral
    serializer_class = s.StaffReferralSerializer

    def get_queryset(self) -> QuerySet[Referral]:
        member = self.get_member()
        found = Referral.objects.filter(referrer__member_id=member.pk)
        found = found.select_related(*REFERRAL_RELATED).order_by("-attached_at", "-pk")
        return filter_referrals(self.request, found)


GRANT_RELATED = ("program", "account")


class MemberGrantView(MemberMixin, StaffGenericAPIView):
    staff_model = RewardGrant
    staff_actions: ClassVar[dict[str, str]] = {"POST": "add"}

    @staff_schema(
        "staff_member_grant",
        request=s.StaffGrantCreateSerializer,
        responses={201: s.StaffGrantSerializer},
        description=(
            "Grant the member a reward by hand in a program (the default program unless "
            "`program` is given; needs add_rewardgrant). Released at once unless "
            "`hold_days` is set."
        ),
    )
    def post(self, request: Request, member_id: int) -> Response:
        member = self.get_member()
        data = validated(s.StaffGrantCreateSerializer, request)
        account = get_or_create_account(member, program=data.get("program"))
        grant = rewards.grant_reward(
            account,
            kind=data["kind"],
            value=data["value"],
            reason=data["reason"],
            created_by=request.user,
            hold_days=data["hold_days"],
            description=data["description"],
            voucher_valid_days=data["voucher_valid_days"],
        )
        grant = RewardGrant.objects.select_related(*GRANT_RELATED).get(pk=grant.pk)
        return Response(s.StaffGrantSerializer(grant).data, status=status.HTTP_201_CREATED)


class MemberRevokeView(MemberMixin, StaffGenericAPIView):
    staff_model = RewardGrant

    @staff_schema(
        "staff_member_revoke",
        request=s.StaffRevokeSerializer,
        responses=s.StaffGrantSerializer,
        description=(
            "Take one of the member's rewards back with a reason (needs "
            "change_rewardgrant): a held one is voided, a released one reversed. 409 "
            "invalid_transition for one already voided or reversed."
        ),
    )
    def post(self, request: Request, member_id: int) -> Response:
        member = self.get_member()
        data = validated(s.StaffRevokeSerializer, request)
        grant = (
            RewardGrant.objects.select_related(*GRANT_RELATED)
            .filter(pk=data["grant"], account__member_id=member.pk)
            .first()
        )
        if grant is None:
            raise Http404("The member has no such reward grant.")
        rewards.revoke(grant, reason=data["reason"], revoked_by=request.user)
        grant = RewardGrant.objects.select_related(*GRANT_RELATED).get(pk=grant.pk)
        return Response(s.StaffGrantSerializer(grant).data)


# Redemptions.


REDEMPTION_RELATED = ("program", "account__member", "option")


def sees_every_redemption(user: Any) -> bool:
    """Supervisors (``change_redemption``) and auditors (``view_redemption``) see every
    redemption; technicians (``fulfil_redemption`` only) those assigned to them."""
    return has_staff_permission(user, Redemption, "view") or has_staff_permission(
        user, Redemption, "change"
    )


def redemptions_for(user: Any) -> QuerySet[Redemption]:
    """The redemptions ``user`` may see (as the staff fulfilment queue restricts them)."""
    found = Redemption.objects.select_related(*REDEMPTION_RELATED)
    if sees_every_redemption(user):
        return found
    return found.filter(assigned_to_id=user.pk)


class RedemptionReadMixin(StaffMixin):
    """Reads are open to ``view``, ``change`` or ``fulfil`` holders (the latter see
    only what is assigned to them)."""

    def staff_action_for(self, request: Request) -> str:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            for action in ("view", "change", "fulfil"):
                if has_staff_permission(request.user, Redemption, action):
                    return action
        return super().staff_action_for(request)

    def get_queryset(self) -> QuerySet[Redemption]:
        return redemptions_for(self.request.user)


@extend_schema_view(
    get=staff_schema(
        "staff_redemptions_list",
        responses=s.StaffRedemptionSerializer(many=True),
        parameters=[
            PROGRAM_PARAM,
            query_param("status", "A redemption status.", enum=RedemptionStatus.values),
            query_param("assigned_to", "A staff user's id, `me`, or `none` (unassigned)."),
            query_param("option", "A catalog option's id.", type=OpenApiTypes.INT),
            query_param("member", "A member's id.", type=OpenApiTypes.INT),
        ],
        description=(
            "Redemptions, newest first (needs view_redemption or change_redemption; with "
            "only fulfil_redemption, those assigned to you)."
        ),
    )
)
class RedemptionListView(RedemptionReadMixin, generics.ListAPIView):
    staff_model = Redemption
    serializer_class = s.StaffRedemptionSerializer

    def get_queryset(self) -> QuerySet[Redemption]:
        found = super().get_queryset().order_by("-requested_at", "-pk")
        program = program_param(self.request)
        if program is not None:
            found = found.filter(program=program)
        wanted = choice_param(self.request, "status", RedemptionStatus.values)
        if wanted:
            found = found.filter(status=wanted)
        assigned = self.request.query_params.get("assigned_to")
        if assigned == "me":
            found = found.filter(assigned_to_id=self.request.user.pk)
        elif assigned == "none":
            found = found.filter(assigned_to__isnull=True)
        elif assigned:
            found = found.filter(assigned_to_id=int_param(self.request, "assigned_to"))
        for name, lookup in (("option", "option_id"), ("member", "account__member_id")):
            value = int_param(self.request, name)
            if value is not None:
                found = found.filter(**{lookup: value})
        return found


@extend_schema_view(
    get=staff_schema("staff_redemptions_retrieve", responses=s.StaffRedemptionSerializer)
)
class RedemptionDetailView(RedemptionReadMixin, generics.RetrieveAPIView):
    staff_model = Redemption
    serializer_class = s.StaffRedemptionSerializer


class RedemptionStepView(StepView):
    staff_model = Redemption
    output_class = s.StaffRedemptionSerializer
    related = REDEMPTION_RELATED


@extend_schema_view(
    post=staff_schema(
        "staff_redemptions_approve",
        request=s.StaffNoteSerializer,
        responses=s.StaffRedemptionSerializer,
        description=(
            "Approve a waiting redemption (needs change_redemption): a voucher or credit "
            "is given at once (the redemption is then fulfilled), an item is assigned. "
            "409 invalid_transition when it is not waiting."
        ),
    )
)
class RedemptionApproveView(RedemptionStepView):
    input_class = s.StaffNoteSerializer

    def perform(self, obj: Redemption, data: dict[str, Any]) -> Redemption:
        return redemptions.approve(obj, by=self.request.user, note=data["note"])


@extend_schema_view(
    post=staff_schema(
        "staff_redemptions_reject",
        request=s.StaffReasonSerializer,
        responses=s.StaffRedemptionSerializer,
        description="Reject a waiting redemption with a reason; the points are refunded.",
    )
)
class RedemptionRejectView(RedemptionStepView):
    input_class = s.StaffReasonSerializer

    def perform(self, obj: Redemption, data: dict[str, Any]) -> Redemption:
        return redemptions.reject(obj, by=self.request.user, reason=data["reason"])


@extend_schema_view(
    post=staff_schema(
        "staff_redemptions_assign",
        request=s.StaffAssignSerializer,
        responses=s.StaffRedemptionSerializer,
        description=(
            "Assign an open redemption to a staff user (null: the configured assigner "
            "chooses); the assignee is notified."
        ),
    )
)
class RedemptionAssignView(RedemptionStepView):
    input_class = s.StaffAssignSerializer

    def perform(self, obj: Redemption, data: dict[str, Any]) -> Redemption:
        return redemptions.assign(obj, data["user"], by=self.request.user)


@extend_schema_view(
    post=staff_schema(
        "staff_redemptions_fulfil",
        request=s.StaffFulfilSerializer,
        responses=s.StaffRedemptionSerializer,
        description=(
            "Mark an approved redemption fulfilled, with notes and what it was applied to "
            "(needs fulfil_redemption for a redemption assigned to you, or "
            "change_redemption for any)."
        ),
    )
)
class RedemptionFulfilView(RedemptionStepView):
    input_class = s.StaffFulfilSerializer

    def staff_action_for(self, request: Request) -> str:
        if has_staff_permission(request.user, Redemption, "change"):
            return "change"
        return "fulfil"

    def get_queryset(self) -> QuerySet[Redemption]:
        found = Redemption.objects.select_related(*REDEMPTION_RELATED)
        if has_staff_permission(self.request.user, Redemption, "change"):
            return found
        return found.filter(assigned_to_id=self.request.user.pk)

    def perform(self, obj: Redemption, data: dict[str, Any]) -> Redemption:
        applied = data["applied_to"]
        with transaction.atomic():
            # Still the user's to fulfil (not reassigned meanwhile): lock and look again.
            if not self.get_queryset().select_for_update().filter(pk=obj.pk).exists():
                raise InvalidTransition(
                    f"Redemption #{obj.pk} is no longer assigned to you.", redemption_id=obj.pk
                )
            return redemptions.fulfil(
                obj,
                by=self.request.user,
                notes=data["notes"],
                applied_to=(applied["type"], applied["id"]) if applied else None,
            )


# Payouts.


PAYOUT_RELATED = ("program", "account__member")


@extend_schema_view(
    get=staff_schema(
        "staff_payouts_list",
        responses=s.StaffPayoutSerializer(many=True),
        parameters=[
            PROGRAM_PARAM,
            query_param("status", "A payout status.", enum=PayoutStatus.values),
            query_param("method", "A payout method.", enum=PayoutMethod.values),
            query_param("member", "A member's id.", type=OpenApiTypes.INT),
        ],
    )
)
class PayoutListView(StaffMixin, generics.ListAPIView):
    staff_model = Payout
    serializer_class = s.StaffPayoutSerializer

    def get_queryset(self) -> QuerySet[Payout]:
        found = Payout.objects.select_related(*PAYOUT_RELATED).order_by("-requested_at", "-pk")
        program = program_param(self.request)
        if program is not None:
            found = found.filter(program=program)
        for name, choices in (("status", PayoutStatus.values), ("method", PayoutMethod.values)):
            value = choice_param(self.request, name, choices)
            if value:
                found = found.filter(**{name: value})
        member = int_param(self.request, "member")
        if member is not None:
            found = found.filter(account__member_id=member)
        return found


@extend_schema_view(get=staff_schema("staff_payouts_retrieve", responses=s.StaffPayoutSerializer))
class PayoutDetailView(StaffMixin, generics.RetrieveAPIView):
    staff_model = Payout
    serializer_class = s.StaffPayoutSerializer
    queryset = Payout.objects.select_related(*PAYOUT_RELATED)


class PayoutStepView(StepView):
    staff_model = Payout
    output_class = s.StaffPayoutSerializer
    related = PAYOUT_RELATED


@extend_schema_view(
    post=staff_schema(
        "staff_payouts_approve",
        request=s.StaffNoteSerializer,
        responses=s.StaffPayoutSerializer,
        description=(
            "Approve a pending payout (needs change_payout); an account-credit payout is "
            "paid at once."
        ),
    )
)
class PayoutApproveView(PayoutStepView):
    input_class = s.StaffNoteSerializer

    def perform(self, obj: Payout, data: dict[str, Any]) -> Payout:
        return payouts.approve_payout(obj, by=self.request.user, note=data["note"])


@extend_schema_view(
    post=staff_schema(
        "staff_payouts_mark_paid",
        request=s.StaffMarkPaidSerializer,
        responses=s.StaffPayoutSerializer,
        description="Record that an approved payout was paid, with the payment's reference.",
    )
)
class PayoutMarkPaidView(PayoutStepView):
    input_class = s.StaffMarkPaidSerializer

    def perform(self, obj: Payout, data: dict[str, Any]) -> Payout:
        return payouts.mark_paid(
            obj, by=self.request.user, reference=data["external_reference"], note=data["note"]
        )


@extend_schema_view(
    post=staff_schema(
        "staff_payouts_cancel",
        request=s.StaffReasonSerializer,
        responses=s.StaffPayoutSerializer,
        description=(
            "Cancel a pending or approved payout with a reason; the amount goes back to "
            "the commission balance."
        ),
    )
)
class PayoutCancelView(PayoutStepView):
    input_class = s.StaffReasonSerializer

    def perform(self, obj: Payout, data: dict[str, Any]) -> Payout:
        return payouts.cancel_payout(obj, by=self.request.user, reason=data["reason"])


# Analytics.


def unit_totals(program: Program, unit: str, totals: dict[str, int]) -> dict[str, Any]:
    """One unit of :func:`ledger.program_totals` as issued, spent, expired, paid out,
    reversed, adjusted and outstanding: integers for points, decimal strings of the
    program currency for credit and commission."""
    figures = {
        "issued": totals.get("earn", 0),
        "spent": -totals.get("spend", 0),
        "expired": -totals.get("expire", 0),
        "paid_out": -totals.get("payout", 0),
        "reversed": totals.get("reverse", 0),
        "adjusted": totals.get("adjust", 0) + totals.get("transfer", 0),
        "outstanding": totals.get("balances", 0),
    }
    if unit == Unit.POINTS:
        return figures
    return {name: str(program.from_minor(value)) for name, value in figures.items()}


class AnalyticsView(StaffGenericAPIView):
    staff_model = Program

    @staff_schema(
        "staff_analytics",
        responses=s.StaffAnalyticsSerializer,
        parameters=[
            query_param("program", "A program's slug (the default program if left out)."),
            query_param(
                "top", "How many top referrers (the leaderboard size).", type=OpenApiTypes.INT
            ),
        ],
        description=(
            "A program's figures (needs view_program): ledger totals per unit, referral "
            "counts by status and the conversion rate, the top referrers by conversions, "
            "and how many accounts are in each tier. A fixed number of aggregate queries."
        ),
    )
    def get(self, request: Request) -> Response:
        program = program_param(request, default=True)
        assert program is not None
        totals = ledger.program_totals(program)
        funnel = analytics.funnel(program)
        counts = {
            "total": funnel.signups,
            **{status: getattr(funnel, status) for status in ReferralStatus.values},
            "in_review": funnel.in_review,
            "conversion_rate": (
                str(funnel.conversion_rate) if funnel.conversion_rate is not None else None
            ),
        }
        board = analytics.leaderboard(
            program, limit=int_param(request, "top") or app_settings.LEADERBOARD_SIZE
        )
        tiers = analytics.tier_distribution(program)
        return Response(
            {
                "program": program.slug,
                "currency": program.currency,
                "accounts": sum(row.accounts for row in tiers),
                "ledger": {
                    unit: unit_totals(program, unit, figures) for unit, figures in totals.items()
                },
                "referrals": counts,
                "top_referrers": [
                    {
                        "rank": row.rank,
                        "account": row.account_id,
                        "member": row.member_id,
                        "name": row.name,
                        "leaderboard_name": row.leaderboard_name,
                        "conversions": row.conversions,
                    }
                    for row in board
                ],
                "tiers": [
                    {
                        "tier": row.tier_id,
                        "name": row.name,
                        "rank": row.rank,
                        "accounts": row.accounts,
                    }
                    for row in tiers
                ],
            }
        )


urlpatterns = [
    path("programs/", ProgramListView.as_view(), name="staff_programs"),
    path("programs/<slug:slug>/", ProgramDetailView.as_view(), name="staff_program"),
    path("rules/", RuleListView.as_view(), name="staff_rules"),
    path("rules/<int:pk>/", RuleDetailView.as_view(), name="staff_rule"),
    path("codes/", CodeListView.as_view(), name="staff_codes"),
    path("codes/bulk/", CodeBulkView.as_view(), name="staff_codes_bulk"),
    path("codes/<str:code>/", CodeDetailView.as_view(), name="staff_code"),
    path("codes/<str:code>/activate/", CodeActivateView.as_view(), name="staff_code_activate"),
    path(
        "codes/<str:code>/deactivate/",
        CodeDeactivateView.as_view(),
        name="staff_code_deactivate",
    ),
    path("referrals/", ReferralListView.as_view(), name="staff_referrals"),
    path("referrals/<int:pk>/", ReferralDetailView.as_view(), name="staff_referral"),
    path(
        "referrals/<int:pk>/approve/",
        ReferralApproveView.as_view(),
        name="staff_referral_approve",
    ),
    path("referrals/<int:pk>/reject/", ReferralRejectView.as_view(), name="staff_referral_reject"),
    path(
        "members/<int:member_id>/referrals/",
        MemberReferralsView.as_view(),
        name="staff_member_referrals",
    ),
    path("members/<int:member_id>/grant/", MemberGrantView.as_view(), name="staff_member_grant"),
    path("members/<int:member_id>/revoke/", MemberRevokeView.as_view(), name="staff_member_revoke"),
    path("redemptions/", RedemptionListView.as_view(), name="staff_redemptions"),
    path("redemptions/<int:pk>/", RedemptionDetailView.as_view(), name="staff_redemption"),
    path(
        "redemptions/<int:pk>/approve/",
        RedemptionApproveView.as_view(),
        name="staff_redemption_approve",
    ),
    path(
        "redemptions/<int:pk>/reject/",
        RedemptionRejectView.as_view(),
        name="staff_redemption_reject",
    ),
    path(
        "redemptions/<int:pk>/assign/",
        RedemptionAssignView.as_view(),
        name="staff_redemption_assign",
    ),
    path(
        "redemptions/<int:pk>/fulfil/",
        RedemptionFulfilView.as_view(),
        name="staff_redemption_fulfil",
    ),
    path("payouts/", PayoutListView.as_view(), name="staff_payouts"),
    path("payouts/<int:pk>/", PayoutDetailView.as_view(), name="staff_payout"),
    path("payouts/<int:pk>/approve/", PayoutApproveView.as_view(), name="staff_payout_approve"),
    path(
        "payouts/<int:pk>/mark-paid/", PayoutMarkPaidView.as_view(), name="staff_payout_mark_paid"
    ),
    path("payouts/<int:pk>/cancel/", PayoutCancelView.as_view(), name="staff_payout_cancel"),
    path("analytics/", AnalyticsView.as_view(), name="staff_analytics"),
]
