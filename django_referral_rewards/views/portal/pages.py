"""Helpers shared by the portal's list and detail pages (rewards, earnings, community,
the fulfilment queue): pagination, reading one of the member's objects, and history."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from ... import permissions
from .base import Portal

M = TypeVar("M", bound=Model)

#: Rows on one page of a portal list.
PAGE_SIZE = 25


def paginate(request: HttpRequest, rows: Any, *, param: str = "page") -> Page:
    """The page of ``rows`` the query string's ``param`` asks for: a bad value gives the
    first page, a number past the end the last one (never an error)."""
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get(param))


def page_query(request: HttpRequest, *, param: str = "page") -> str:
    """The current query string without ``param``, ending in ``&`` when not empty, for
    pagination links that keep the filters: ``?{{ query }}page=2``."""
    params = request.GET.copy()
    params.pop(param, None)
    encoded = params.urlencode()
    return f"{encoded}&" if encoded else ""


def owned(request: HttpRequest, portal: Portal, queryset: QuerySet[M], pk: int) -> M:
    """The object ``pk`` of ``queryset`` held by the account of the program the portal
    shows: another member's object, or one of another program, is a 404 (the same
    answer as for an id that does not exist). Staff get no wider view here."""
    return permissions.get_for_request(
        queryset.filter(account_id=portal.account.pk),
        request,
        owner="account__member",
        staff_action=None,
        pk=pk,
    )


def timeline(
    events: Iterable[Any], user: Any, *, hidden: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """History steps (redemption or payout events) as the member sees them: who took a
    step only as "you" or "staff" (a staff user's identity is not the member's
    business), without the ``hidden`` actions."""
    skip = set(hidden)
    return [
        {
            "action": event.get_action_display(),
            "status": event.get_status_display(),
            "at": event.created_at,
            "note": event.note,
            "by_you": event.actor_id is not None and event.actor_id == user.pk,
            "by_staff": event.actor_id is not None and event.actor_id != user.pk,
        }
        for event in events
        if event.action not in skip
    ]


def form_errors(form: forms.Form) -> str:
    """Every error of ``form`` as one line (for a message)."""
    return " ".join(str(error) for errors in form.errors.values() for error in errors)
