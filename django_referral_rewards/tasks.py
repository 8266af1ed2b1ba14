"""Background work as tasks of Django's tasks framework (``django.tasks`` on Django 6.0
and later, the ``django-tasks`` backport on earlier versions), for hosts that run a task
worker. Each task is a thin wrapper around a service; without either framework the
names below are plain functions (call them from any scheduler), and the management
commands do the same work from cron.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

try:  # Django 6.0 and later
    from django.tasks import task
except ImportError:  # pragma: no cover - depends on the Django version
    try:  # the backport
        from django_tasks import task  # type: ignore[no-redef]
    except ImportError:
        task = None  # type: ignore[assignment]

#: Whether a tasks framework is installed (the functions below are then tasks).
HAS_TASKS = task is not None


def deliver_webhooks(event_id: str | None = None) -> dict[str, int]:
    """Send the due webhook deliveries (of one event with ``event_id``, a UUID string):
    :func:`django_referral_rewards.services.webhooks.deliver_due`. Returns its counts.
    Enqueued after each commit that wrote deliveries when
    :setting:`REFERRAL_REWARDS_WEBHOOK_DELIVERY` is ``"task"``; schedule it without an
    argument every minute or so to send the retries."""
    from .services import webhooks

    run = webhooks.deliver_due(event_id=uuid.UUID(event_id) if event_id else None)
    return dataclasses.asdict(run)


if task is not None:  # pragma: no cover - depends on the Django version
    deliver_webhooks = task()(deliver_webhooks)  # type: ignore[assignment]


def enqueue_delivery(event_id: uuid.UUID) -> bool:
    """Enqueue :func:`deliver_webhooks` for one event; ``False`` (nothing done: the
    command will send it) when no tasks framework is installed."""
    enqueue: Any = getattr(deliver_webhooks, "enqueue", None)
    if enqueue is None:
        return False
    enqueue(str(event_id))
    return True
