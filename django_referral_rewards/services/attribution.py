"""Attribution: a followed referral link is recorded as a :class:`Visit` and the code is
remembered (session and a signed cookie) for the program's attribution window, so that
the sign-up that follows is attached to the referrer even without a typed code."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from django.core import signing
from django.utils import timezone
from django.utils.crypto import get_random_string

from ..conf import app_settings
from ..exceptions import CodeError
from ..hashing import keyed_hash
from ..models import ReferralCode, Visit
from .codes import validate_code

SESSION_KEY = "referral_rewards_code"
COOKIE_SALT = "django_referral_rewards.ref"
_PENDING = "_referral_rewards_cookie"


def _pack(code: str, at: float) -> str:
    return f"{code}|{int(at)}"


def _unpack(value: Any) -> tuple[str, int] | None:
    if not isinstance(value, str) or "|" not in value:
        return None
    code, _, at = value.rpartition("|")
    return (code, int(at)) if at.isdigit() and code else None


def record_visit(request: Any, code: Any, *, now: Any = None) -> Visit | None:
    """Record a visit for ``code`` (as typed in a link) and remember it; ``None`` (and
    nothing recorded) when the code cannot be used."""
    try:
        found = code if isinstance(code, ReferralCode) else validate_code(code)
    except CodeError:
        return None
    adapter = app_settings.request_adapter()
    visit = Visit.objects.create(
        code=found,
        created_at=now or timezone.now(),
        ip_hash=keyed_hash(adapter.get_client_ip(request), purpose="ip"),
        user_agent_hash=keyed_hash(adapter.get_user_agent(request), purpose="user_agent"),
        device_hash=keyed_hash(adapter.get_device_id(request), purpose="device"),
        landing_path=request.path[:500],
        referrer_host=adapter.get_referrer_host(request),
    )
    remember_code(request, found)
    return visit


def remember_code(request: Any, code: ReferralCode) -> None:
    """Keep ``code`` in the session and (once the response goes out) a signed cookie."""
    value = _pack(code.code, time.time())
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_KEY] = value
    setattr(request, _PENDING, (value, code.program.attribution_window_days * 86400))


def remembered_code(request: Any) -> str | None:
    """The code remembered for this visitor, if still inside its program's attribution
    window: the session's first, then the signed cookie's."""
    if getattr(request, _PENDING, None) == ("", 0):
        return None  # forgotten during this request; the cookie goes with the response
    candidates = []
    session = getattr(request, "session", None)
    if session is not None:
        candidates.append(session.get(SESSION_KEY))
    with contextlib.suppress(signing.BadSignature):
        candidates.append(
            request.get_signed_cookie(app_settings.COOKIE_NAME, default=None, salt=COOKIE_SALT)
        )
    for value in candidates:
        unpacked = _unpack(value)
        if unpacked is None:
            continue
        code, at = unpacked
        found = ReferralCode.objects.select_related("program").filter(code=code).first()
        if found and time.time() - at <= found.program.attribution_window_days * 86400:
            return code
    return None


def forget_code(request: Any) -> None:
    """Drop the remembered code (after it has been used at sign-up)."""
    session = getattr(request, "session", None)
    if session is not None:
        session.pop(SESSION_KEY, None)
    setattr(request, _PENDING, ("", 0))


def apply_cookies(request: Any, response: Any) -> Any:
    """Write the cookies decided while handling ``request``: the remembered code (or its
    removal) and, for fraud checks, a random device id if the visitor has none."""
    pending = getattr(request, _PENDING, None)
    secure = request.is_secure()
    if pending is not None:
        value, max_age = pending
        if value:
            response.set_signed_cookie(
                app_settings.COOKIE_NAME,
                value,
                salt=COOKIE_SALT,
                max_age=max_age,
                httponly=True,
                samesite="Lax",
                secure=secure,
            )
        else:
            response.delete_cookie(app_settings.COOKIE_NAME, samesite="Lax")
        setattr(request, _PENDING, None)
    device_cookie_set = app_settings.DEVICE_COOKIE_NAME in response.cookies
    if not device_cookie_set and not app_settings.request_adapter().get_device_id(request):
        response.set_cookie(
            app_settings.DEVICE_COOKIE_NAME,
            get_random_string(32),
            max_age=2 * 365 * 86400,
            httponly=True,
            samesite="Lax",
            secure=secure,
        )
    return response
