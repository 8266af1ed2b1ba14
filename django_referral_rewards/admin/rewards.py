"""Admin for reward rules, reward grants, vouchers and orders.

Rules are rows staff edit (validated by the model's ``clean()``). Grants, vouchers and
orders are records of what happened: read-only here, changed only through actions that
call the services (release, revoke, void) and report each failure without stopping the
others. Staff grant a reward by hand on the grant admin's add page ("Grant a reward"),
or to several accounts at once from the account admin.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..codes import normalize
from ..enums import GrantStatus, ReferralStatus, RewardKind, VoucherKind
from ..exceptions import InvalidAmount, ReferralRewardsError
from ..forms import GrantRewardForm, ReasonForm, RewardRuleForm
from ..models import (
    Account,
    Order,
    OrderRefund,
    Program,
    RewardGrant,
    RewardRule,
    Voucher,
)
from ..policies import PERCENT_KINDS, ZERO_ALLOWED
from ..services import rewards, vouchers
from .ledger import ReadOnlyAdminMixin

# --- helpers shared by the reward, referral and account admins ----------------------


def format_value(kind: str, value: Decimal | None, program: Program) -> str:
    """A reward or voucher value in its natural unit: ``120 points``, ``5.00 USD``,
    ``10%``, or ``whole order`` for an uncapped free item or period."""
    if value is None:
        return "—"
    if kind == RewardKind.POINTS:
        points = int(value)
        return ngettext("%(n)d point", "%(n)d points", points) % {"n": points}
    if kind in PERCENT_KINDS or kind == VoucherKind.PERCENT:
        return f"{value.normalize():f}%"
    if value == 0 and kind in ZERO_ALLOWED:  # free item / period (rewards and vouchers)
        return str(_("whole order"))
    places = program.currency_decimal_places
    return f"{value.quantize(Decimal(1).scaleb(-places))} {program.currency}"


def admin_link(obj: Model | None, label: Any = None) -> str:
    """A link to ``obj``'s admin change page (``—`` when there is none)."""
    if obj is None:
        return "—"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if label is None else label)


def changelist_link(model: type[Model], label: Any, **filters: Any) -> str:
    """A link to ``model``'s changelist filtered by ``filters``."""
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


def render_action_form(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    objects: Iterable[Any],
    describe: Callable[[Any], str] = str,
    form: Form,
    action: str,
    title: Any,
    intro: Any,
    submit_label: Any,
) -> TemplateResponse:
    """The intermediate page of an admin action that needs input (a reason, a reward):
    the selected objects, the form, and a button that posts the action again."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "submit_label": submit_label,
        "opts": model_admin.model._meta,
        "form": form,
        "items": [(obj.pk, describe(obj)) for obj in objects],
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/referral_rewards/action_form.html", context)


def reason_action(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    title: Any,
    intro: Any,
    submit_label: Any,
    perform: Callable[[Any, str], Any],
    done_message: Callable[[int], str],
    describe: Callable[[Any], str] = str,
) -> TemplateResponse | None:
    """An admin action that asks for a reason, then calls ``perform(obj, reason)``
    (a service) for each selected object. A :class:`ReferralRewardsError` for one
    object is reported and the others still go ahead. Returns the form page, or
    ``None`` (back to the changelist) once done."""
    objects = list(queryset)
    if "apply" in request.POST:
        form = ReasonForm(request.POST)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            done = 0
            for obj in objects:
                try:
                    perform(obj, reason)
                except ReferralRewardsError as exc:
                    model_admin.message_user(
                        request, f"{describe(obj)}: {exc.message}", messages.ERROR
                    )
                else:
                    done += 1
                    model_admin.log_change(request, obj, f"{title}: {reason}")
            if done:
                model_admin.message_user(request, done_message(done), messages.SUCCESS)
            return None
    else:
        form = ReasonForm()
    return render_action_form(
        model_admin,
        request,
        objects=objects,
        describe=describe,
        form=form,
        action=action,
        title=title,
        intro=intro,
        submit_label=submit_label,
    )


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


# --- reward rules -------------------------------------------------------------------


@admin.register(RewardRule)
class RewardRuleAdmin(admin.ModelAdmin):
    form = RewardRuleForm
    list_display = [
        "name",
        "program",
        "campaign",
        "trigger",
        "nth",
        "beneficiary",
        "kind",
        "value_display",
        "hold_days",
        "active",
    ]
    list_filter = ["active", "trigger", "beneficiary", "kind", "program", "campaign"]
    list_select_related = ["program", "campaign"]
    search_fields = ["name", "description", "campaign__name"]
    autocomplete_fields = ["campaign"]
    readonly_fields = ["grants_link", "created", "modified"]
    fieldsets = [
        (None, {"fields": ["name", "program", "campaign", "active"]}),
        (
            _("When"),
            {
                "fields": ["trigger", "nth", "repeat"],
                "description": _(
                    "Milestones fire on the referrer's nth converted referral; with "
                    "'repeat' also on every multiple of it."
                ),
            },
        ),
        (_("Reward"), {"fields": ["beneficiary", "kind", "value", "description"]}),
        (_("Timing"), {"fields": ["hold_days", "voucher_valid_days"]}),
        (_("History"), {"fields": ["grants_link", "created", "modified"]}),
    ]
    actions = ["activate", "deactivate"]

    @admin.display(description=_("value"), ordering="value")
    def value_display(self, obj: RewardRule) -> str:
        return format_value(obj.kind, obj.value, obj.program)

    @admin.display(description=_("grants"))
    def grants_link(self, obj: RewardRule) -> str:
        if obj.pk is None:
            return "—"
        return changelist_link(RewardGrant, _("Grants of this rule"), rule__id__exact=obj.pk)

    @admin.action(description=_("Activate selected rules"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[RewardRule]) -> None:
        count = queryset.update(active=True)
        self.message_user(
            request,
            ngettext("Activated %(n)d rule.", "Activated %(n)d rules.", count) % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Deactivate selected rules"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[RewardRule]) -> None:
        count = queryset.update(active=False)
        self.message_user(
            request,
            ngettext("Deactivated %(n)d rule.", "Deactivated %(n)d rules.", count) % {"n": count},
            messages.SUCCESS,
        )


# --- reward grants ------------------------------------------------------------------


class GrantOriginFilter(admin.SimpleListFilter):
    title = _("origin")
    parameter_name = "origin"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("rule", _("A reward rule")), ("manual", _("Granted by hand"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "rule":
            return queryset.filter(rule__isnull=False)
        if self.value() == "manual":
            return queryset.filter(rule__isnull=True)
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


class RewardGrantInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The grants of a referral (or an order), read-only, each linking to its page."""

    model = RewardGrant
    fk_name = "referral"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = (
        "created_at",
        "account",
        "kind",
        "value_display",
        "status",
        "release_at",
        "reason",
    )
    ordering = ["pk"]

    @admin.display(description=_("value"))
    def value_display(self, obj: RewardGrant) -> str:
        return format_value(obj.kind, obj.value, obj.program)

    def get_queryset(self, request: HttpRequest) -> QuerySet[RewardGrant]:
        return (
            super()
            .get_queryset(request)
            .select_related("program", "account__member", "account__program")
        )


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
            initial: dict[str, Any] = {}
            account = request.GET.get("account", "")
            if account.isdigit():
                initial["account"] = account
            form = self.grant_form(initial=initial)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Grant a reward"),
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        return TemplateResponse(
            request, "admin/referral_rewards/rewardgrant/grant_reward.html", context
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
            if grant.referral is not None and grant.referral.status == ReferralStatus.REVIEW:
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


# --- vouchers -----------------------------------------------------------------------


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "display_code",
        "account",
        "kind",
        "value_display",
        "status",
        "expires_at",
        "applied_order_id",
        "discount",
        "created_at",
    ]
    list_filter = ["status", "kind", "program"]
    list_select_related = ["program", "account__member", "account__program"]
    search_fields = ["account__member__name", "account__member__email", "=applied_order_id"]
    date_hierarchy = "created_at"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "display_code",
                    "program",
                    "account",
                    "kind",
                    "value_display",
                    "description",
                    "status",
                    "expires_at",
                    "grant_link",
                    "created_at",
                ]
            },
        ),
        (
            _("Use"),
            {
                "fields": [
                    "applied_order_id",
                    "applied_account",
                    "order_amount",
                    "discount",
                    "applied_at",
                ]
            },
        ),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)
    actions = ["void_unused"]

    @admin.display(description=_("code"), ordering="code")
    def display_code(self, obj: Voucher) -> str:
        return obj.display_code

    @admin.display(description=_("value"), ordering="value")
    def value_display(self, obj: Voucher) -> str:
        return format_value(obj.kind, obj.value, obj.program)

    @admin.display(description=_("grant"))
    def grant_link(self, obj: Voucher) -> str:
        if obj.grant_id is None:
            return "—"
        url = reverse("admin:referral_rewards_rewardgrant_change", args=[obj.grant_id])
        return format_html('<a href="{}">#{}</a>', url, obj.grant_id)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Voucher], search_term: str
    ) -> tuple[QuerySet[Voucher], bool]:
        """Codes are found however they are typed: ``abcd-efgh ...`` finds ``ABCDEFGH...``
        (also by a part of the code, e.g. its first group)."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        code = normalize(search_term)
        if len(code) >= 4:
            results = results | queryset.filter(code__contains=code)
        return results, may_have_duplicates

    def has_void_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")

    @admin.action(description=_("Void unused vouchers"), permissions=["void"])
    def void_unused(self, request: HttpRequest, queryset: QuerySet[Voucher]) -> None:
        """Void the selected vouchers that are still unused; applied and void ones are
        left as they are."""
        voided = skipped = 0
        for voucher in queryset:
            if vouchers.void_voucher(voucher):
                voided += 1
                self.log_change(request, voucher, str(_("Voided.")))
            else:
                skipped += 1
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d voucher was not voided: it is applied to an order or void already.",
                    "%(n)d vouchers were not voided: they are applied to an order or void already.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )
        if voided:
            self.message_user(
                request,
                ngettext("Voided %(n)d voucher.", "Voided %(n)d vouchers.", voided) % {"n": voided},
                messages.SUCCESS,
            )


# --- orders -------------------------------------------------------------------------


class OrderRefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderRefund
    extra = 0
    can_delete = False
    fields = readonly_fields = ("key", "amount", "created_at")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Orders the host reported (``order_completed``); refunds inline. Read-only."""

    list_display = [
        "order_id",
        "account",
        "program",
        "amount",
        "refunded_amount",
        "currency",
        "qualifying",
        "converted_referral",
        "occurred_at",
    ]
    list_filter = ["qualifying", "converted_referral", "program", "currency"]
    list_select_related = ["program", "account__member", "account__program"]
    search_fields = ["=order_id", "account__member__name", "account__member__email"]
    date_hierarchy = "occurred_at"
    inlines = [OrderRefundInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "order_id",
                    "program",
                    "account",
                    "amount",
                    "refunded_amount",
                    "currency",
                    "qualifying",
                    "occurred_at",
                    "created_at",
                ]
            },
        ),
        (_("Referral"), {"fields": ["referral", "converted_referral", "grants_link"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    @admin.display(description=_("rewards"))
    def grants_link(self, obj: Order) -> str:
        return changelist_link(RewardGrant, _("Rewards of this order"), order__id__exact=obj.pk)
