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
    try:
        app_settings.SWEEP_BATCH_SIZE  # noqa: B018
    except (ConfigurationError, TypeError, ValueError) as exc:
        return [Error(str(exc), id="referral_rewards.E002")]
    return []


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
