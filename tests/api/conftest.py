"""Fixtures of the REST API tests: DRF's test client, signed in as a member, as staff
with chosen permissions, or as a host with a host key."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission

from django_referral_rewards import testing

if not settings.HAS_API:  # pragma: no cover - an env without the api extra
    pytest.skip("the api extra is not installed", allow_module_level=True)

from rest_framework.test import APIClient

#: A host key of the test settings (REFERRAL_REWARDS_API_HOST_KEYS).
HOST_KEY = "test-host-key-0123456789abcdef0123456789"


@pytest.fixture
def api() -> APIClient:
    """An anonymous API client."""
    return APIClient()


@pytest.fixture
def member_user(db) -> Any:
    return testing.make_user("member")


@pytest.fixture
def member_api(member_user) -> APIClient:
    """An API client signed in as ``member_user``."""
    client = APIClient()
    client.force_authenticate(member_user)
    return client


@pytest.fixture
def other_api(db) -> APIClient:
    """An API client signed in as another member."""
    client = APIClient()
    client.force_authenticate(testing.make_user("someone-else"))
    return client


def grant(user: Any, *codenames: str) -> Any:
    """Give ``user`` the package's permissions ``codenames`` (``"view_payout"``...)."""
    found = Permission.objects.filter(
        content_type__app_label="referral_rewards", codename__in=codenames
    )
    missing = set(codenames) - {p.codename for p in found}
    assert not missing, f"no such permissions: {missing}"
    user.user_permissions.add(*found)
    # Permissions are cached on the user object: read them afresh.
    for cache in ("_perm_cache", "_user_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


@pytest.fixture
def staff_user(db) -> Any:
    """An active staff user without permissions (grant them with :func:`grant`)."""
    return testing.make_user("staff", is_staff=True)


@pytest.fixture
def staff_api(staff_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def host_api(settings) -> APIClient:
    """An API client that sends the host key of the ``shop`` host."""
    settings.REFERRAL_REWARDS_API_HOST_KEYS = {"shop": HOST_KEY}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {HOST_KEY}")
    return client
