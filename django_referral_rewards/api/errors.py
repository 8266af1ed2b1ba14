"""Errors as JSON: every error answer of the API has the same shape::

    {"error": {"code": "insufficient_balance", "message": "The balance is 40; 100 was
    requested.", "fields": {}}}

``code`` is stable (the ``code`` of the package's exception, or one of DRF's:
``invalid``, ``parse_error``, ``not_authenticated``, ``permission_denied``,
``not_found``, ``method_not_allowed``, ``unsupported_media_type``, ``throttled``);
``message`` is for people, in the active language; ``fields`` says, for a request that
failed validation, which field was wrong and why (``{"amount": [{"code": "invalid",
"message": "A valid number is required."}]}``; ``non_field_errors`` for the request as a
whole).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext
from rest_framework import exceptions as drf
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .. import exceptions as rr

#: HTTP status of each kind of package error (the most specific class listed wins).
STATUS_BY_ERROR: dict[type[rr.ReferralRewardsError], int] = {
    rr.ReferralRewardsError: status.HTTP_400_BAD_REQUEST,
    rr.ConfigurationError: status.HTTP_500_INTERNAL_SERVER_ERROR,
    rr.RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
    rr.ProgramNotFound: status.HTTP_404_NOT_FOUND,
    rr.MemberNotFound: status.HTTP_404_NOT_FOUND,
    rr.OrderNotFound: status.HTTP_404_NOT_FOUND,
    rr.CodeNotFound: status.HTTP_404_NOT_FOUND,
    rr.VoucherNotFound: status.HTTP_404_NOT_FOUND,
    rr.InsufficientBalance: status.HTTP_409_CONFLICT,
    rr.InvalidTransition: status.HTTP_409_CONFLICT,
    rr.AlreadyReferred: status.HTTP_409_CONFLICT,
    rr.RedemptionError: status.HTTP_409_CONFLICT,
    rr.PayoutError: status.HTTP_409_CONFLICT,
    rr.VoucherError: status.HTTP_409_CONFLICT,
    rr.NotReversible: status.HTTP_409_CONFLICT,
    rr.IdempotencyConflict: status.HTTP_422_UNPROCESSABLE_ENTITY,
    rr.SignatureInvalid: status.HTTP_401_UNAUTHORIZED,
}


def status_for(exc: rr.ReferralRewardsError) -> int:
    """The HTTP status answering ``exc``: that of its nearest class in
    :data:`STATUS_BY_ERROR`."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return status.HTTP_400_BAD_REQUEST  # pragma: no cover - the base class is listed


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of an error answer."""
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}


def _details(detail: Any) -> list[dict[str, str]]:
    """DRF's nested error details for one field as a flat list of code and message."""
    if isinstance(detail, dict):
        # A nested serializer's errors: "child.field" reads better than nesting.
        return [
            {"code": item["code"], "message": f"{name}: {item['message']}"}
            for name, value in detail.items()
            for item in _details(value)
        ]
    if isinstance(detail, list):
        return [item for value in detail for item in _details(value)]
    return [{"code": getattr(detail, "code", None) or "invalid", "message": str(detail)}]


def validation_fields(detail: Any) -> dict[str, list[dict[str, str]]]:
    """``{field: [{"code", "message"}, ...]}`` from a DRF ``ValidationError.detail``."""
    if isinstance(detail, dict):
        return {str(name): _details(value) for name, value in detail.items()}
    from rest_framework.settings import api_settings

    return {api_settings.NON_FIELD_ERRORS_KEY: _details(detail)}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The API's exception handler (it replaces DRF's for the package's views only):
    package errors, DRF's and Django's 404, 403 and validation errors become JSON
    answers of the same shape; anything else is left to Django (a server error)."""
    if isinstance(exc, rr.ReferralRewardsError):
        status_code = status_for(exc)
        headers = {}
        if isinstance(exc, rr.RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        if status_code >= 500:
            set_rollback()
        field = exc.context.get("field")
        fields = {str(field): [{"code": exc.code, "message": exc.message}]} if field else {}
        return Response(
            error_body(exc.code, exc.message, fields), status=status_code, headers=headers
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if not isinstance(exc, drf.APIException):
        return None
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    set_rollback()
    if isinstance(exc, drf.ValidationError):
        body = error_body("invalid", gettext("Invalid input."), validation_fields(exc.detail))
    else:
        detail = exc.detail
        error_code = getattr(detail, "code", None) or exc.default_code
        body = error_body(str(error_code), str(detail))
    return Response(body, status=exc.status_code, headers=headers)
