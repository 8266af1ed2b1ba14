"""System checks: import-string settings import and subclass their base; unknown
``REFERRAL_REWARDS_*`` names are reported (they are most likely typos)."""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import IMPORT_STRING_SETTINGS, PREFIX, app_settings, import_setting, known_setting_names
from .exceptions import ConfigurationError


@register(Tags.compatibility)
def check_import_string_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from django.utils.module_loading import import_string

    errors: list[Error] = []
    for name, base_path in IMPORT_STRING_SETTINGS.items():
        try:
            import_setting(name, import_string(base_path))
        except ConfigurationError as exc:
            errors.append(
                Error(
                    str(exc),
                    hint=f"Point {PREFIX}{name} at a subclass of {base_path}.",
                    id="referral_rewards.E001",
                )
            )
    return errors


@register(Tags.compatibility)
def check_unknown_settings(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    known = known_setting_names()
    warnings: list[Warning] = []
    for name in dir(settings):
        if name.startswith(PREFIX) and name not in known:
            # Compare without the shared prefix, which would make everything look close.
            close = difflib.get_close_matches(
                name.removeprefix(PREFIX), sorted(k.removeprefix(PREFIX) for k in known), n=1
            )
            hint = f"Did you mean {PREFIX}{close[0]}?" if close else "See the settings reference."
            warnings.append(
                Warning(
                    f"{name} is not a django-referral-rewards setting; it is ignored.",
                    hint=hint,
                    id="referral_rewards.W001",
                )
            )
    return warnings


@register(Tags.compatibility)
def check_numeric_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    for name in ("SWEEP_BATCH_SIZE", "POINT_VALUE"):
        try:
            getattr(app_settings, name)
        except (ConfigurationError, TypeError, ValueError) as exc:
            errors.append(Error(str(exc), id="referral_rewards.E002"))
    return errors


@register(Tags.compatibility)
def check_fraud_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The fraud checks import and are callable; scores, velocity limits, retention
    and the disposable domains list are valid."""
    from .fraud import normalize

    errors: list[Error] = []
    readers = (
        app_settings.fraud_checks,
        lambda: app_settings.FRAUD_SCORES,
        lambda: app_settings.FRAUD_VELOCITY,
        lambda: app_settings.RETENTION_DAYS,
        normalize.disposable_domains,
    )
    for read in readers:
        try:
            read()
        except ConfigurationError as exc:
            errors.append(
                Error(str(exc), hint="See the fraud checks topic.", id="referral_rewards.E006")
            )
    return errors


@register(Tags.compatibility)
def check_api_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The REST API's settings have good values and its authentication classes import
    (checked whether or not the API is installed: they are cheap to read)."""
    from django.utils.module_loading import import_string

    errors = []
    for name in (
        "API_PAGE_SIZE",
        "API_IDEMPOTENCY_RETENTION_HOURS",
        "API_HOST_KEYS",
        "SIGNATURE_TOLERANCE",
    ):
        try:
            getattr(app_settings, name)
        except ConfigurationError as exc:
            errors.append(Error(str(exc), id="referral_rewards.E007"))
    try:
        paths = app_settings.API_AUTHENTICATION_CLASSES or []
    except ConfigurationError as exc:
        return [*errors, Error(str(exc), id="referral_rewards.E007")]
    for path in paths:
        try:
            import_string(path)
        except ImportError as exc:
            errors.append(
                Error(
                    f"{PREFIX}API_AUTHENTICATION_CLASSES: cannot import {path!r}: {exc}",
                    id="referral_rewards.E007",
                )
            )
    return errors


@register(Tags.compatibility)
def check_host_signals(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    try:
        app_settings.host_signals()
    except ConfigurationError as exc:
        return [
            Error(
                str(exc),
                hint="Name a module-level django.dispatch.Signal, e.g. 'shop.signals.order_paid'.",
                id="referral_rewards.E003",
            )
        ]
    return []


#: Cache backends whose counters are not shared by every process (or not kept at all).
_DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"
_LOCMEM_CACHE = "django.core.cache.backends.locmem.LocMemCache"


@register(Tags.compatibility, Tags.caches)
def check_rate_limits(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """The rates parse, the cache alias exists, and the cache can hold the counters."""
    try:
        limits = app_settings.RATE_LIMITS
    except ConfigurationError as exc:
        return [
            Error(
                str(exc),
                hint="Give each scope a rate such as '20/m' or '100/10m', or None for no limit.",
                id="referral_rewards.E004",
            )
        ]
    alias = app_settings.RATE_LIMIT_CACHE
    caches = getattr(settings, "CACHES", {}) or {}
    if alias not in caches:
        return [
            Error(
                f"{PREFIX}RATE_LIMIT_CACHE = {alias!r} is not a cache alias in CACHES.",
                hint=f"Use one of {sorted(caches)} or add {alias!r} to CACHES.",
                id="referral_rewards.E005",
            )
        ]
    if not any(limits.values()):
        return []  # nothing is limited: the cache does not matter
    backend = str(caches[alias].get("BACKEND", ""))
    if backend == _DUMMY_CACHE:
        return [
            Warning(
                f"The rate-limit cache {alias!r} is a DummyCache: it keeps nothing, so no "
                "rate limit applies.",
                hint=f"Point {PREFIX}RATE_LIMIT_CACHE at a real cache (Redis or Memcached), "
                f"or set the scopes of {PREFIX}RATE_LIMITS to None to switch limits off.",
                id="referral_rewards.W002",
            )
        ]
    if backend == _LOCMEM_CACHE and not settings.DEBUG:
        return [
            Warning(
                f"The rate-limit cache {alias!r} is a LocMemCache: each worker process counts "
                "on its own, so a client gets the limit once per process, and a restart "
                "forgets every count.",
                hint=f"Point {PREFIX}RATE_LIMIT_CACHE at a cache your processes share (Redis "
                "or Memcached); silence this warning if you run a single process.",
                id="referral_rewards.W003",
            )
        ]
    return []
