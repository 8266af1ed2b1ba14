"""The share link: ``/r/CODE/`` records a visit, remembers the code and redirects.

It is rate-limited (scope ``landing``): whether the code is remembered shows in the
response, so an unlimited link would let anyone test codes as fast as they like."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_safe

from ..conf import app_settings
from ..ratelimit import rate_limited
from ..services import attribution


@require_safe
@rate_limited("landing")
def landing(request: HttpRequest, code: str) -> HttpResponse:
    """Redirect to ``?next=`` when it is a safe URL on this site (never an open
    redirect), else to ``REFERRAL_REWARDS_LANDING_URL``. An unusable code still
    redirects, without recording anything or saying why. Over the rate limit it answers
    429 and records nothing."""
    attribution.record_visit(request, code)
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = resolve_url(app_settings.LANDING_URL)
    return attribution.apply_cookies(request, HttpResponseRedirect(target))
