"""Admin for reward rules: rows staff edit (validated by the model's ``clean()``)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import RewardGrant, RewardRule
from .helpers import changelist_link, format_value


@admin.register(RewardRule)
class RewardRuleAdmin(admin.ModelAdmin):
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
