"""Rate limits on Django's cache framework: per client IP and per user, by scope.

A *scope* names what is limited (``"validate_code"``, ``"landing"``, ``"redeem"``,
``"payout"``); :setting:`REFERRAL_REWARDS_RATE_LIMITS` gives each a rate such as
``"20/m"`` (20 requests a minute) or ``"100/10m"``, or ``None`` for no limit. Counters
live in the cache named by :setting:`REFERRAL_REWARDS_RATE_LIMIT_CACHE`.

The limiter is a *sliding window of two buckets*: each window of the rate has a counter,
and a request is allowed while ``previous * (share of the window still to run) +
current`` stays within the limit. Unlike a plain fixed window, a client cannot spend two
windows' worth at a window boundary; unlike a log of every request, it costs three cache
operations and two small keys per identity. Refused requests are not counted, so a
client that waits ``Retry-After`` seconds is let through again, however hard it pushed.

Counting is atomic on caches whose ``incr`` is (Redis, Memcached, the local-memory
cache); the local-memory cache is per process, so with several worker processes each
has its own counters. Identities never reach the cache in clear: client IPs and user ids
are keyed hashes (:func:`django_referral_rewards.hashing.keyed_hash`), and IPv6 clients
are counted per ``/64`` network (what one subscriber usually holds).

Use it in views with :func:`rate_limited`, or call :func:`check_request` /
:func:`enforce` where a view limits more than one thing::

    from django_referral_rewards.ratelimit import rate_limited

    @rate_limited("validate_code")
    def check_my_code(request): ...
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import ipaddress
import math
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from django.core.cache import BaseCache, InvalidCacheBackendError, caches
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.translation import ngettext

from .conf import PREFIX, app_settings
from .exceptions import ConfigurationError, RateLimited
from .hashing import keyed_hash

#: The template of the HTML "429 Too Many Requests" page (override it in your project).
TEMPLATE_NAME = "referral_rewards/429.html"
KEY_PREFIX = "referral_rewards:rl"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE_RE = re.compile(
    r"^\s*(?P<limit>\d+)\s*/\s*(?P<multiplier>\d*)\s*"
    r"(?P<unit>s|sec|second|seconds|m|min|minute|minutes|h|hour|hours|d|day|days)\s*$",
    re.IGNORECASE,
)

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


class Rate(NamedTuple):
    """A parsed rate: at most ``limit`` requests per ``window`` seconds."""

    limit: int
    window: int


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The answer to one request against a limit.

    ``limit`` and ``remaining`` are ``None`` when the scope is not limited;
    ``retry_after`` is ``0`` when the request is allowed, else the whole seconds (at
    least 1) after which the same client would be let through.
    """

    allowed: bool
    limit: int | None
    remaining: int | None
    retry_after: int
    scope: str = ""

    def raise_if_refused(self) -> Verdict:
        """Raise :class:`~django_referral_rewards.exceptions.RateLimited` when refused;
        return the verdict otherwise."""
        if not self.allowed:
            raise RateLimited(retry_after=self.retry_after, scope=self.scope)
        return self


def _unlimited(scope: str) -> Verdict:
    return Verdict(allowed=True, limit=None, remaining=None, retry_after=0, scope=scope)


@functools.lru_cache(maxsize=64)
def _parse(rate: str) -> Rate:
    match = _RATE_RE.match(rate)
    if match is None:
        raise ConfigurationError(
            f"{rate!r} is not a rate: write requests/period, e.g. '20/m', '100/10m', "
            "'1000/d' (periods s, m, h, d).",
            rate=rate,
        )
    limit = int(match["limit"])
    multiplier = int(match["multiplier"] or 1)
    if limit < 1 or multiplier < 1:
        raise ConfigurationError(
            f"{rate!r}: the number of requests and the period must be at least 1 "
            "(to switch a limit off, give None).",
            rate=rate,
        )
    return Rate(limit, multiplier * _UNITS[match["unit"][0].lower()])


def parse_rate(rate: str) -> Rate:
    """``"20/m"`` → ``Rate(limit=20, window=60)``; ``"100/10m"`` → ``Rate(100, 600)``.

    The period is ``s``, ``m``, ``h`` or ``d`` (or ``sec``, ``minute``, ``hours``,
    ``day``...), optionally preceded by a count. Anything else raises
    :class:`~django_referral_rewards.exceptions.ConfigurationError` saying why.
    """
    if not isinstance(rate, str):
        raise ConfigurationError(
            f"A rate is a string such as '20/m', not {rate!r}.", rate=repr(rate)
        )
    return _parse(rate)


def rate_for(scope: str) -> Rate | None:
    """The configured rate of ``scope`` (``None``: not limited). A scope missing from
    :setting:`REFERRAL_REWARDS_RATE_LIMITS` raises
    :class:`~django_referral_rewards.exceptions.ConfigurationError`: a typo in a scope
    name must not switch a limit off silently."""
    limits = app_settings.RATE_LIMITS
    if scope not in limits:
        raise ConfigurationError(
            f"No rate limit is configured for the scope {scope!r}; add it to "
            f"{PREFIX}RATE_LIMITS (None for no limit). Known scopes: {sorted(limits)}.",
            scope=scope,
        )
    value = limits[scope]
    return parse_rate(value) if value else None


def get_cache() -> BaseCache:
    """The cache the counters live in (:setting:`REFERRAL_REWARDS_RATE_LIMIT_CACHE`)."""
    alias = app_settings.RATE_LIMIT_CACHE
    try:
        return caches[alias]
    except InvalidCacheBackendError as exc:
        raise ConfigurationError(
            f"{PREFIX}RATE_LIMIT_CACHE = {alias!r} is not a cache alias in CACHES.",
            alias=alias,
        ) from exc


def _timestamp(now: float | datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return now.timestamp()
    return float(now)


def _as_rate(rate: str | Rate | tuple[int, int] | None) -> Rate | None:
    if rate is None or rate == "":
        return None
    if isinstance(rate, str):
        return parse_rate(rate)
    limit, window = rate
    if limit < 1 or window < 1:
        raise ConfigurationError(f"Invalid rate {tuple(rate)!r}: both parts must be at least 1.")
    return Rate(int(limit), int(window))


def _key(scope: str, identity: str, rate: Rate, bucket: int) -> str:
    # The window is part of the key: changing a rate never mixes old and new counters.
    digest = keyed_hash(identity, purpose="ratelimit")
    return f"{KEY_PREFIX}:{scope}:{rate.window}:{digest}:{bucket}"


def _increment(cache: BaseCache, key: str, timeout: int) -> int:
    """Add one to ``key`` (created at 1 if missing) and return the new count. Tolerates
    the key expiring between ``add`` and ``incr``."""
    for _attempt in range(3):
        if cache.add(key, 1, timeout):
            return 1
        try:
            return int(cache.incr(key))
        except ValueError:  # it expired (or was evicted) after add() saw it
            continue
    cache.set(key, 1, timeout)
    return 1


def _decrement(cache: BaseCache, key: str) -> None:
    with contextlib.suppress(ValueError):  # already gone: nothing to give back
        cache.decr(key)


def _seconds_until_allowed(rate: Rate, previous: int, current: int, elapsed: float) -> float:
    """How long until one more request fits, if no other request comes in meanwhile.

    ``current`` counts the requests in this window (the refused one excluded),
    ``previous`` those of the window before, ``elapsed`` how far into this window we are.
    """
    limit, window = rate
    to_run = window - elapsed
    if current < limit:
        # Room is left in this window, so the refusal came from the previous window's
        # weight (``previous > 0``): wait until enough of it has faded.
        return max(0.0, to_run - (limit - current - 1) * window / previous)
    # This window is full: wait into the next one, where it becomes the fading
    # "previous" window (``current >= limit >= 1``).
    return to_run + max(0.0, window - (limit - 1) * window / current)


def hit(
    scope: str,
    identity: str,
    rate: str | Rate | tuple[int, int] | None,
    *,
    now: float | datetime | None = None,
) -> Verdict:
    """Count one request by ``identity`` (e.g. ``"ip:203.0.113.9"``, ``"user:42"``)
    against ``rate`` in ``scope`` and say whether it is allowed.

    A refused request is not counted. ``rate`` is a rate string, a :class:`Rate` or
    ``None`` (always allowed); ``now`` (a timestamp or an aware ``datetime``) is for
    tests.
    """
    parsed = _as_rate(rate)
    if parsed is None:
        return _unlimited(scope)
    limit, window = parsed
    moment = _timestamp(now)
    bucket = int(moment // window)
    elapsed = moment - bucket * window
    cache = get_cache()
    current_key = _key(scope, identity, parsed, bucket)
    # A bucket is read as "previous" during the whole next window.
    current = _increment(cache, current_key, 2 * window + 1)
    previous = int(cache.get(_key(scope, identity, parsed, bucket - 1)) or 0)
    estimate = previous * (window - elapsed) / window + current
    if estimate <= limit:
        return Verdict(
            allowed=True,
            limit=limit,
            remaining=max(0, math.floor(limit - estimate)),
            retry_after=0,
            scope=scope,
        )
    _decrement(cache, current_key)
    wait = _seconds_until_allowed(parsed, previous, current - 1, elapsed)
    return Verdict(
        allowed=False, limit=limit, remaining=0, retry_after=max(1, math.ceil(wait)), scope=scope
    )


def release(
    scope: str,
    identity: str,
    rate: str | Rate | tuple[int, int] | None,
    *,
    now: float | datetime | None = None,
) -> None:
    """Give back one request counted by :func:`hit` in the current window (for a
    request that was refused for another reason and should not count)."""
    parsed = _as_rate(rate)
    if parsed is None:
        return
    bucket = int(_timestamp(now) // parsed.window)
    _decrement(get_cache(), _key(scope, identity, parsed, bucket))


def client_identity(ip: str) -> str:
    """What a client IP is counted as: the address, or for IPv6 its ``/64`` network
    (IPv4-mapped IPv6 addresses count as the IPv4 address). Unparseable values are used
    as they are."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def request_identities(request: HttpRequest) -> list[str]:
    """The identities a request is counted under: its client IP (from the request
    adapter's ``get_client_ip``) and, when signed in, its user."""
    ip = app_settings.request_adapter().get_client_ip(request)
    identities = [f"ip:{client_identity(ip)}"]
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        identities.append(f"user:{user.pk}")
    return identities


def check_request(
    request: HttpRequest, scope: str, *, now: float | datetime | None = None
) -> Verdict:
    """Count ``request`` in ``scope`` per client IP and, for a signed-in user, per user;
    refused when either is over the limit (a user switching networks stays limited, and
    so does everyone behind one address). Returns the binding verdict: the refusal with
    the longest wait, or the allowance with the fewest requests left."""
    rate = rate_for(scope)
    if rate is None:
        return _unlimited(scope)
    counted: list[str] = []
    verdicts = []
    for identity in request_identities(request):
        verdict = hit(scope, identity, rate, now=now)
        if not verdict.allowed:
            for done in counted:  # a refused request counts nowhere
                release(scope, done, rate, now=now)
            return verdict
        counted.append(identity)
        verdicts.append(verdict)
    return min(verdicts, key=lambda v: v.remaining or 0)


def enforce(request: HttpRequest, scope: str, *, now: float | datetime | None = None) -> Verdict:
    """:func:`check_request`, raising
    :class:`~django_referral_rewards.exceptions.RateLimited` when refused."""
    return check_request(request, scope, now=now).raise_if_refused()


def wants_json(request: HttpRequest) -> bool:
    """Whether the client prefers JSON to HTML (``Accept: application/json``)."""
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def too_many_requests(
    request: HttpRequest, retry_after: int, *, json: bool | None = None
) -> HttpResponse:
    """The 429 response: a ``Retry-After`` header (whole seconds, at least 1), never
    cached, with a JSON body ``{"error": {"code": "rate_limited", "message": ...,
    "retry_after": n}}`` when ``json`` is true (``None``: when the client prefers JSON),
    else the :data:`TEMPLATE_NAME` page."""
    seconds = max(1, int(retry_after))
    message = ngettext(
        "Too many requests. Please try again in %(seconds)d second.",
        "Too many requests. Please try again in %(seconds)d seconds.",
        seconds,
    ) % {"seconds": seconds}
    response: HttpResponse
    if json is None:
        json = wants_json(request)
        vary = True
    else:
        vary = False
    if json:
        response = JsonResponse(
            {
                "error": {
                    "code": RateLimited.code,
                    "message": message,
                    "retry_after": seconds,
                }
            },
            status=429,
        )
    else:
        response = HttpResponse(
            render_to_string(
                TEMPLATE_NAME, {"message": message, "retry_after": seconds}, request=request
            ),
            status=429,
        )
    response["Retry-After"] = str(seconds)
    add_never_cache_headers(response)
    if vary:
        patch_vary_headers(response, ["Accept"])
    return response


def rate_limited(
    scope: str, *, json: bool | None = None, methods: Iterable[str] | None = None
) -> Callable[[ViewFunc], ViewFunc]:
    """View decorator: count each request in ``scope`` (:func:`check_request`) and answer
    429 (:func:`too_many_requests`) instead of calling the view when it is over the limit,
    or when the view raises
    :class:`~django_referral_rewards.exceptions.RateLimited` itself. ``json=True`` for
    JSON endpoints; by default the client's ``Accept`` header decides. ``methods``
    (e.g. ``("POST",)``) counts only requests of those methods, so that looking at a
    form never uses up the allowance of sending it; by default every request counts."""
    counted = None if methods is None else {method.upper() for method in methods}

    def decorator(view: ViewFunc) -> ViewFunc:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if counted is None or request.method in counted:
                verdict = check_request(request, scope)
                if not verdict.allowed:
                    return too_many_requests(request, verdict.retry_after, json=json)
            try:
                return view(request, *args, **kwargs)
            except RateLimited as exc:
                return too_many_requests(request, exc.retry_after, json=json)

        return wrapped  # type: ignore[return-value]

    return decorator


__all__ = [
    "Rate",
    "Verdict",
    "check_request",
    "client_identity",
    "enforce",
    "get_cache",
    "hit",
    "parse_rate",
    "rate_for",
    "rate_limited",
    "release",
    "request_identities",
    "too_many_requests",
    "wants_json",
]
