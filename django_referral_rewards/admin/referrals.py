"""Admin for referrals, with their reward grants inline. Status changes go through
services: staff reject a referral with a reason (its held rewards are voided)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import Referral, RewardGrant
from ..services import referrals
from .helpers import format_value, reason_action
from .ledger import ReadOnlyAdminMixin


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


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = [
        "referred",
        "referrer",
        "code",
        "campaign",
        "status",
        "attached_at",
        "converted_at",
        "referred_revenue",
    ]
    list_filter = ["status", "program", "campaign"]
    list_select_related = [
        "referred__member",
        "referred__program",
        "referrer__member",
        "referrer__program",
        "code",
        "campaign",
    ]
    search_fields = ["referred__member__name", "referrer__member__name", "code__code"]
    raw_id_fields = ["referrer", "referred", "code", "campaign"]
    readonly_fields = [
        "status",
        "expires_at",
        "activated_at",
        "converted_at",
        "first_order_id",
        "first_order_amount",
        "referred_revenue",
    ]
    date_hierarchy = "attached_at"
    inlines = [RewardGrantInline]
    actions = ["reject"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # referrals are created by sign-up events, never by hand

    @admin.action(description=_("Reject…"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Referral]) -> HttpResponse | None:
        """Reject the selected referrals with a reason: nobody is rewarded for them and
        their held rewards are voided (released ones stay; revoke them from the reward
        grants if they must be taken back)."""
        return reason_action(
            self,
            request,
            queryset.select_related(*self.list_select_related),
            action="reject",
            title=_("Reject referrals"),
            intro=_(
                "These referrals will be rejected: nobody is rewarded for them and their "
                "held rewards are voided. Released rewards stay; revoke them separately if "
                "they must be taken back. Your name and the reason are recorded."
            ),
            submit_label=_("Reject"),
            perform=lambda referral, reason: referrals.reject(
                referral, reason=reason, rejected_by=request.user
            ),
            done_message=lambda n: (
                ngettext("Rejected %(n)d referral.", "Rejected %(n)d referrals.", n) % {"n": n}
            ),
        )
