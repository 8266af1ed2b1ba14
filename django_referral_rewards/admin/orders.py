"""Admin for the orders the host reported, with their refunds: read-only."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.utils.translation import gettext_lazy as _

from ..models import Order, OrderRefund, RewardGrant
from .helpers import changelist_link
from .ledger import ReadOnlyAdminMixin


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
