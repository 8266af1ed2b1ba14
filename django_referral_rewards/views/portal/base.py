"""What every member-portal page shares: the signed-in member, the program they are
looking at, and the error handling that turns a refused action into a message.

A member holds one account per program (one per shop on a marketplace). The portal
shows one program at a time: the one chosen with the program switcher (remembered in
the session), else the default program's account, else the first account. A member
with no account yet gets one in the default program on their first visit.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from ...abstract_models import AbstractMember
from ...conf import app_settings
from ...exceptions import ReferralRewardsError
from ...models import Account
from ...services.accounts import get_or_create_account

#: Session key of the program the member chose (its primary key).
SESSION_KEY = "referral_rewards_program"


@dataclasses.dataclass
class Portal:
    """The portal's view of the signed-in member: ``member``, every ``accounts`` they
    hold (with programs and tiers loaded) and the ``account`` of the chosen program."""

    member: AbstractMember
    accounts: list[Account]
    account: Account

    @property
    def program(self) -> Any:
        return self.account.program


def load_portal(request: HttpRequest, member: AbstractMember) -> Portal:
    """The :class:`Portal` of ``member`` for ``request`` (one query; two more, and a
    write, on the first visit of a member without an account)."""
    accounts = list(
        Account.objects.filter(member_id=member.pk, program__active=True)
        .select_related("program", "tier")
        .order_by("program__name", "pk")
    )
    if not accounts:
        account = get_or_create_account(member)
        account = Account.objects.select_related("program", "tier").get(pk=account.pk)
        accounts = [account]
    chosen = request.session.get(SESSION_KEY)
    default_slug = app_settings.DEFAULT_PROGRAM
    account = (
        next((a for a in accounts if a.program_id == chosen), None)
        or next((a for a in accounts if a.program.slug == default_slug), None)
        or accounts[0]
    )
    for each in accounts:
        each.member = member  # type: ignore[assignment]  # already read: spare queries
    return Portal(member=member, accounts=accounts, account=account)


PortalView = Callable[..., HttpResponse]


def portal_view(view: PortalView) -> Callable[..., HttpResponse]:
    """Decorate a portal view ``view(request, portal, *args, **kwargs)``: anonymous
    visitors go to ``settings.LOGIN_URL``; a user whose member is deactivated gets a
    403 page saying so. A :class:`ReferralRewardsError` the view lets through becomes a
    400 page with its message: never a 500 for a refused action."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        member = app_settings.member_adapter().get_member(request.user, create=True)
        if member is None or not member.active:
            return render(
                request,
                "referral_rewards/portal/inactive.html",
                {"title": gettext("Your rewards account is closed")},
                status=403,
            )
        portal = load_portal(request, member)
        try:
            return view(request, portal, *args, **kwargs)
        except ReferralRewardsError as exc:
            return render(
                request,
                "referral_rewards/portal/error.html",
                {"portal": portal, "title": gettext("That did not work"), "message": exc.message},
                status=400,
            )

    return wrapper


def render_portal(
    request: HttpRequest,
    portal: Portal,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    """Render a portal page: ``portal`` (and ``account``, ``program``) are in the
    context for the navigation and the program switcher."""
    full = {"portal": portal, "account": portal.account, "program": portal.program}
    full.update(context or {})
    return render(request, template, full, status=status)


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` the request carries when it is a URL on this site, else
    ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@require_http_methods(["GET", "POST"])
@portal_view
def choose_program(request: HttpRequest, portal: Portal) -> HttpResponse:
    """The program switcher: GET lists the member's programs, POST ``program`` (the id
    of one of them) makes it the one the portal shows."""
    if request.method == "POST":
        wanted = request.POST.get("program", "")
        account = next((a for a in portal.accounts if str(a.program_id) == wanted), None)
        if account is None:
            messages.error(request, gettext("Choose one of your programs."))
            return render_portal(
                request, portal, "referral_rewards/portal/programs.html", status=400
            )
        request.session[SESSION_KEY] = account.program_id
        messages.success(
            request, gettext("You are now looking at %(program)s.") % {"program": account.program}
        )
        return HttpResponseRedirect(safe_next(request, reverse("referral_rewards:portal")))
    return render_portal(request, portal, "referral_rewards/portal/programs.html")
