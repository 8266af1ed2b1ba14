"""Who may see which object: a member sees their own, staff see what their permission
covers. Every view that takes an object id (portal pages, API endpoints, QR images,
PDF cards) reads it through :func:`get_for_request` (or filters a list with
:func:`visible_to`), so another member's id is a 404 — never the object, and never a
hint that it exists.

Ownership is a lookup path from the object to the member, e.g. ``"account__member"``
for a redemption, payout or voucher, ``"owner__member"`` for a code.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

M = TypeVar("M", bound=Model)


def member_for(user: Any) -> Any:
    """The member of a signed-in ``user`` (none is created), or ``None``."""
    from .conf import app_settings

    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return app_settings.member_adapter().get_member(user, create=False)


def has_staff_permission(user: Any, model: type[Model], action: str = "view") -> bool:
    """Whether ``user`` is active staff holding ``<action>_<model>`` (``view`` by
    default) on ``model``."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not (getattr(user, "is_active", False) and getattr(user, "is_staff", False)):
        return False
    opts = model._meta
    return bool(user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"))


def visible_to(
    queryset: QuerySet[M], user: Any, *, owner: str, staff_action: str | None = "view"
) -> QuerySet[M]:
    """``queryset`` restricted to what ``user`` may see: everything for staff holding
    the ``staff_action`` permission on the model (``None``: staff get no wider view),
    the objects whose ``owner`` path leads to the user's member for members, nothing
    for anyone else."""
    if staff_action is not None and has_staff_permission(user, queryset.model, staff_action):
        return queryset
    member = member_for(user)
    if member is None:
        return queryset.none()
    return queryset.filter(**{owner: member})


def get_for_request(
    queryset: QuerySet[M],
    request: Any,
    *,
    owner: str,
    staff_action: str | None = "view",
    **lookup: Any,
) -> M:
    """The object of ``queryset`` matching ``lookup`` that the request's user may see
    (see :func:`visible_to`), or :class:`~django.http.Http404` — the same answer
    whether the object belongs to someone else or does not exist."""
    user = getattr(request, "user", None)
    found = visible_to(queryset, user, owner=owner, staff_action=staff_action).filter(**lookup)
    obj = found.first()
    if obj is None:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.")
    return obj
