"""Outbound webhooks: the outbox, delivery with retries, and replay.

Every outbound signal sent through :func:`~django_referral_rewards.signals.send_on_commit`
also calls :func:`record_event`, which writes one :class:`WebhookDelivery` per active
endpoint subscribed to the event, in the transaction that made the change: the rows
exist exactly when the change does (invariant 8; a rolled-back transaction leaves
none). After the commit, :setting:`REFERRAL_REWARDS_WEBHOOK_DELIVERY` says who sends
them: a task, this process, or only the ``rewards_deliver_webhooks`` command, which
also sends every retry.

Sending never holds a database lock during the HTTP call. A worker claims due rows in
a short transaction (``SELECT ... FOR UPDATE SKIP LOCKED`` where the database has it)
and moves their ``next_attempt_at`` forward as a lease, so other workers skip them;
commits; ``POST``\\ s each one; and records the outcome in another short transaction
with a compare-and-set on the lease, so any number of workers deliver each row once
per attempt. Delivery is at least once: a receiver deduplicates on the
``Referral-Rewards-Delivery`` header (the event id).

The active endpoints are cached (:setting:`REFERRAL_REWARDS_WEBHOOK_ENDPOINT_CACHE_SECONDS`)
so an event costs no query when nobody listens.
"""

from __future__ import annotations

import dataclasses
import functools
import http.client
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from .. import __version__, signing
from ..abstract_models.webhooks import generate_webhook_secret
from ..conf import app_settings
from ..enums import WebhookDeliveryStatus
from ..exceptions import InvalidArgument
from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ..webhooks import payloads
from .sweeps import lock_skipping_locked
from .workflow import compare_and_set, copy_into, illegal, require_staff

logger = logging.getLogger(__name__)

Status = WebhookDeliveryStatus

#: The cache key of the active endpoints (in the default cache).
ENDPOINTS_CACHE_KEY = "referral_rewards:webhook_endpoints:v1"
#: The wait before the first retry; it doubles after each failed attempt ...
BACKOFF_BASE = timedelta(seconds=30)
#: ... up to this.
BACKOFF_CAP = timedelta(hours=6)
#: How much longer than the HTTP calls of its batch may take a worker's lease lasts.
LEASE_MARGIN = timedelta(seconds=60)
#: The request headers (besides ``Content-Type`` and ``User-Agent``).
EVENT_HEADER = "Referral-Rewards-Event"
DELIVERY_HEADER = "Referral-Rewards-Delivery"
USER_AGENT = f"django-referral-rewards/{__version__} (webhooks)"
#: How much of a receiver's answer an attempt keeps.
EXCERPT_LENGTH = 1000

#: ``(endpoint id, subscribed event names (empty: all), program id or None)``.
Route = tuple[int, tuple[str, ...], int | None]


# --- the outbox -----------------------------------------------------------------------


@functools.cache
def _event_names() -> dict[Signal, str]:
    from .. import signals

    return {getattr(signals, name): name for name in signals.OUTBOUND_SIGNALS}


def event_name(signal: Signal) -> str | None:
    """The webhook event name of ``signal`` (its name in ``signals.py``), or ``None``
    when it is not an outbound signal."""
    return _event_names().get(signal)


def active_endpoints() -> list[Route]:
    """The active endpoints as :data:`Route` tuples, from the default cache when it has
    them (one query to fill it)."""
    ttl = app_settings.WEBHOOK_ENDPOINT_CACHE_SECONDS
    if ttl:
        cached = cache.get(ENDPOINTS_CACHE_KEY)
        if cached is not None:
            return list(cached)
    routes: list[Route] = [
        (pk, tuple(events or ()), program_id)
        for pk, events, program_id in WebhookEndpoint.objects.filter(active=True)
        .order_by("pk")
        .values_list("pk", "events", "program_id")
    ]
    if ttl:
        cache.set(ENDPOINTS_CACHE_KEY, routes, ttl)
    return routes


def forget_endpoints() -> None:
    """Drop the cached endpoints (an endpoint was saved or deleted): now, and again
    when the current transaction commits, so a process that read the old rows in the
    meantime cannot put them back for long."""
    cache.delete(ENDPOINTS_CACHE_KEY)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(functools.partial(cache.delete, ENDPOINTS_CACHE_KEY))


def event_program_id(kwargs: Mapping[str, Any]) -> Any:
    """The id of the program an event is about: that of the first model instance among
    its arguments that has one (the account, the referral, the payout...)."""
    for value in kwargs.values():
        if isinstance(value, models.Model):
            program_id = getattr(value, "program_id", None)
            if program_id is not None:
                return program_id
    return None


def record_event(signal: Signal, kwargs: Mapping[str, Any]) -> uuid.UUID | None:
    """Write the deliveries of the event ``signal`` sent with ``kwargs`` (one per active
    endpoint that wants it), in the current transaction, and have them sent once it
    commits. Returns the event id, or ``None`` when nobody wants the event (then no
    query is made, the endpoints being cached)."""
    name = event_name(signal)
    if name is None:
        return None
    routes = active_endpoints()
    if not routes:
        return None
    program_id = event_program_id(kwargs) if any(route[2] is not None for route in routes) else None
    targets = [
        pk
        for pk, events, program in routes
        if (not events or name in events) and (program is None or program == program_id)
    ]
    if not targets:
        return None
    event_id = uuid.uuid4()
    now = timezone.now()
    payload = payloads.event_payload(name, kwargs, event_id=event_id, created_at=now)
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint_id=pk,
                event=name,
                event_id=event_id,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
            for pk in targets
        ]
    )
    transaction.on_commit(functools.partial(after_commit, event_id), robust=True)
    return event_id


def after_commit(event_id: uuid.UUID) -> None:
    """Start sending an event's deliveries, as :setting:`REFERRAL_REWARDS_WEBHOOK_DELIVERY`
    says. Errors are logged: the change is committed whatever happens here, and the
    command sends what is left."""
    mode = app_settings.WEBHOOK_DELIVERY
    try:
        if mode == "immediate":
            deliver_due(event_id=event_id)
        elif mode == "task":
            from .. import tasks

            tasks.enqueue_delivery(event_id)
    except Exception:
        logger.exception("Could not start sending the webhooks of event %s.", event_id)


# --- sending --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeliveryRun:
    """What one run of :func:`deliver_due` did: deliveries ``delivered``, ``retried``
    (failed, another attempt scheduled), ``failed`` (given up), ``cancelled`` (their
    endpoint is inactive or gone), and how many ``batches`` it claimed."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    batches: int = 0


@dataclasses.dataclass(frozen=True)
class Response:
    """What a receiver answered: the HTTP status (``None`` without an answer), the
    error (``""`` on a 2xx) and the start of the body."""

    status_code: int | None
    error: str
    excerpt: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff(attempts: int) -> timedelta:
    """How long to wait after ``attempts`` failed attempts: 30 s, 1 min, 2 min, ...
    doubling, at most 6 hours."""
    exponent = min(max(attempts, 1) - 1, 30)
    return min(BACKOFF_BASE * (2**exponent), BACKOFF_CAP)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: following it would turn the
    ``POST`` into a ``GET`` (or send the payload somewhere else)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _excerpt(response: Any) -> str:
    try:
        data = response.read(EXCERPT_LENGTH)
    except Exception:  # the body of an error answer may be gone already
        return ""
    return data.decode("utf-8", "replace")[:EXCERPT_LENGTH] if data else ""


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> Response:
    """``POST`` ``body`` to ``url`` (http or https only; redirects are not followed)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return Response(None, gettext("Only http and https URLs can receive webhooks."), "")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as answer:
            return Response(answer.status, "", _excerpt(answer))
    except urllib.error.HTTPError as exc:
        return Response(exc.code, f"HTTP {exc.code} {exc.reason}".strip(), _excerpt(exc))
    except (OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        return Response(None, f"{type(exc).__name__}: {reason}"[:2000], "")


def body_of(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent (and signed) for ``delivery``: its payload as compact
    JSON."""
    return json.dumps(
        delivery.payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False
    ).encode()


def request_headers(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, body: bytes
) -> dict[str, str]:
    """The headers of a delivery's request, signed now with the endpoint's secret."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.SIGNATURE_HEADER: signing.sign(endpoint.secret, body),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.event_id),
    }


def _claim(
    due: models.QuerySet[WebhookDelivery], *, now: datetime, batch_size: int
) -> tuple[list[tuple[WebhookDelivery, WebhookEndpoint]], int, datetime | None]:
    """Claim up to ``batch_size`` rows of ``due`` in one short transaction: cancel those
    whose endpoint is inactive or gone, lease the others. Returns ``(leased rows with
    their endpoints, how many were cancelled, the lease)``; nothing claimed: ``([], 0,
    None)``."""
    timeout = app_settings.WEBHOOK_TIMEOUT
    with transaction.atomic():
        batch = list(lock_skipping_locked(due.order_by("next_attempt_at", "pk"))[:batch_size])
        if not batch:
            return [], 0, None
        endpoints = WebhookEndpoint.objects.in_bulk({row.endpoint_id for row in batch})
        dead = [
            row.pk
            for row in batch
            if row.endpoint_id not in endpoints or not endpoints[row.endpoint_id].active
        ]
        cancelled = 0
        if dead:
            cancelled = WebhookDelivery.objects.filter(pk__in=dead, status=Status.PENDING).update(
                status=Status.CANCELLED,
                next_attempt_at=None,
                last_error=gettext("The endpoint is inactive or was deleted."),
            )
        dead_ids = set(dead)
        live = [row for row in batch if row.pk not in dead_ids]
        if not live:
            return [], cancelled, None
        lease = now + timedelta(seconds=timeout * len(live)) + LEASE_MARGIN
        ids = [row.pk for row in live]
        leased = WebhookDelivery.objects.filter(
            pk__in=ids, status=Status.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=lease)
        if leased != len(live):  # pragma: no cover - only without row locks (SQLite, deferred)
            won = set(
                WebhookDelivery.objects.filter(pk__in=ids, next_attempt_at=lease).values_list(
                    "pk", flat=True
                )
            )
            live = [row for row in live if row.pk in won]
    for row in live:
        row.next_attempt_at = lease
    return [(row, endpoints[row.endpoint_id]) for row in live], cancelled, lease


def _attempt(
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    *,
    lease: datetime,
    now: datetime | None,
) -> str:
    """Send a leased ``delivery`` once and record the outcome; returns its status
    afterwards (``"pending"``: it will be retried), or ``""`` when another worker took
    it over meanwhile (the lease ran out) and this attempt could not be recorded."""
    body = body_of(delivery)
    started = time.monotonic()
    response = post(
        endpoint.url,
        body,
        request_headers(delivery, endpoint, body),
        timeout=app_settings.WEBHOOK_TIMEOUT,
    )
    duration = int((time.monotonic() - started) * 1000)
    at = now or timezone.now()
    number = delivery.attempts + 1
    values: dict[str, Any] = {"attempts": number, "last_attempt_at": at}
    if response.ok:
        values.update(status=Status.DELIVERED, delivered_at=at, next_attempt_at=None, last_error="")
    elif number >= app_settings.WEBHOOK_MAX_ATTEMPTS:
        values.update(status=Status.FAILED, next_attempt_at=None, last_error=response.error)
    else:
        values.update(next_attempt_at=at + backoff(number), last_error=response.error)
    with transaction.atomic():
        won = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=Status.PENDING, attempts=delivery.attempts, next_attempt_at=lease
        ).update(**values)
        if not won:
            logger.warning(
                "Webhook delivery %s was taken over by another worker during attempt %s "
                "(answer: %s); this attempt is not recorded.",
                delivery.pk,
                number,
                response.status_code or response.error,
            )
            return ""
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            at=at,
            status_code=response.status_code,
            duration_ms=duration,
            error=response.error,
            response=response.excerpt,
        )
    for name, value in values.items():
        setattr(delivery, name, value)
    if not response.ok:
        logger.info(
            "Webhook delivery %s (%s to %s) attempt %s failed: %s",
            delivery.pk,
            delivery.event,
            endpoint.url,
            number,
            response.error,
        )
    return str(delivery.status)


def deliver_due(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    event_id: uuid.UUID | None = None,
) -> DeliveryRun:
    """Send every delivery that is due (pending, ``next_attempt_at`` passed), in
    batches of ``batch_size`` (default :setting:`REFERRAL_REWARDS_WEBHOOK_BATCH_SIZE`);
    only those of one event with ``event_id``. Call it outside a transaction. Safe to
    run on any number of workers at once: each due row is sent by one of them. Rows
    that become due while it runs wait for the next run, so it always ends."""
    given_now = now
    now = now or timezone.now()
    size = batch_size or app_settings.WEBHOOK_BATCH_SIZE
    due = WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
    if event_id is not None:
        due = due.filter(event_id=event_id)
    counts = {"delivered": 0, "retried": 0, "failed": 0, "cancelled": 0, "batches": 0}
    while True:
        claimed, cancelled, lease = _claim(due, now=now, batch_size=size)
        if not claimed and not cancelled:
            break
        counts["batches"] += 1
        counts["cancelled"] += cancelled
        for delivery, endpoint in claimed:
            assert lease is not None
            status = _attempt(delivery, endpoint, lease=lease, now=given_now)
            if status == Status.DELIVERED:
                counts["delivered"] += 1
            elif status == Status.FAILED:
                counts["failed"] += 1
            elif status == Status.PENDING:
                counts["retried"] += 1
    return DeliveryRun(**counts)


def deliver(delivery: WebhookDelivery, *, now: datetime | None = None) -> WebhookDelivery:
    """Make one attempt at a pending ``delivery`` now, even before its retry is due
    (the admin's "Deliver now"), and return it updated. Raises
    :class:`~django_referral_rewards.exceptions.InvalidTransition` when it is not
    pending; a delivery of an inactive endpoint is cancelled instead."""
    given_now = now
    now = now or timezone.now()
    current = WebhookDelivery.objects.get(pk=delivery.pk)
    if current.status != Status.PENDING:
        raise illegal(current, current.status, gettext("delivered"))
    due = WebhookDelivery.objects.filter(
        pk=current.pk, status=Status.PENDING, next_attempt_at=current.next_attempt_at
    )
    # Make it due at once for the claim (it is ours only if nobody moved it meanwhile).
    if due.update(next_attempt_at=now):
        claimed, _cancelled, lease = _claim(
            WebhookDelivery.objects.filter(
                pk=current.pk, status=Status.PENDING, next_attempt_at=now
            ),
            now=now,
            batch_size=1,
        )
        for row, endpoint in claimed:
            assert lease is not None
            _attempt(row, endpoint, lease=lease, now=given_now)
    fresh = WebhookDelivery.objects.get(pk=current.pk)
    copy_into(fresh, delivery)
    return delivery


def replay(delivery: WebhookDelivery, *, by: Any = None) -> WebhookDelivery:
    """Send a delivered, failed or cancelled ``delivery`` again: it is ``pending`` and
    due now (sent after commit as :setting:`REFERRAL_REWARDS_WEBHOOK_DELIVERY` says, or
    by the next command run) as a further attempt with the same event id and payload;
    its attempts continue from their count (one that had used up
    :setting:`REFERRAL_REWARDS_WEBHOOK_MAX_ATTEMPTS` gets one more). ``by``, when
    given, must be an active staff user. Raises :class:`InvalidTransition` for a
    pending delivery and :class:`InvalidArgument` when its endpoint is inactive."""
    if by is not None:
        require_staff(by, gettext("Only an active staff user can replay a webhook, not %(user)s."))
    with transaction.atomic():
        current = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery.pk)
        if not current.endpoint.active and current.status != Status.PENDING:
            raise InvalidArgument(
                gettext("The endpoint %(endpoint)s is inactive: activate it first.")
                % {"endpoint": current.endpoint},
                delivery_id=current.pk,
            )
        compare_and_set(
            current,
            allowed=(Status.DELIVERED, Status.FAILED, Status.CANCELLED),
            attempted=gettext("replayed"),
            new=Status.PENDING,
            next_attempt_at=timezone.now(),
            delivered_at=None,
            last_error="",
        )
        logger.info("Webhook delivery %s replayed by %s.", current.pk, by or "the system")
        transaction.on_commit(functools.partial(after_commit, current.event_id), robust=True)
    copy_into(current, delivery)
    return delivery


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """Give ``endpoint`` a new signing secret and return it. Deliveries are signed when
    they are sent, so every later attempt (retries too) uses the new one: update the
    receiver at once."""
    secret = generate_webhook_secret()
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "modified"])
    return secret
