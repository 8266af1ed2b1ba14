"""Admin for reward grants.

Grants are records of what happened: read-only here, changed only through actions that
call the services (release, revoke) and report each failure without stopping the
others. Staff grant a reward by hand on the grant admin's add page ("Grant a reward"),
or to several accounts at once from the account admin (see :mod:`.granting`).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..enums import FraudStatus, GrantSource, GrantStatus, RewardKind
from ..exceptions import InvalidAmount, ReferralRewardsError
from ..forms import GrantRewardForm
from ..models import RewardGrant, Voucher
from ..services import rewards
from .granting import can_manage_grants, grant_from_form, grant_idempotency_key
from .helpers import account_initial, admin_link, format_value, reason_action, render_form_page


class GrantOriginFilter(admin.SimpleListFilter):
    title = _("origin")
    parameter_name = "origin"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(GrantSource.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in GrantSource.values:
            return queryset.filter(source=self.value())
        return queryset


def explanation_html(explanation: Any) -> str:
    """The policy's explanation of a grant as a small table (nested values as JSON)."""
    if not explanation:
        return "—"
    if not isinstance(explanation, dict):
        return format_html("<pre>{}</pre>", json.dumps(explanation, indent=2, default=str))
    rows = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td></tr>",
        (
            (
                str(key).replace("_", " "),
                value
                if isinstance(value, str | int | float | bool) or value is None
                else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str),
            )
            for key, value in sorted(explanation.items())
        ),
    )
    return format_html('<table class="grant-explanation">{}</table>', rows)


def describe_grant(grant: RewardGrant) -> str:
    """``#12 Discount voucher (fixed amount): 5.00 USD → Ann @ Shop``, or for points
    ``#12 120 points → Ann @ Shop``."""
    value = format_value(grant.kind, grant.value, grant.program)
    if grant.kind != RewardKind.POINTS:
        value = f"{grant.get_kind_display()}: {value}"
    return f"#{grant.pk} {value} → {grant.account}"


@admin.register(RewardGrant)
class RewardGrantAdmin(admin.ModelAdmin):
    """Grants are records: never edited here. Staff grant by hand on the add page
    (needs ``add_rewardgrant``) and release or revoke through the actions (need
    ``change_rewardgrant``); every change goes through ``services.rewards``."""

    list_display = [
        "created_at",
        "account",
        "kind",
        "value_display",
        "status",
        "release_at",
        "rule",
        "referral_link",
        "order",
        "created_by",
        "revoked_by",
    ]
    list_filter = ["status", "kind", "trigger", GrantOriginFilter, "program"]
    list_select_related = [
        "program",
        "account__member",
        "account__program",
        "rule",
        "order",
        "created_by",
        "revoked_by",
    ]
    search_fields = [
        "account__member__name",
        "account__member__email",
        "=idempotency_key",
        "reason",
        "=order__order_id",
    ]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "account",
                    "program",
                    "kind",
                    "value_display",
                    "status",
                    "reason",
                    "description",
                ]
            },
        ),
        (
            _("Origin"),
            {
                "fields": [
                    "rule",
                    "trigger",
                    "referral_link",
                    "order",
                    "created_by",
                    "created_at",
                    "idempotency_key",
                ]
            },
        ),
        (
            _("Release"),
            {"fields": ["release_at", "resolved_at", "entry_link", "voucher_link"]},
        ),
        (_("Revocation"), {"fields": ["reversed_display", "revoked_by", "revoke_reason"]}),
        (_("Why"), {"fields": ["explanation_display"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)
    actions = ["release_now", "revoke"]

    # Displays.

    @admin.display(description=_("value"), ordering="value")
    def value_display(self, obj: RewardGrant) -> str:
        return format_value(obj.kind, obj.value, obj.program)

    @admin.display(description=_("reversed"))
    def reversed_display(self, obj: RewardGrant) -> str:
        if not obj.reversed_value:
            return "—"
        return format_value(obj.kind, obj.reversed_value, obj.program)

    @admin.display(description=_("referral"), ordering="referral")
    def referral_link(self, obj: RewardGrant) -> str:
        if obj.referral_id is None:
            return "—"
        url = reverse("admin:referral_rewards_referral_change", args=[obj.referral_id])
        return format_html('<a href="{}">#{}</a>', url, obj.referral_id)

    @admin.display(description=_("ledger entry"))
    def entry_link(self, obj: RewardGrant) -> str:
        if obj.entry_id is None:
            return "—"
        url = reverse("admin:referral_rewards_ledgerentry_change", args=[obj.entry_id])
        return format_html('<a href="{}">#{}</a>', url, obj.entry_id)

    @admin.display(description=_("voucher"))
    def voucher_link(self, obj: RewardGrant) -> str:
        voucher = Voucher.objects.filter(grant=obj).first()
        if voucher is None:
            return "—"
        return format_html(
            "{} ({})", admin_link(voucher, voucher.display_code), voucher.get_status_display()
        )

    @admin.display(description=_("explanation"))
    def explanation_display(self, obj: RewardGrant) -> str:
        return explanation_html(obj.explanation)

    # Permissions: never edited or deleted; granted on the add page.

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """Releasing and revoking need ``change_rewardgrant`` (the change form itself
        stays read-only)."""
        return can_manage_grants(request)

    # Granting by hand: the add page.

    def grant_form(self, *args: Any, **kwargs: Any) -> GrantRewardForm:
        form = GrantRewardForm(*args, **kwargs)
        field = form.fields["account"]
        field.widget = AutocompleteSelect(
            RewardGrant._meta.get_field("account"),
            self.admin_site,
            choices=field.choices,  # type: ignore[attr-defined]
        )
        field.widget.is_required = True
        return form

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """ "Grant a reward": a form for :func:`rewards.grant_reward`, recording the
        staff user and the reason. Service errors become form errors; nothing is
        written then."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = self.grant_form(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    grant = grant_from_form(
                        request, data["account"], data, grant_idempotency_key(data["token"])
                    )
                except ReferralRewardsError as exc:
                    form.add_error("value" if isinstance(exc, InvalidAmount) else None, exc.message)
                else:
                    return self.response_granted(request, grant)
        else:
            form = self.grant_form(initial=account_initial(request))
        return render_form_page(
            self,
            request,
            form=form,
            title=_("Grant a reward"),
            template="admin/referral_rewards/rewardgrant/grant_reward.html",
            extra_context=extra_context,
        )

    def response_granted(self, request: HttpRequest, grant: RewardGrant) -> HttpResponse:
        self.log_addition(request, grant, [{"added": {}}])
        if grant.status == GrantStatus.HELD:
            text = _("Granted %(reward)s to %(account)s, held until %(date)s.")
        else:
            text = _("Granted %(reward)s to %(account)s.")
        self.message_user(
            request,
            text
            % {
                "reward": format_value(grant.kind, grant.value, grant.program),
                "account": grant.account,
                "date": formats.date_format(timezone.localtime(grant.release_at)),
            },
            messages.SUCCESS,
        )
        if self.has_view_permission(request, grant):
            url = reverse("admin:referral_rewards_rewardgrant_change", args=[grant.pk])
        else:
            url = reverse("admin:index")
        return HttpResponseRedirect(url)

    # Actions.

    @admin.action(description=_("Release now"), permissions=["manage"])
    def release_now(self, request: HttpRequest, queryset: QuerySet[RewardGrant]) -> None:
        """Release the selected held grants at once (points and credit to the ledger,
        vouchers issued). Grants of referrals in review wait for the review."""
        released = skipped = 0
        grants = queryset.select_related(
            "program", "account__member", "account__program", "referral"
        )
        for grant in grants:
            if grant.status != GrantStatus.HELD:
                skipped += 1
                continue
            if grant.referral is not None and grant.referral.fraud_status == FraudStatus.REVIEW:
                self.message_user(
                    request,
                    _("%(grant)s: its referral is in review; decide the review first.")
                    % {"grant": describe_grant(grant)},
                    messages.WARNING,
                )
                continue
            try:
                rewards.release(grant)
            except ReferralRewardsError as exc:
                text = f"{describe_grant(grant)}: {exc.message}"
                self.message_user(request, text, messages.ERROR)
            else:
                released += 1
                self.log_change(request, grant, str(_("Released by hand.")))
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "Skipped %(n)d reward that is not held.",
                    "Skipped %(n)d rewards that are not held.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )
        if released:
            self.message_user(
                request,
                ngettext("Released %(n)d reward.", "Released %(n)d rewards.", released)
                % {"n": released},
                messages.SUCCESS,
            )

    @admin.action(description=_("Revoke…"), permissions=["manage"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[RewardGrant]) -> HttpResponse | None:
        """Take the selected rewards back with a reason: held ones are voided, released
        ones reversed (points and credit leave the ledger, unused vouchers are voided)."""
        return reason_action(
            self,
            request,
            queryset.select_related("program", "account__member", "account__program"),
            action="revoke",
            title=_("Revoke rewards"),
            intro=_(
                "These rewards will be taken back: held ones are voided, released ones "
                "reversed (an unused voucher is voided). Your name and the reason are "
                "recorded."
            ),
            submit_label=_("Revoke"),
            perform=lambda grant, reason: rewards.revoke(
                grant, reason=reason, revoked_by=request.user
            ),
            done_message=lambda n: (
                ngettext("Revoked %(n)d reward.", "Revoked %(n)d rewards.", n) % {"n": n}
            ),
            describe=describe_grant,
        )
