"""Admin for campaigns, referral codes and code uses."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..exceptions import InvalidArgument
from ..models import Campaign, CodeUse, ReferralCode
from ..services import codes as code_service
from .ledger import ReadOnlyAdminMixin


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "program", "starts_at", "ends_at", "active"]
    list_filter = ["active", "program"]
    list_select_related = ["program"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class ReferralCodeForm(forms.ModelForm):
    class Meta:
        model = ReferralCode
        fields = [
            "code",
            "program",
            "kind",
            "owner",
            "campaign",
            "starts_at",
            "expires_at",
            "max_uses",
            "max_uses_per_customer",
            "active",
            "metadata",
        ]

    def clean_code(self) -> str:
        try:
            return code_service.clean_new_code(self.cleaned_data.get("code"))
        except InvalidArgument as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, owner = data.get("kind"), data.get("owner")
        if kind == "personal" and owner is None:
            self.add_error("owner", _("A personal code needs an owner."))
        elif (
            kind == "personal"
            and ReferralCode.objects.filter(personal_for=owner)
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            self.add_error("owner", _("This account already has a personal code."))
        program, campaign = data.get("program"), data.get("campaign")
        if campaign is not None and program is not None and campaign.program_id != program.pk:
            self.add_error("campaign", _("The campaign belongs to another program."))
        if owner is not None and program is not None and owner.program_id != program.pk:
            self.add_error("owner", _("The owner's account belongs to another program."))
        return data


@admin.register(ReferralCode)
class ReferralCodeAdmin(admin.ModelAdmin):
    form = ReferralCodeForm
    list_display = [
        "code",
        "kind",
        "program",
        "owner",
        "campaign",
        "uses_display",
        "expires_at",
        "active",
    ]
    list_filter = ["kind", "active", "program", "campaign"]
    list_select_related = ["program", "owner__member", "campaign"]
    search_fields = ["code", "owner__member__name", "owner__member__email"]
    raw_id_fields = ["owner"]
    readonly_fields = ["times_used"]
    actions = ["deactivate", "activate"]

    @admin.display(description=_("uses"))
    def uses_display(self, obj: ReferralCode) -> str:
        if obj.max_uses is None:
            return "—"
        return f"{obj.times_used} / {obj.max_uses}"

    def save_model(self, request: HttpRequest, obj: ReferralCode, form: Any, change: bool) -> None:
        # Only an account's one personal code carries personal_for (a unique index).
        obj.personal_for = obj.owner if obj.kind == "personal" else None
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Deactivate selected codes"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ReferralCode]) -> None:
        count = code_service.set_active(queryset, active=False)
        self.message_user(
            request,
            ngettext("Deactivated %(n)d code.", "Deactivated %(n)d codes.", count) % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Activate selected codes"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[ReferralCode]) -> None:
        count = code_service.set_active(queryset, active=True)
        self.message_user(
            request,
            ngettext("Activated %(n)d code.", "Activated %(n)d codes.", count) % {"n": count},
            messages.SUCCESS,
        )


@admin.register(CodeUse)
class CodeUseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["code", "customer", "reference_type", "reference_id", "created_at"]
    list_select_related = ["code", "customer__member", "customer__program"]
    search_fields = ["code__code", "customer__member__name", "reference_id"]
    date_hierarchy = "created_at"
