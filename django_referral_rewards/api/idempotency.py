"""Idempotency keys: a client that sends a mutating request (``POST``, ``PUT``,
``PATCH``, ``DELETE``) with an ``Idempotency-Key`` header may send it again — after a
timeout, a lost answer, a crash — and it acts once.

How it works: the request runs in one transaction that first inserts an
:class:`~django_referral_rewards.models.IdempotencyRecord` for ``(client, key)`` and,
when the view has answered, stores the answer in it. A repeat finds the record and
gets the stored answer back (status and body, with ``Idempotent-Replayed: true``); a
repeat sent while the first is still running waits on the record's unique index and
then does the same. Nothing the first request changed can exist without its record, so
a crash never leaves work done but unrecorded.

The same key with another request (method, path, query or body) is refused with
``422`` and code ``idempotency_conflict``. Answers are kept
``REFERRAL_REWARDS_API_IDEMPOTENCY_RETENTION_HOURS``; server errors and ``429`` answers
are not kept (the request may be retried as new).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..conf import app_settings
from ..exceptions import IdempotencyConflict, InvalidArgument
from ..models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Answers that are not kept: the request did nothing and may be sent again as new.
NOT_KEPT = frozenset({429})


class Replay(Exception):
    """Raised inside a view to answer with a stored response."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.record = record


def replay_response(record: IdempotencyRecord) -> Response:
    return Response(record.response, status=record.status_code, headers={REPLAYED_HEADER: "true"})


def client_scope(request: Request) -> str | None:
    """Whose keys these are: ``"host:<name>"`` for a host key, ``"user:<pk>"`` for a
    signed-in user, ``None`` (no idempotency) for anyone else."""
    from .authentication import HostClient

    user = getattr(request, "user", None)
    if isinstance(user, HostClient):
        return f"host:{user.name}"
    if user is not None and user.is_authenticated and user.pk is not None:
        return f"user:{user.pk}"
    return None


def fingerprint(request: Request) -> str:
    """The SHA-256 of what makes a request the same request: method, path with query
    string, and body (JSON with sorted keys, so key order does not matter)."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form data)
        data = {name: values for name, values in data.lists()}
    try:
        body = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    except (TypeError, ValueError):  # pragma: no cover - DRF parsers give JSON-able data
        body = repr(data)
    text = f"{request.method}\n{request.get_full_path()}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def clean_key(value: str) -> str:
    key = value.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidArgument(
            gettext("The Idempotency-Key header must be 1 to %(max)d printable ASCII characters.")
            % {"max": MAX_KEY_LENGTH},
            field=HEADER,
        )
    return key


def _check(record: IdempotencyRecord, fingerprint: str) -> None:
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict(
            gettext("This Idempotency-Key was already used for a different request."),
            key=record.key,
        )
    raise Replay(record)


class IdempotencyMixin(APIView):
    """Base of the package's DRF views: runs every mutating request that carries an
    ``Idempotency-Key`` header at most once per client and key (see the module)."""

    _idempotency_stack: contextlib.ExitStack
    idempotency_record: IdempotencyRecord | None = None

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with contextlib.ExitStack() as stack:
            self._idempotency_stack = stack
            self.idempotency_record = None
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raw = request.headers.get(HEADER)
        if raw is None or request.method not in UNSAFE_METHODS:
            return
        key = clean_key(raw)
        scope = client_scope(request)
        if scope is None:
            return
        digest = fingerprint(request)
        lookup = IdempotencyRecord.objects.filter(scope=scope, key=key)
        cutoff = timezone.now() - dt.timedelta(hours=app_settings.API_IDEMPOTENCY_RETENTION_HOURS)
        stored = lookup.first()
        if stored is not None:
            if stored.created_at >= cutoff:
                _check(stored, digest)
            lookup.filter(created_at__lt=cutoff).delete()  # expired: the key is free again
        # The request's own transaction: its record and its changes commit together.
        self._idempotency_stack.enter_context(transaction.atomic())
        try:
            with transaction.atomic():
                self.idempotency_record = IdempotencyRecord.objects.create(
                    scope=scope,
                    key=key,
                    method=request.method or "",
                    path=request.path[:500],
                    fingerprint=digest,
                )
        except IntegrityError:
            # The same key is being (or was just) answered by another request: its
            # record is visible now that it has committed. A locking read sees it
            # whatever the isolation level.
            _check(lookup.select_for_update().get(), digest)

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, Replay):
            return replay_response(exc.record)
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        record, self.idempotency_record = self.idempotency_record, None
        if record is None:
            return response
        if response.status_code >= 500:
            transaction.set_rollback(True)  # nothing of a failed request is kept
            return response
        if transaction.get_rollback():
            # Marked for rollback (DRF does so for an error under ATOMIC_REQUESTS): the
            # record goes with the rest, and the request may be sent again.
            return response
        if response.status_code in NOT_KEPT:
            record.delete()
        else:
            record.status_code = response.status_code
            record.response = getattr(response, "data", None)
            record.save(update_fields=["status_code", "response"])
        return response
