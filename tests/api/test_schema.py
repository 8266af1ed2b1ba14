"""The OpenAPI schema: the committed copy is current, it is valid OpenAPI 3, building it
warns about nothing, it is served with the API's prefix, and the API answers as it says
(a schemathesis run over every operation, as a member, as staff and as a host)."""

from __future__ import annotations

import base64
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import Permission
from django.core.wsgi import get_wsgi_application

from django_referral_rewards import testing
from django_referral_rewards.api.schema import build_schema
from django_referral_rewards.models import RewardRule
from django_referral_rewards.services import codes, events

from .conftest import HOST_KEY

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR  # noqa: E402

COMMITTED = pathlib.Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.yaml"
SCHEMA_URL = "/api/rewards/schema/"
PASSWORD = "password"  # testing.make_user's
#: Examples per operation: more for the operations of the identity's own kind.
OWN_EXAMPLES = 15
OTHER_EXAMPLES = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_committed_schema_is_current(tmp_path):
    # In a process of its own, as a maintainer regenerates it: the first schema built in
    # a process fixes the integer ranges of serializers made at import time.
    run = subprocess.run(
        [sys.executable, "-m", "django_referral_rewards.api.schema", "--check", str(COMMITTED)],
        cwd=COMMITTED.parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, (
        f"{run.stdout}{run.stderr}\ndocs/api/openapi.yaml is out of date; regenerate it from "
        "the repository root with "
        "`DJANGO_SETTINGS_MODULE=tests.settings python -m django_referral_rewards.api.schema`."
    )


def test_the_schema_command_writes_and_checks(tmp_path):
    from django_referral_rewards.api.schema import main

    target = tmp_path / "openapi.yaml"
    assert main(["--check", str(target)]) == 1  # missing
    assert main([str(target)]) == 0
    assert yaml.safe_load(target.read_text())["info"]["title"] == "django-referral-rewards"
    assert main(["--check", str(target)]) == 0
    target.write_text("openapi: 3.0.3\n")
    assert main(["--check", str(target)]) == 1


def test_schema_is_valid_openapi_3():
    schema = build_schema()
    assert schema["openapi"].startswith("3.0")
    OPENAPI_30_VALIDATOR.validate(schema)  # raises, naming the first error


def test_building_the_schema_warns_about_nothing(capsys):
    from drf_spectacular.drainage import GENERATOR_STATS

    GENERATOR_STATS.reset()
    build_schema()
    warnings = dict(GENERATOR_STATS._warn_cache)
    errors = dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    assert not errors, "drf-spectacular errors:\n" + "\n".join(errors)
    assert not warnings, "drf-spectacular warnings:\n" + "\n".join(warnings)


def test_served_schema_names_its_prefix(api, db):
    response = api.get(SCHEMA_URL, {"format": "json"})
    assert response.status_code == 200
    served = response.json()
    assert served["servers"] == [{"url": "/api/rewards"}]
    assert served["paths"] == build_schema()["paths"]


# --- the API answers as its schema says -------------------------------------------------


def basic(user: Any) -> str:
    token = base64.b64encode(f"{user.get_username()}:{PASSWORD}".encode()).decode()
    return f"Basic {token}"


@pytest.fixture
def some_data(program):
    """A referrer with a code, points and a converted referral with an order."""
    RewardRule.objects.create(
        program=program,
        name="Referral bonus",
        trigger="first_order",
        beneficiary="referrer",
        kind="points",
        value=Decimal(100),
    )
    member = testing.make_user("api-member")
    testing.make_account(testing.make_member(member), program=program, points=500)
    code = codes.get_or_create_personal_code(member, program=program)
    newcomer = testing.make_user("api-newcomer")
    events.customer_signed_up(newcomer, code=code.code, program=program)
    events.order_completed(newcomer, "SEED-1", Decimal("40.00"), program=program)
    return member


def identity_headers(kind: str, member: Any, settings: Any) -> dict[str, str]:
    if kind == "member":
        return {"Authorization": basic(member)}
    if kind == "staff":
        staff = testing.make_user("api-staff", is_staff=True)
        staff.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="referral_rewards")
        )
        return {"Authorization": basic(staff)}
    settings.REFERRAL_REWARDS_API_HOST_KEYS = {"shop": HOST_KEY}
    return {"Authorization": f"Bearer {HOST_KEY}"}


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """Django's WSGI application, kept from closing the test's database connection at
    the end of each request (as Django's test client does)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


#: Which operations are an identity's own, by the operation's tags.
OWN_TAGS = {"member": {"me", "member"}, "staff": {"staff"}, "host": {"events"}}


def fuzz(operation: Any, app: Any, headers: dict[str, str], examples: int) -> None:
    """Send ``examples`` generated requests to ``operation``; raise on the first answer
    that is a server error or does not conform to the schema."""

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(app=app, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()  # an operation schemathesis cannot read fails the test here


# The `db` fixture (not `transactional_db`): the WSGI application runs in the test's own
# thread, on its database connection, so it sees the data set up here and everything it
# writes is rolled back with the test. A live server in another thread would need
# `transactional_db`; this does not, and is much faster. (on_commit work — outbound
# signals, webhooks — does not run inside the test transaction, which suits a fuzz run.)
@pytest.mark.parametrize("kind", ["member", "staff", "host"])
def test_api_conforms_to_its_schema(kind, some_data, settings, db, wsgi_app):
    settings.REFERRAL_REWARDS_RATE_LIMITS = {"validate_code": None}
    headers = identity_headers(kind, some_data, settings)
    app = wsgi_app
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL + "?format=json", app)
    failures: list[str] = []
    count = 0
    for operation in operations(schema):
        count += 1
        tags = set(operation.definition.raw.get("tags", []))
        examples = OWN_EXAMPLES if tags & OWN_TAGS[kind] else OTHER_EXAMPLES

        try:
            fuzz(operation, app, headers, examples)
        # Every operation's failure is reported, not the first one only.
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {type(exc).__name__}: {exc}"[:3000])
    assert count, "the schema has no operations"
    assert not failures, f"{len(failures)} of {count} operations fail as {kind}:\n\n" + (
        "\n\n".join(failures)
    )
