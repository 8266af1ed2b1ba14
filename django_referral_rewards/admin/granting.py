"""Granting rewards by hand: shared by the reward grant admin's add page ("Grant a
reward") and the account admin's "Grant a reward…" action. Both go through
:func:`rewards.grant_reward`, recording the staff user and the reason."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..exceptions import ReferralRewardsError
from ..forms import GrantRewardForm
from ..models import Account, RewardGrant
from ..services import rewards
from .helpers import render_action_form


def grant_idempotency_key(token: str, account: Account | None = None) -> str:
    """The grant's idempotency key for one submitted form (and account): the same form
    posted twice grants once."""
    return f"admin-grant:{token}" + (f":{account.pk}" if account is not None else "")


def grant_from_form(
    request: HttpRequest, account: Account, data: dict[str, Any], key: str
) -> RewardGrant:
    """Grant the reward described by a valid :class:`GrantRewardForm` to ``account``,
    recording the staff user. Raises the service's errors."""
    return rewards.grant_reward(
        account,
        kind=data["kind"],
        value=data["value"],
        reason=data["reason"],
        created_by=request.user,
        hold_days=data["hold_days"],
        description=data["description"],
        voucher_valid_days=data["voucher_valid_days"],
        idempotency_key=key,
    )


def can_grant(request: HttpRequest) -> bool:
    opts = RewardGrant._meta
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('add', opts)}")


def can_manage_grants(request: HttpRequest) -> bool:
    opts = RewardGrant._meta
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")


def grant_to_accounts(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Account],
) -> TemplateResponse | None:
    """The account admin's "Grant a reward…" action: the same reward to each selected
    account, through :func:`rewards.grant_reward`."""
    accounts = list(queryset.select_related("member", "program"))
    if "apply" in request.POST:
        form = GrantRewardForm(request.POST, with_account=False)
        if form.is_valid():
            data = form.cleaned_data
            done = 0
            for account in accounts:
                try:
                    grant_from_form(
                        request, account, data, grant_idempotency_key(data["token"], account)
                    )
                except ReferralRewardsError as exc:
                    model_admin.message_user(request, f"{account}: {exc.message}", messages.ERROR)
                else:
                    done += 1
            if done:
                model_admin.message_user(
                    request,
                    ngettext(
                        "Granted the reward to %(count)d account.",
                        "Granted the reward to %(count)d accounts.",
                        done,
                    )
                    % {"count": done},
                    messages.SUCCESS,
                )
            return None
    else:
        form = GrantRewardForm(with_account=False)
    return render_action_form(
        model_admin,
        request,
        objects=accounts,
        form=form,
        action="grant_reward",
        title=_("Grant a reward"),
        intro=_(
            "Each of these accounts receives the reward below, recorded with your name "
            "and the reason:"
        ),
        submit_label=_("Grant the reward"),
    )
