"""The REST API (Django REST framework, OpenAPI 3 schema by drf-spectacular).

It needs the ``api`` extra (``pip install "django-referral-rewards[api]"``); the rest of
the package works without it. Add ``"rest_framework"`` to ``INSTALLED_APPS`` and include
the URLs::

    path("api/rewards/", include("django_referral_rewards.api.urls")),

See the "REST API" page of the docs for the endpoints, authentication, errors and
idempotency keys.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

try:
    import drf_spectacular  # noqa: F401
    import rest_framework  # noqa: F401
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImproperlyConfigured(
        "django_referral_rewards.api needs Django REST framework and drf-spectacular: "
        'pip install "django-referral-rewards[api]".'
    ) from exc
