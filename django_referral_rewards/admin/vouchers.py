"""Admin for vouchers: records of what was issued and used, read-only here; unused
ones are voided through the vouchers service."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..codes import normalize
from ..models import Voucher
from ..services import vouchers
from .helpers import format_value
from .ledger import ReadOnlyAdminMixin


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
