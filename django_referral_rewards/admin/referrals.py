"""Admin for referrals. Status changes go through services (next: review decisions)."""

from __future__ import annotations

from django.contrib import admin

from ..models import Referral


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
    readonly_fields = ["status", "converted_at"]
    date_hierarchy = "attached_at"

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # referrals are created by sign-up events, never by hand
