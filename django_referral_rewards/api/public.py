"""The public endpoint: ``GET codes/validate/?code=CODE[&program=SLUG]``, the REST API's
twin of :func:`django_referral_rewards.views.codes.validate_code` (the same answer, the
same rate limit scope ``validate_code``). Anonymous: it reads no credentials, so a
signed-in member's own code is checked like anyone's."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import ratelimit
from ..enums import RewardKind, RewardTrigger
from ..views.codes import check_code
from . import schema
from .base import APIMixin


class OfferItemSerializer(serializers.Serializer):
    trigger = serializers.ChoiceField(
        choices=RewardTrigger.choices,
        help_text=_("When the new customer gets it: signup, activation or first_order."),
    )
    kind = serializers.ChoiceField(choices=RewardKind.choices)
    value = serializers.CharField(
        help_text=_("Whole points, an amount at the currency's decimal places, or a percentage.")
    )
    currency = serializers.CharField(
        allow_null=True, help_text=_("The currency when the value is an amount, else null.")
    )
    summary = serializers.CharField(help_text=_("The reward as a sentence."))
    description = serializers.CharField(allow_blank=True)


class CodeValidationSerializer(serializers.Serializer):
    """``{"valid": false}``, or the code, its program and what a new customer gets."""

    valid = serializers.BooleanField()
    code = serializers.CharField(required=False, help_text=_("The code as stored."))
    program = serializers.CharField(required=False, help_text=_("The code's program (slug)."))
    offer = OfferItemSerializer(many=True, required=False)


class ValidateCodeView(APIMixin, APIView):
    """Anonymous (no authentication at all, so no CSRF or credentials involved)."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @schema.operation(
        tags=["public"],
        operation_id="codes_validate",
        summary="Check a referral code",
        description=(
            "Whether a referral code can be used and what a new customer gets with it. An "
            'unknown, mistyped, expired, exhausted or inactive code is `{"valid": false}`, '
            "all alike (status 200). A missing `code` is a 400. Rate-limited (scope "
            "`validate_code`): 429 with Retry-After."
        ),
        parameters=[
            OpenApiParameter("code", str, required=True, description="The code to check."),
            OpenApiParameter(
                "program", str, description="The program's slug (the code's program otherwise)."
            ),
        ],
        responses={200: CodeValidationSerializer},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        ratelimit.enforce(request, "validate_code")
        query = request.query_params
        return self.answer(check_code(query.get("code", ""), None, query.get("program")))

    @staticmethod
    def answer(body: dict[str, Any]) -> Response:
        return Response(CodeValidationSerializer(body).data)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)  # as the view's @never_cache, errors included
        return response


urlpatterns = [
    path("codes/validate/", ValidateCodeView.as_view(), name="validate_code"),
]
