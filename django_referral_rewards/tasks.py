"""Background work as tasks of Django's tasks framework (``django.tasks`` on Django 6.0
and later, the ``django-tasks`` backport on earlier versions), for hosts that run a task
worker. Each task is a thin wrapper around a service; without either framework the
names below are plain functions (call them from any scheduler), and the management
commands do the same work from cron.

Every sweep is idempotent and batched, and claims its rows with ``SKIP LOCKED`` where
the database has it: schedule each as often as you like, on as many workers as you
like; a run that dies half-way is finished by the next. Each returns its counts (as
JSON, what a task result may hold).

==========================  ==================================  ===========================
Task                        Does                                Same as the command
==========================  ==================================  ===========================
``release_grants``          releases held rewards now due       ``rewards_release_grants``
``expire_referrals``        expires pending referrals past      ``rewards_expire_referrals``
                            their attribution window
``resolve_reviews``         resolves fraud reviews past their   ``rewards_resolve_reviews``
                            deadline by the program's default
``expire_points``           expires earn lots past their date   ``rewards_expire_points``
``notify_expiring``         e-mails members whose points        ``rewards_notify_expiring``
                            expire soon
``evaluate_tiers``          re-evaluates tiers (downgrades      ``rewards_evaluate_tiers``
                            after the grace period)
``purge``                   the retention purge                 ``rewards_purge``
``deliver_webhooks``        sends due webhook deliveries        ``rewards_deliver_webhooks``
==========================  ==================================  ===========================
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

try:  # Django 6.0 and later
    from django.tasks import task
except ImportError:  # pragma: no cover - depends on the Django version
    try:  # the backport
        from django_tasks import task  # type: ignore[no-redef]
    except ImportError:
        task = None  # type: ignore[assignment]

#: Whether a tasks framework is installed (the functions below are then tasks).
HAS_TASKS = task is not None


def as_json(result: Any) -> dict[str, Any]:
    """A sweep's result dataclass as JSON-able values (dates as ISO strings)."""
    data: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(result), cls=DjangoJSONEncoder))
    return data


def _as_task(function: Callable[..., Any]) -> Any:
    """``function`` as a task of the installed framework (itself without one)."""
    return task()(function) if task is not None else function


def release_grants() -> dict[str, Any]:
    """Release the held rewards now due (:func:`.services.rewards.release_due`)."""
    from .services import rewards

    return as_json(rewards.release_due())


def expire_referrals() -> dict[str, Any]:
    """Expire pending referrals past their attribution window
    (:func:`.services.referrals.expire_pending`)."""
    from .services import referrals

    return as_json(referrals.expire_pending())


def resolve_reviews() -> dict[str, Any]:
    """Resolve the fraud reviews past their deadline
    (:func:`.services.fraud.resolve_due_reviews`)."""
    from .services import fraud

    return as_json(fraud.resolve_due_reviews())


def expire_points(program: str | None = None) -> dict[str, Any]:
    """Expire the earn lots past their date, of one program (a slug) or all
    (:func:`.services.ledger.expire_lots`)."""
    from .services import ledger

    return as_json(ledger.expire_lots(program=program))


def notify_expiring(program: str | None = None) -> dict[str, Any]:
    """E-mail the members whose points expire soon
    (:func:`.services.notices.notify_expiring`)."""
    from .services import notices

    return as_json(notices.notify_expiring(program=program))


def evaluate_tiers(program: str | None = None) -> dict[str, Any]:
    """Re-evaluate the tiers of every account (:func:`.services.tiers.reevaluate`)."""
    from .services import tiers

    return as_json(tiers.reevaluate(program=program))


def purge() -> dict[str, Any]:
    """The retention purge (:func:`.services.privacy.purge_expired`)."""
    from .services import privacy

    return as_json(privacy.purge_expired())


def deliver_webhooks(event_id: str | None = None) -> dict[str, int]:
    """Send the due webhook deliveries (of one event with ``event_id``, a UUID string):
    :func:`django_referral_rewards.services.webhooks.deliver_due`. Returns its counts.
    Enqueued after each commit that wrote deliveries when
    :setting:`REFERRAL_REWARDS_WEBHOOK_DELIVERY` is ``"task"``; schedule it without an
    argument every minute or so to send the retries."""
    from .services import webhooks

    run = webhooks.deliver_due(event_id=uuid.UUID(event_id) if event_id else None)
    return dataclasses.asdict(run)


release_grants = _as_task(release_grants)
expire_referrals = _as_task(expire_referrals)
resolve_reviews = _as_task(resolve_reviews)
expire_points = _as_task(expire_points)
notify_expiring = _as_task(notify_expiring)
evaluate_tiers = _as_task(evaluate_tiers)
purge = _as_task(purge)
deliver_webhooks = _as_task(deliver_webhooks)


def enqueue_delivery(event_id: uuid.UUID) -> bool:
    """Enqueue :func:`deliver_webhooks` for one event; ``False`` (nothing done: the
    command will send it) when no tasks framework is installed."""
    enqueue: Any = getattr(deliver_webhooks, "enqueue", None)
    if enqueue is None:
        return False
    enqueue(str(event_id))
    return True
