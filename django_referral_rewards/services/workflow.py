"""State-machine plumbing shared by the staff workflows (redemptions, payouts).

Every status change is a compare-and-set: the ``UPDATE`` names the status it read, so
two workers racing on one object cannot both move it (invariant 6); a status outside
the allowed ones raises :class:`~django_referral_rewards.exceptions.InvalidTransition`
and changes nothing. Statuses only move forward, so the retry loop ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from django.db import models
from django.dispatch import Signal
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext

from ..exceptions import InvalidArgument, InvalidTransition
from ..signals import send_on_commit

M = TypeVar("M", bound=models.Model)

#: ``(old status, new status, actor)``, as announced after commit.
Step = tuple[str, str, Any]


def actor(user: Any) -> Any:
    """``user`` when it is a saved user, else ``None`` (the system acted)."""
    return user if getattr(user, "pk", None) is not None else None


def is_active_staff(user: Any) -> bool:
    """Whether ``user`` is a saved, active staff user (who may take staff steps)."""
    return (
        getattr(user, "pk", None) is not None
        and bool(getattr(user, "is_active", False))
        and bool(getattr(user, "is_staff", False))
    )


def require_staff(user: Any, message: str, **params: Any) -> None:
    """Refuse anyone but an active staff user for a staff step:
    :class:`InvalidArgument` with ``message`` (formatted with ``user`` and ``params``)."""
    if not is_active_staff(user):
        raise InvalidArgument(message % {"user": user, **params})


def when(moment: datetime) -> str:
    """``moment`` as short local date and time, for messages."""
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def illegal(obj: models.Model, status: str | None, attempted: str) -> InvalidTransition:
    """The error for moving ``obj`` (whose status is now ``status``, ``None`` when it
    no longer exists) by a step it does not allow."""
    name = capfirst(obj._meta.verbose_name)
    context = {f"{obj._meta.model_name}_id": obj.pk}
    if status is None:
        return InvalidTransition(
            gettext("%(name)s #%(pk)s no longer exists.") % {"name": name, "pk": obj.pk},
            **context,
        )
    labels = dict(obj._meta.get_field("status").flatchoices)  # type: ignore[union-attr]
    return InvalidTransition(
        gettext("%(name)s #%(pk)s is %(status)s; it cannot be %(attempted)s.")
        % {
            "name": name,
            "pk": obj.pk,
            "status": str(labels.get(status, status)).lower(),
            "attempted": attempted,
        },
        status=str(status),
        attempted=attempted,
        **context,
    )


def compare_and_set(
    current: models.Model,
    *,
    allowed: tuple[str, ...],
    attempted: str,
    new: str | None = None,
    **updates: Any,
) -> str:
    """Write ``updates`` (and ``status=new``) only while the status is still the one
    read, and return that (old) status. A status outside ``allowed`` raises
    :class:`InvalidTransition`. ``current`` is updated in memory on success."""
    manager = type(current)._default_manager
    status: str | None = current.status  # type: ignore[attr-defined]
    while True:
        if status not in allowed:
            raise illegal(current, status, attempted)
        values = dict(updates)
        if new is not None:
            values["status"] = new
        if manager.filter(pk=current.pk, status=status).update(**values):
            break
        # Someone moved it on since it was read: read the status again.
        status = manager.filter(pk=current.pk).values_list("status", flat=True).first()
    for name, value in values.items():
        setattr(current, name, value)
    return str(status)


def copy_into(source: M, target: M) -> None:
    """Refresh ``target`` (the caller's instance) with ``source``'s values and loaded
    relations."""
    if source is target:
        return
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.fields_cache = dict(source._state.fields_cache)
    target._state.adding = False
    target._state.db = source._state.db


def announce(signal: Signal, obj: models.Model, steps: list[Step]) -> None:
    """Send ``signal`` (a ``*_status_changed`` signal) for each step after commit, in
    order, with the object under its model name (``payout=``, ``redemption=``)."""
    name = str(obj._meta.model_name)
    for old, new, by in steps:
        send_on_commit(
            signal,
            sender=type(obj),
            **{name: obj},
            old_status=str(old),
            new_status=str(new),
            actor=actor(by),
        )
