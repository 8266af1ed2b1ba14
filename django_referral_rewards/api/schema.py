"""The OpenAPI 3 schema of the API (drf-spectacular), served at ``schema/`` under the
API's prefix and committed in ``docs/api/openapi.yaml``, which a test checks is current.
To write it, from the repository's root with the test environment's Python::

    DJANGO_SETTINGS_MODULE=tests.settings python -m django_referral_rewards.api.schema

It is built from the package's URLs only, with the package's own spectacular settings
(your ``SPECTACULAR_SETTINGS`` describe your API, not ours), and every operation lists
the error answers it may give with the common ``Error`` body.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.db.models import IntegerField
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.settings import patched_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response

URLCONF = "django_referral_rewards.api.urls"

ViewMethod = TypeVar("ViewMethod", bound=Callable[..., Any])


class PackageAutoSchema(AutoSchema):
    """drf-spectacular's schema class, but an operation's description comes only from
    ``description=``, the method's docstring or the view class's *own* docstring —
    never one inherited from a base class, which describes the package's internals."""

    def get_description(self) -> str:  # type: ignore[override]  # as drf-spectacular
        method = getattr(self.view, self.method.lower(), None)
        own = type(self.view).__dict__.get("__doc__")
        return get_doc(method) or (inspect.cleandoc(own) if own else "")


def operation(*, tags: list[str], **kwargs: Any) -> Callable[[ViewMethod], ViewMethod]:
    """``@extend_schema(tags=tags, **kwargs)`` for one method of a package view.

    On a method, ``extend_schema`` extends ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` —
    DRF's own ``AutoSchema`` unless the host configured drf-spectacular's — unless the
    method names its schema class; this names :class:`PackageAutoSchema`, as the
    views' ``schema`` does, so the package's schema never depends on the host's
    settings."""

    def decorator(method: ViewMethod) -> ViewMethod:
        method.schema = PackageAutoSchema  # type: ignore[attr-defined]
        return extend_schema(tags=tags, **kwargs)(method)

    return decorator


#: The error answers every operation documents, with what they mean.
ERROR_RESPONSES = {
    "400": "Invalid input or a refused action (see error.code and error.fields).",
    "401": "Not authenticated.",
    "403": "Authenticated, but not allowed.",
    "404": "No such object (or not yours).",
    "409": "The current state does not allow this (balance, status, stock...).",
    "422": "The Idempotency-Key was used for another request.",
    "429": "Too many requests; see Retry-After.",
}


#: The ``Error`` component (the body of every error answer).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code."},
                "message": {"type": "string", "description": "Human-readable message."},
                "fields": {
                    "type": "object",
                    "description": "For invalid input: the errors of each field.",
                    "additionalProperties": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            },
        }
    },
}


def add_error_responses(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: every operation answers errors with the ``Error`` schema."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(
                    code,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
    return result


def constrain_path_parameters(
    result: dict[str, Any], generator: Any, **kwargs: Any
) -> dict[str, Any]:
    """Postprocessing hook: each path parameter allows only what its URL converter
    matches — ``<int:...>`` no negative numbers, ``<slug:slug>`` a slug, ``<str:...>``
    no slash — since a path outside them reaches no view at all (the site's own 404)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "path":
                    continue
                found = parameter.setdefault("schema", {})
                if found.get("type") == "integer":
                    found.setdefault("minimum", 0)
                elif parameter["name"] == "slug":
                    found.setdefault("pattern", "^[-a-zA-Z0-9_]+$")
                elif found.get("type") == "string":
                    found.setdefault("pattern", "^[^/]+$")
    return result


def schema_settings() -> dict[str, Any]:
    from .. import __version__

    return {
        "TITLE": "django-referral-rewards",
        "DESCRIPTION": (
            "Referral codes, attribution, rewards, points, vouchers and payouts. Member "
            "endpoints act on the signed-in member's own data; staff endpoints need the "
            "staff permission of their model; host event endpoints take a host key. "
            "Every mutating request may carry an Idempotency-Key header."
        ),
        "VERSION": __version__,
        "COMPONENT_SPLIT_REQUEST": True,
        "SCHEMA_PATH_PREFIX": r"/",
        # Fields named "status" or "kind" take their values from several enums: give
        # each its own name rather than a hash.
        "ENUM_NAME_OVERRIDES": {
            f"{name}Enum": f"django_referral_rewards.enums.{name}"
            for name in (
                "ReferralStatus",
                "FraudStatus",
                "GrantStatus",
                "VoucherStatus",
                "RedemptionStatus",
                "PayoutStatus",
                "RewardKind",
                "EntryKind",
                "CodeKind",
                "VoucherKind",
                "OptionKind",
                "MemberKind",
                "PayoutMethod",
                "Unit",
            )
        }
        | {"ManualRewardKindEnum": "django_referral_rewards.forms.MANUAL_REWARD_KINDS"},
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "django_referral_rewards.api.schema.add_error_responses",
            "django_referral_rewards.api.schema.constrain_path_parameters",
        ],
    }


@contextlib.contextmanager
def portable_integer_ranges() -> Iterator[None]:
    """While building: the ranges of model integer fields (their largest value, in the
    schema) as Django's defaults, those of PostgreSQL, rather than the current
    database's (SQLite allows 64 bits everywhere, MySQL unsigned columns), so that the
    committed schema does not depend on the database it was built with. Fields cache
    their validators, so the cache is cleared on the way in and out."""
    from django.apps import apps
    from django.db import connection
    from django.db.backends.base.operations import BaseDatabaseOperations

    fields = [
        field
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, IntegerField)
    ]

    def forget() -> None:
        for field in fields:
            field.__dict__.pop("validators", None)

    ops = connection.ops
    forget()
    ops.integer_field_range = BaseDatabaseOperations.integer_field_ranges.__getitem__  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        del ops.integer_field_range  # the class's method again
        forget()


def build_schema(*, prefix: str = "/api/rewards") -> dict[str, Any]:
    """The schema as a dict, for the API included at ``prefix`` (with portable integer
    ranges: the committed copy, when it is the first schema built in the process; see
    :func:`main`)."""
    with patched_settings(schema_settings()), portable_integer_ranges():
        schema = SchemaGenerator(urlconf=URLCONF).get_schema(request=None, public=True)
    schema["servers"] = [{"url": prefix}]
    return schema


def render_yaml(schema: dict[str, Any]) -> str:
    from drf_spectacular.renderers import OpenApiYamlRenderer

    return OpenApiYamlRenderer().render(schema).decode()


@extend_schema(exclude=True)
class SchemaView(SpectacularAPIView):
    """The schema (YAML; JSON with ``?format=json`` or ``Accept:
    application/vnd.oai.openapi+json``), for the prefix it is served under."""

    urlconf = URLCONF
    schema = AutoSchema()

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.custom_settings = schema_settings()
        response = super().get(request, *args, **kwargs)
        prefix = request.path.rsplit("schema/", 1)[0].rstrip("/")
        response.data["servers"] = [{"url": prefix or "/"}]
        return response


def main(argv: list[str]) -> int:
    """``python -m django_referral_rewards.api.schema [--check] [PATH]``: write the
    schema to ``PATH`` (``docs/api/openapi.yaml``), or with ``--check`` exit 1 if the
    file there differs from it (compared as data: key order means nothing). Run it in
    a process of its own: serializers made when the views are imported keep the
    integer ranges of the first schema built in a process."""
    import pathlib

    import yaml

    check = "--check" in argv
    paths = [arg for arg in argv if not arg.startswith("--")]
    target = pathlib.Path(paths[0] if paths else "docs/api/openapi.yaml")
    text = render_yaml(build_schema())
    if check:
        committed = yaml.safe_load(target.read_text()) if target.exists() else None
        if committed != yaml.safe_load(text):
            print(
                f"{target} is out of date; regenerate it with `DJANGO_SETTINGS_MODULE="
                "tests.settings python -m django_referral_rewards.api.schema`."
            )
            return 1
        print(f"{target} is current")
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a command (tests run it so)
    import sys

    import django

    django.setup()
    sys.exit(main(sys.argv[1:]))
