"""``ReferralMiddleware``: ``?ref=CODE`` on any URL records a visit and remembers the code.

Add ``"django_referral_rewards.middleware.ReferralMiddleware"`` to ``MIDDLEWARE`` after
``SessionMiddleware``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .conf import app_settings
from .services import attribution


class ReferralMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        typed = request.GET.get(app_settings.REF_PARAM)
        if typed and request.method in ("GET", "HEAD"):
            attribution.record_visit(request, typed)
        response = self.get_response(request)
        return attribution.apply_cookies(request, response)
