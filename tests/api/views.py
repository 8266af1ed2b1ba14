"""A test-only endpoint on the API's base classes, to test the mechanisms every
endpoint shares (idempotency keys, error answers) apart from any one endpoint."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from django_referral_rewards.api.base import MemberAPIView
from django_referral_rewards.ratelimit import enforce
from django_referral_rewards.services import ledger


class AmountSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1)
    fail = serializers.BooleanField(default=False)


class CreditView(MemberAPIView):
    """POST ``{"amount": n}`` credits n points (``"fail": true``: then crashes;
    rate-limited with the ``redeem`` scope);
    DELETE debits 1 000 000 points (always refused)."""

    def post(self, request: Request) -> Response:
        enforce(request, "redeem")
        data = AmountSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = ledger.credit(self.account, data.validated_data["amount"], reason="API test")
        if data.validated_data["fail"]:
            raise RuntimeError("the server crashed after writing")
        return Response({"entry": entry.pk, "balance": entry.balance_after}, status=201)

    def delete(self, request: Request, *args: Any) -> Response:
        ledger.debit(self.account, 1_000_000, reason="API test")
        return Response(status=204)  # pragma: no cover - the debit is always refused
