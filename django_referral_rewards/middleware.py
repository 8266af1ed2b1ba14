"""``ReferralMiddleware``: ``?ref=CODE`` on any URL records a visit and remembers the code.

Add ``"django_referral_rewards.middleware.ReferralMiddleware"`` to ``MIDDLEWARE`` after
``SessionMiddleware`` (and after ``AuthenticationMiddleware``, so signed-in users are
rate-limited as users too).

``?ref=`` counts against the ``landing`` rate limit like ``/r/CODE/``: over the limit
the parameter is ignored (the page itself is still served), so the parameter cannot be
used to test codes faster than the share link can.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ratelimit
from .conf import app_settings
from .services import attribution


class ReferralMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        typed = request.GET.get(app_settings.REF_PARAM)
        if (
            typed
            and request.method in ("GET", "HEAD")
            and ratelimit.check_request(request, "landing").allowed
        ):
            attribution.record_visit(request, typed)
        response = self.get_response(request)
        return attribution.apply_cookies(request, response)
