"""The host event endpoints: the events of :mod:`django_referral_rewards.services.events`
for hosts that run in another process (a billing service, a shop in another language).

``POST events/signup/``, ``events/activation/``, ``events/order-completed/`` and
``events/order-refunded/`` take a host key (:class:`~.authentication.HostKeyAuthentication`:
``Authorization: Bearer <key>`` or a ``Referral-Rewards-Signature`` header); a signed-in
user, even staff, is refused. The customer is named by ``user`` (the user's primary key)
or ``username`` (the user model's ``USERNAME_FIELD``), exactly one of them.

Each event is idempotent as its service is (per sign-up, per order id, per refund); an
``Idempotency-Key`` header (scoped to the host key) replays the first answer as well.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import HttpRequest
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import build_basic_type, build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..conf import app_settings
from ..enums import FraudStatus, GrantStatus, ReferralStatus, RewardKind, RewardTrigger
from ..exceptions import InvalidAmount
from ..models import Order, Program, Referral, RewardGrant
from ..services import events
from ..signing import SIGNATURE_HEADER
from . import schema
from .authentication import HostClient, HostKeyAuthentication
from .base import APIMixin
from .schema import ViewMethod

# --- authentication ---------------------------------------------------------------------


class IsHost(permissions.BasePermission):
    """Only a host authenticated by its key (never a signed-in user, even staff)."""

    message = _("The event endpoints take a host key (Authorization: Bearer <key>).")

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, HostClient)


class HostKeyScheme(OpenApiAuthenticationExtension):
    """The two ways of giving a host key, for the schema: either one will do."""

    target_class = HostKeyAuthentication
    name: ClassVar[list[str]] = ["hostKey", "hostSignature"]  # type: ignore[misc]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        bearer = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
        signature = {
            "type": "apiKey",
            "in": "header",
            "name": SIGNATURE_HEADER,
            "description": (
                "t=<unix time>,v1=<hex HMAC-SHA256 of '<unix time>.' + body under the host key>"
            ),
        }
        return [bearer, signature]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{"hostKey": []}, {"hostSignature": []}]  # either (OR), not both


# --- input ------------------------------------------------------------------------------


class UserKeyField(serializers.Field):
    """A user's primary key, of the user model's primary key type."""

    default_error_messages = {"invalid": _("Not a valid user id.")}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        try:
            return get_user_model()._meta.pk.to_python(data)
        except (DjangoValidationError, TypeError, ValueError):
            self.fail("invalid")

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - input only
        return value


class UserKeyFieldSchema(OpenApiSerializerFieldExtension):
    target_class = UserKeyField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        pk = get_user_model()._meta.pk
        if isinstance(pk, (models.AutoField, models.IntegerField)):
            return build_basic_type(OpenApiTypes.INT)  # type: ignore[return-value]
        if isinstance(pk, models.UUIDField):
            return build_basic_type(OpenApiTypes.UUID)  # type: ignore[return-value]
        return build_basic_type(OpenApiTypes.STR)  # type: ignore[return-value]


class CustomerEventSerializer(serializers.Serializer):
    # Who the event is about: ``user`` or ``username``, exactly one; and the program.

    user = UserKeyField(required=False, help_text=_("The customer's user id."))
    username = serializers.CharField(
        required=False, max_length=255, help_text=_("The customer's username (USERNAME_FIELD).")
    )
    program = serializers.SlugField(
        required=False,
        max_length=64,
        help_text=_("The program's slug; the default program if omitted."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("user", "username") if name in attrs]
        if len(given) == 2:
            message = gettext("Give the customer as user or as username, not both.")
            raise serializers.ValidationError({"user": [message], "username": [message]})
        if not given:
            raise serializers.ValidationError(
                {"user": [gettext("Give the customer as user (their id) or username.")]}
            )
        return attrs

    def resolved_program(self, attrs: dict[str, Any]) -> Program:
        """The program named (404 ``program_not_found`` if none has that slug)."""
        return Program.objects.resolve(attrs.get("program"))


class MoneyEventSerializer(CustomerEventSerializer):
    # An event with an amount in the program's currency.

    def check_amount(self, attrs: dict[str, Any], program: Program) -> None:
        amount = attrs.get("amount")
        if amount is None:
            return
        try:
            program.to_minor(amount)
        except InvalidAmount:
            raise serializers.ValidationError(
                {
                    "amount": [
                        gettext("%(currency)s amounts have at most %(places)d decimal places.")
                        % {"currency": program.currency, "places": program.currency_decimal_places}
                    ]
                },
                code="max_decimal_places",
            ) from None


def amount_field(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        min_value=Decimal(0),
        coerce_to_string=True,
        help_text=_("A decimal string in the program's currency, with at most its decimal places."),
        **kwargs,
    )


class SignupEventSerializer(CustomerEventSerializer):
    """A sign-up: the customer (``user`` or ``username``), the code they typed, and
    what their own client said, for the fraud checks."""

    code = serializers.CharField(
        required=False, max_length=64, help_text=_("The referral code the customer typed.")
    )
    ip = serializers.IPAddressField(
        required=False, help_text=_("The customer's IP address at sign-up (for the fraud checks).")
    )
    user_agent = serializers.CharField(
        required=False, max_length=1000, help_text=_("The customer's browser user agent.")
    )
    device_id = serializers.CharField(
        required=False,
        min_length=16,
        max_length=64,
        help_text=_("The value of the customer's device cookie, if your front end keeps it."),
    )


class ActivationEventSerializer(CustomerEventSerializer):
    """An activation: the customer (``user`` or ``username``) and when."""

    occurred_at = serializers.DateTimeField(required=False, help_text=_("Now if omitted."))


class OrderCompletedEventSerializer(MoneyEventSerializer):
    """A completed order of the customer (``user`` or ``username``)."""

    order_id = serializers.CharField(
        max_length=100, help_text=_("Your order id (unique per program).")
    )
    amount = amount_field()
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        help_text=_("The program's currency (ISO 4217); the amount is not converted."),
    )
    occurred_at = serializers.DateTimeField(required=False, help_text=_("Now if omitted."))
    payment_fingerprint = serializers.CharField(
        required=False,
        max_length=255,
        help_text=_("An id of the payment method (stored hashed, for the fraud checks)."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        program = self.resolved_program(attrs)
        self.check_amount(attrs, program)
        currency = attrs.get("currency")
        if currency is not None and currency.upper() != program.currency:
            raise serializers.ValidationError(
                {
                    "currency": [
                        gettext("The program counts in %(currency)s; convert the amount first.")
                        % {"currency": program.currency}
                    ]
                }
            )
        return attrs


class OrderRefundedEventSerializer(MoneyEventSerializer):
    """A refund, in full (no ``amount``) or in part, of an order of the customer."""

    order_id = serializers.CharField(max_length=100, help_text=_("The refunded order's id."))
    amount = amount_field(
        required=False,
    )
    refund_id = serializers.CharField(
        required=False,
        max_length=100,
        help_text=_("Your refund id: two partial refunds of the same amount need distinct ids."),
    )
    occurred_at = serializers.DateTimeField(required=False, help_text=_("Now if omitted."))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("amount") == 0:
            raise serializers.ValidationError(
                {"amount": [gettext("A refund must be more than zero.")]}, code="min_value"
            )
        self.check_amount(attrs, self.resolved_program(attrs))
        return attrs


# --- output -----------------------------------------------------------------------------


#: The schema of an amount in the answers: a decimal string at the currency's places.
DECIMAL_STRING = {"type": "string", "format": "decimal", "example": "12.50"}


def _money(program: Program, value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal(1).scaleb(-program.currency_decimal_places)))


class EventReferralSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    program = serializers.CharField(source="program.slug", help_text=_("The program's slug."))
    code = serializers.CharField(
        source="code.code", allow_null=True, default=None, help_text=_("The code used.")
    )
    status = serializers.ChoiceField(choices=ReferralStatus.choices)
    fraud_status = serializers.ChoiceField(choices=FraudStatus.choices)
    attached_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    activated_at = serializers.DateTimeField(allow_null=True)
    converted_at = serializers.DateTimeField(allow_null=True)


class EventGrantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    account = serializers.IntegerField(
        source="account_id", help_text=_("The beneficiary's account.")
    )
    kind = serializers.ChoiceField(choices=RewardKind.choices)
    trigger = serializers.ChoiceField(choices=RewardTrigger.choices, allow_blank=True)
    value = serializers.SerializerMethodField(
        method_name="value_of",
        help_text=_(
            "Whole points, a percentage for a percent voucher, else an amount in the currency."
        ),
    )
    status = serializers.ChoiceField(choices=GrantStatus.choices)
    release_at = serializers.DateTimeField()

    def value_of(self, grant: RewardGrant) -> str:
        # Unlike a rule's, a percent commission grant's value is the amount it came to.
        if grant.kind == RewardKind.POINTS:
            return str(int(grant.value))
        if grant.kind == RewardKind.VOUCHER_PERCENT:
            return format(Decimal(grant.value).normalize(), "f")
        return _money(grant.program, grant.value)


class EventOrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.CharField()
    program = serializers.CharField(source="program.slug", help_text=_("The program's slug."))
    amount = serializers.SerializerMethodField()
    refunded_amount = serializers.SerializerMethodField()
    currency = serializers.CharField()
    qualifying = serializers.BooleanField()
    occurred_at = serializers.DateTimeField()

    @extend_schema_field(DECIMAL_STRING)
    def get_amount(self, order: Order) -> str:
        return _money(order.program, order.amount)

    @extend_schema_field(DECIMAL_STRING)
    def get_refunded_amount(self, order: Order) -> str:
        return _money(order.program, order.refunded_amount)


class EventTierChangeSerializer(serializers.Serializer):
    old_tier = serializers.CharField(source="old_tier.name", allow_null=True, default=None)
    new_tier = serializers.CharField(source="new_tier.name", allow_null=True, default=None)
    reason = serializers.CharField(help_text=_('"upgrade" or "downgrade".'))


class SignupOutcomeSerializer(serializers.Serializer):
    referred = serializers.BooleanField(
        help_text=_("Whether the sign-up is attached to a referrer.")
    )
    referral = EventReferralSerializer(allow_null=True)


class ActivationOutcomeSerializer(serializers.Serializer):
    referral = EventReferralSerializer(
        allow_null=True, help_text=_("The customer's referral; null when not referred.")
    )


def referral_outcome(referral: Referral | None) -> dict[str, Any]:
    return {"referred": referral is not None, "referral": referral}


class OrderOutcomeSerializer(serializers.Serializer):
    order = EventOrderSerializer()
    created = serializers.BooleanField(
        help_text=_("False when the order was already recorded (the answer describes it).")
    )
    referral = EventReferralSerializer(allow_null=True)
    converted = serializers.BooleanField()
    points_earned = serializers.IntegerField()
    points_grant = EventGrantSerializer(allow_null=True)
    grants = EventGrantSerializer(many=True, help_text=_("The referral rewards it earned."))
    tier_change = EventTierChangeSerializer(allow_null=True)


class RefundOutcomeSerializer(serializers.Serializer):
    order = EventOrderSerializer()
    created = serializers.BooleanField(help_text=_("False for a refund already recorded."))
    amount = serializers.SerializerMethodField(help_text=_("What this event refunded."))
    voided = EventGrantSerializer(many=True)
    reversed = EventGrantSerializer(many=True)
    vouchers_released = serializers.IntegerField()
    unconverted = serializers.BooleanField(
        help_text=_("Whether the referral went back to pending.")
    )

    @extend_schema_field(DECIMAL_STRING)
    def get_amount(self, outcome: Any) -> str:
        return _money(outcome.order.program, outcome.amount)


# --- views ------------------------------------------------------------------------------


def operation(**kwargs: Any) -> Callable[[ViewMethod], ViewMethod]:
    """:func:`.schema.operation` tagged ``events``."""
    return schema.operation(tags=["events"], **kwargs)


class HostEventView(APIMixin, APIView):
    """A host event: host key only, whatever ``REFERRAL_REWARDS_API_AUTHENTICATION_CLASSES``
    says (that setting is for the member and staff endpoints)."""

    authentication_classes = [HostKeyAuthentication]
    permission_classes = [IsHost]
    input_class: ClassVar[type[CustomerEventSerializer]]

    def valid_input(self, request: Request) -> dict[str, Any]:
        serializer = self.input_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @staticmethod
    def customer(data: dict[str, Any]) -> Any:
        """The user the event names; 404 ``user_not_found`` if there is none."""
        model = get_user_model()
        if "user" in data:
            lookup = {"pk": data.pop("user")}
        else:
            lookup = {model.USERNAME_FIELD: data.pop("username")}
        found = model._default_manager.filter(**lookup).first()
        if found is None:
            raise exceptions.NotFound(gettext("No such user."), code="user_not_found")
        return found


def fresh(grants: list[RewardGrant]) -> list[RewardGrant]:
    """``grants`` read again with their programs, in the same order (one query)."""
    if not grants:
        return []
    found = RewardGrant.objects.select_related("program").in_bulk([g.pk for g in grants])
    return [found[g.pk] for g in grants]


def client_request(data: dict[str, Any]) -> HttpRequest | None:
    """A stand-in request carrying what the host said about the customer's own client
    (``ip``, ``user_agent``, ``device_id``), for the sign-up's fraud checks: the signup
    service reads them from a request only. ``None`` when the host sent none of them;
    never the API request itself, which comes from the host's server, not the customer."""
    ip, agent, device = data.pop("ip", ""), data.pop("user_agent", ""), data.pop("device_id", "")
    if not (ip or agent or device):
        return None
    stand_in = HttpRequest()
    stand_in.method = "POST"
    stand_in.META = {"REMOTE_ADDR": ip, "HTTP_USER_AGENT": agent}
    if device:
        stand_in.COOKIES = {app_settings.DEVICE_COOKIE_NAME: device}
    return stand_in


class SignupEventView(HostEventView):
    input_class = SignupEventSerializer

    @operation(
        operation_id="events_signup",
        summary="A customer signed up",
        description=(
            "Attaches the customer to the owner of `code` (validated, fraud-screened) and "
            "grants sign-up rewards. Without a code nothing is attached (`referred` is "
            "false). Sending it again with the same code returns the same referral; with "
            "another code it is a 409 `already_referred`."
        ),
        request=SignupEventSerializer,
        responses={200: SignupOutcomeSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.valid_input(request)
        user = self.customer(data)
        referral = events.customer_signed_up(
            user,
            code=data.get("code"),
            request=client_request(data),
            program=data.get("program"),
        )
        return Response(SignupOutcomeSerializer(referral_outcome(referral)).data)


class ActivationEventView(HostEventView):
    input_class = ActivationEventSerializer

    @operation(
        operation_id="events_activation",
        summary="A customer activated",
        description=(
            "Converts the customer's referral when the program converts on activation and "
            "grants activation rewards. `referral` is null when the customer was not referred."
        ),
        request=ActivationEventSerializer,
        responses={200: ActivationOutcomeSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.valid_input(request)
        user = self.customer(data)
        referral = events.customer_activated(
            user, program=data.get("program"), occurred_at=data.get("occurred_at")
        )
        return Response(ActivationOutcomeSerializer(referral_outcome(referral)).data)


class OrderCompletedEventView(HostEventView):
    input_class = OrderCompletedEventSerializer

    @operation(
        operation_id="events_order_completed",
        summary="An order of a customer completed",
        description=(
            "Loyalty points, the referral's conversion and order rewards. Idempotent per "
            "`order_id`: the same order again answers what the first did (`created` false); "
            "the same order id with another amount is a 422 `idempotency_conflict`."
        ),
        request=OrderCompletedEventSerializer,
        responses={200: OrderOutcomeSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.valid_input(request)
        user = self.customer(data)
        outcome = events.order_completed(
            user,
            data["order_id"],
            data["amount"],
            currency=data.get("currency"),
            program=data.get("program"),
            occurred_at=data.get("occurred_at"),
            payment_fingerprint=data.get("payment_fingerprint"),
        )
        return Response(OrderOutcomeSerializer(outcome).data)


class OrderRefundedEventView(HostEventView):
    input_class = OrderRefundedEventSerializer

    @operation(
        operation_id="events_order_refunded",
        summary="An order of a customer was refunded",
        description=(
            "Takes back what the order earned, in proportion to the amount (all of what is "
            "left without `amount`). Idempotent per `refund_id` (without one, per amount). "
            "An unknown order is a 404 `order_not_found`."
        ),
        request=OrderRefundedEventSerializer,
        responses={200: RefundOutcomeSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.valid_input(request)
        user = self.customer(data)
        outcome = events.order_refunded(
            user,
            data["order_id"],
            data.get("amount"),
            program=data.get("program"),
            refund_id=data.get("refund_id"),
            occurred_at=data.get("occurred_at"),
        )
        # The grants with their programs, for the answer's amounts (one query).
        outcome = dataclasses.replace(
            outcome, voided=fresh(outcome.voided), reversed=fresh(outcome.reversed)
        )
        return Response(RefundOutcomeSerializer(outcome).data)


urlpatterns = [
    path("signup/", SignupEventView.as_view(), name="event_signup"),
    path("activation/", ActivationEventView.as_view(), name="event_activation"),
    path("order-completed/", OrderCompletedEventView.as_view(), name="event_order_completed"),
    path("order-refunded/", OrderRefundedEventView.as_view(), name="event_order_refunded"),
]
