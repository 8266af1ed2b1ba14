"""Admin for programs, members, accounts, the ledger and earn lots."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..conf import get_member_model
from ..enums import Unit
from ..exceptions import ReferralRewardsError
from ..forms import AdjustBalanceForm
from ..models import (
    Account,
    EarnLot,
    LedgerEntry,
    Member,
    Payout,
    Program,
    Redemption,
    RewardOption,
    Tier,
)
from ..services import ledger, payouts
from .granting import can_grant, grant_to_accounts
from .helpers import changelist_link
from .members import MemberAdminMixin


class ReadOnlyAdminMixin:
    """Viewable by staff with the view permission; never added, changed or deleted
    here (the ledger is append-only)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ProgramForm(forms.ModelForm):
    """The program form; the fulfilment group must name an existing auth group (a typo
    would silently leave every redemption unassigned)."""

    def clean_fulfilment_group(self) -> str:
        name: str = self.cleaned_data["fulfilment_group"].strip()
        if name and not Group.objects.filter(name=name).exists():
            raise forms.ValidationError(
                _("There is no group named “%(name)s”."), params={"name": name}
            )
        return name


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "currency",
        "conversion_event",
        "minimum_order_amount",
        "points_per_unit",
        "hold_days",
        "points_expiry_days",
        "active",
    ]
    list_filter = ["active", "currency", "conversion_event"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    form = ProgramForm
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "active"]}),
        (_("Currency"), {"fields": ["currency", "currency_decimal_places"]}),
        (_("Referrals"), {"fields": ["attribution_window_days", "conversion_event"]}),
        (
            _("Points"),
            {
                "fields": [
                    "points_per_unit",
                    "points_rounding",
                    "minimum_order_amount",
                    "hold_days",
                    "points_expiry_days",
                    "expiry_notice_days",
                ]
            },
        ),
        (_("Loyalty tiers"), {"fields": ["tier_grace_days", "tiers_link"]}),
        (
            _("Reward catalog"),
            {
                "fields": [
                    "redemption_approval_threshold",
                    "minimum_balance_after_redemption",
                    "fulfilment_group",
                    "catalog_link",
                ]
            },
        ),
        (_("Commissions and payouts"), {"fields": ["payout_minimum", "payouts_link"]}),
        (
            _("Fraud checks"),
            {
                "fields": [
                    ("fraud_review_score", "fraud_block_score"),
                    ("review_days", "review_default_outcome"),
                ],
                "description": _(
                    "The fraud checks score every referred sign-up; see the fraud "
                    "decisions of a referral for how its score was reached."
                ),
            },
        ),
        (_("Advanced"), {"fields": ["metadata"], "classes": ["collapse"]}),
    ]
    readonly_fields = ["tiers_link", "catalog_link", "payouts_link"]

    @admin.display(description=_("tiers"))
    def tiers_link(self, obj: Program) -> str:
        if obj.pk is None:
            return "—"
        return changelist_link(Tier, _("tiers of this program"), program__id__exact=obj.pk)

    @admin.display(description=_("catalog"))
    def catalog_link(self, obj: Program) -> str:
        if obj.pk is None:
            return "—"
        return changelist_link(
            RewardOption, _("rewards of this program"), program__id__exact=obj.pk
        )

    @admin.display(description=_("payouts"))
    def payouts_link(self, obj: Program) -> str:
        if obj.pk is None:
            return "—"
        return changelist_link(Payout, _("payouts of this program"), program__id__exact=obj.pk)


if get_member_model() is Member:  # a host that swaps the member registers its own admin

    @admin.register(Member)
    class MemberAdmin(MemberAdminMixin, admin.ModelAdmin):
        """Members, each with their activity history, the download of their personal
        data and its erasure (see :class:`~.members.MemberAdminMixin`)."""

        list_display = ["__str__", "email", "kind", "user", "active", "created"]
        list_filter = ["kind", "active"]
        search_fields = ["name", "email", "phone"]
        raw_id_fields = ["user"]
        list_select_related = ["user"]


def _money(account: Account, unit: str) -> str:
    value = account.get_balance(unit)
    return f"{account.program.from_minor(value)} {account.program.currency}"


def tier_label(tier: Tier) -> str:
    """``Shop: Gold``: tier names repeat across programs."""
    return f"{tier.program}: {tier.name}"


class TierFilter(admin.SimpleListFilter):
    """Accounts by tier, each tier named with its program; or those with no tier."""

    title = _("tier")
    parameter_name = "tier"
    NONE = "none"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, Any]]:
        tiers = Tier.objects.select_related("program").order_by("program__name", "rank")
        return [(str(tier.pk), tier_label(tier)) for tier in tiers] + [(self.NONE, _("No tier"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == self.NONE:
            return queryset.filter(tier__isnull=True)
        if value and value.isdigit():
            return queryset.filter(tier_id=int(value))
        return queryset


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = [
        "member",
        "program",
        "points_balance",
        "held_points",
        "credit_display",
        "commission_display",
        "lifetime_points",
        "tier",
        "conversions_count",
        "ledger_link",
    ]
    list_filter = ["program", TierFilter]
    list_select_related = ["member", "program", "tier"]
    search_fields = ["member__name", "member__email"]
    ordering = ["member__name", "pk"]  # also for the autocomplete of the grant form
    raw_id_fields = ["member"]
    fieldsets = [
        (None, {"fields": ["member", "program", "rewards_links"]}),
        (
            _("Points"),
            {"fields": ["points_balance", "held_points", "lifetime_points", "conversions_count"]},
        ),
        (
            _("Loyalty tier"),
            {"fields": ["tier", "tier_since", "tier_review_at", "qualifying_spend"]},
        ),
        (
            _("Credit and commission"),
            {
                "fields": [
                    "credit_display",
                    "commission_display",
                    "available_commission",
                    "commission_kind",
                    "commission_value",
                    "commission_links",
                ]
            },
        ),
        (_("Advanced"), {"fields": ["metadata", "created", "modified"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "points_balance",
        "held_points",
        "lifetime_points",
        "qualifying_spend",
        "tier",
        "tier_since",
        "tier_review_at",
        "conversions_count",
        "rewards_links",
        "credit_display",
        "commission_display",
        "available_commission",
        "commission_links",
        "created",
        "modified",
    ]
    actions = ["adjust_balance", "grant_reward"]

    @admin.display(description=_("credit"))
    def credit_display(self, obj: Account) -> str:
        return _money(obj, Unit.CREDIT)

    @admin.display(description=_("commission"))
    def commission_display(self, obj: Account) -> str:
        return _money(obj, Unit.COMMISSION)

    @admin.display(description=_("commission available for a payout"))
    def available_commission(self, obj: Account) -> str:
        if obj.pk is None:
            return "—"
        return payouts.money(obj.program, payouts.available(obj))

    @admin.display(description=_("commission and payouts"))
    def commission_links(self, obj: Account) -> str:
        if obj.pk is None:
            return "—"
        return format_html(
            '{} · {} · <a href="{}?account={}">{}</a>',
            changelist_link(
                LedgerEntry,
                _("commission entries"),
                account__id__exact=obj.pk,
                unit__exact=Unit.COMMISSION,
            ),
            changelist_link(Payout, _("payouts"), account__id__exact=obj.pk),
            reverse("admin:referral_rewards_payout_add"),
            obj.pk,
            _("request a payout"),
        )

    @admin.display(description=_("ledger"))
    def ledger_link(self, obj: Account) -> str:
        url = reverse("admin:referral_rewards_ledgerentry_changelist")
        return format_html('<a href="{}?account__id__exact={}">{}</a>', url, obj.pk, _("entries"))

    @admin.display(description=_("rewards"))
    def rewards_links(self, obj: Account) -> str:
        if obj.pk is None:
            return "—"
        grants = reverse("admin:referral_rewards_rewardgrant_changelist")
        grant = reverse("admin:referral_rewards_rewardgrant_add")
        redeem = reverse("admin:referral_rewards_redemption_add")
        return format_html(
            '<a href="{}?account__id__exact={}">{}</a> · <a href="{}?account={}">{}</a>'
            ' · {} · <a href="{}?account={}">{}</a>',
            grants,
            obj.pk,
            _("rewards granted"),
            grant,
            obj.pk,
            _("grant a reward"),
            changelist_link(Redemption, _("redemptions"), account__id__exact=obj.pk),
            redeem,
            obj.pk,
            _("redeem points"),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Member and program are fixed once the account exists.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "member", "program"] if obj is not None else fields

    @admin.action(description=_("Adjust balance…"), permissions=["change"])
    def adjust_balance(
        self, request: HttpRequest, queryset: QuerySet[Account]
    ) -> HttpResponse | None:
        """Post a staff adjustment to each selected account, through the ledger service,
        recording the reason and the staff user."""
        if "apply" in request.POST:
            form = AdjustBalanceForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                done = 0
                for account in queryset.select_related("member", "program"):
                    try:
                        ledger.adjust(
                            account,
                            data["amount"],
                            unit=data["unit"],
                            reason=data["reason"],
                            created_by=request.user,
                            expires_at=data["expires_at"],
                            idempotency_key=f"admin-adjust:{data['token']}",
                        )
                    except ReferralRewardsError as exc:
                        self.message_user(request, f"{account}: {exc.message}", messages.ERROR)
                    else:
                        done += 1
                if done:
                    self.message_user(
                        request,
                        ngettext(
                            "Adjusted %(count)d account.",
                            "Adjusted %(count)d accounts.",
                            done,
                        )
                        % {"count": done},
                        messages.SUCCESS,
                    )
                return None
        else:
            form = AdjustBalanceForm()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust balance"),
            "opts": self.model._meta,
            "form": form,
            "accounts": queryset.select_related("member", "program"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(
            request, "admin/referral_rewards/account/adjust_balance.html", context
        )

    def has_grant_reward_permission(self, request: HttpRequest) -> bool:
        """Granting rewards needs the ``add_rewardgrant`` permission."""
        return can_grant(request)

    @admin.action(description=_("Grant a reward…"), permissions=["grant_reward"])
    def grant_reward(
        self, request: HttpRequest, queryset: QuerySet[Account]
    ) -> HttpResponse | None:
        """Grant the same reward by hand to each selected account, through the rewards
        service, recording the reason and the staff user."""
        return grant_to_accounts(self, request, queryset)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    actions = None
    list_display = [
        "created_at",
        "account",
        "unit",
        "kind",
        "amount",
        "balance_after",
        "memo",
        "created_by",
        "reference_display",
    ]
    list_filter = ["unit", "kind", "account__program"]
    list_select_related = ["account__member", "account__program", "created_by"]
    search_fields = ["memo", "reference_id", "idempotency_key", "account__member__name"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description=_("reference"))
    def reference_display(self, obj: LedgerEntry) -> str:
        return f"{obj.reference_type} #{obj.reference_id}" if obj.reference_type else ""


@admin.register(EarnLot)
class EarnLotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    actions = None
    list_display = ["entry", "account", "unit", "amount", "remaining", "expired", "expires_at"]
    list_filter = ["unit", "account__program"]
    list_select_related = ["account__member", "account__program", "entry"]
    search_fields = ["account__member__name"]
