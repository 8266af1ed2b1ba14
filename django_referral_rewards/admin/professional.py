"""Admin for professional referrals: the partner clinics and specialists, the patients
or customers exchanged with them, and the balance of who owes whom ("They owe us 1
referral"), in the partner list and in a report over a date range (with a CSV
download)."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..forms import PartnerBalancesForm
from ..models import Partner, ProfessionalReferral
from ..services import professional
from ..services.professional import PartnerBalance
from .helpers import changelist_link

#: The partner page lists the referrals of the last this many days (all of them are in
#: the professional referral list, a link away).
RECENT_DAYS = 365

#: A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """``value`` made inert for a spreadsheet: text that would start a formula gets a
    leading apostrophe (names and references are typed by people)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


class ProfessionalReferralInline(admin.TabularInline):
    """The partner's recent referrals, editable; new ones record the staff user."""

    model = ProfessionalReferral
    extra = 1
    fields = ["date", "direction", "reference", "reason", "created_by"]
    readonly_fields = ["created_by"]
    ordering = ["-date", "-pk"]
    show_change_link = True
    verbose_name_plural = _("referrals of the last 12 months")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProfessionalReferral]:
        since = timezone.localdate() - datetime.timedelta(days=RECENT_DAYS)
        return super().get_queryset(request).filter(date__gte=since).select_related("created_by")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    """Partners with the referrals sent to and received from each, and the balance
    (sortable); the "Balances report" over a date range is linked from the list."""

    change_list_template = "admin/referral_rewards/partner/change_list.html"
    list_display = [
        "name",
        "specialty",
        "kind",
        "sent_display",
        "received_display",
        "balance_display",
        "active",
    ]
    list_filter = ["kind", "active"]
    search_fields = ["name", "specialty", "contact_name", "email"]
    inlines = [ProfessionalReferralInline]
    fieldsets = [
        (None, {"fields": ["name", "kind", "specialty", "active"]}),
        (_("Contact"), {"fields": ["contact_name", "email", "phone", "address"]}),
        (_("Referrals"), {"fields": ["balance_display", "referrals_link"]}),
        (_("Notes"), {"fields": ["notes"]}),
    ]
    readonly_fields = ["balance_display", "referrals_link"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        """Every partner with its referrals sent and received, and the balance: one
        query for the whole list."""
        counted = professional.with_counts(super().get_queryset(request))
        # A grouped query drops Meta.ordering; the autocomplete needs an order.
        return counted.order_by("name", "pk")

    @admin.display(description=_("sent"), ordering="referrals_sent")
    def sent_display(self, obj: Partner) -> int:
        return int(getattr(obj, "referrals_sent", 0))

    @admin.display(description=_("received"), ordering="referrals_received")
    def received_display(self, obj: Partner) -> int:
        return int(getattr(obj, "referrals_received", 0))

    @admin.display(description=_("balance"), ordering="referral_balance")
    def balance_display(self, obj: Partner) -> str:
        return professional.describe(int(getattr(obj, "referral_balance", 0)))

    @admin.display(description=_("all referrals"))
    def referrals_link(self, obj: Partner) -> str:
        if obj.pk is None:
            return "—"
        return changelist_link(
            ProfessionalReferral,
            _("referrals with this partner"),
            partner__id__exact=obj.pk,
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        for instance in formset.save(commit=False):
            if instance.pk is None:
                instance.created_by_id = request.user.pk
            instance.save()
        for instance in formset.deleted_objects:
            instance.delete()

    # The balances report.

    def get_urls(self) -> list[URLPattern]:
        report = path(
            "balances/",
            self.admin_site.admin_view(self.balances_view),
            name="referral_rewards_partner_balances",
        )
        return [report, *super().get_urls()]

    def balances_view(self, request: HttpRequest) -> HttpResponse:
        """The referrals exchanged with each partner from one date to another (both
        optional), largest debts either way first; ``?csv=1`` downloads the table."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = PartnerBalancesForm(request.GET or None)
        rows: list[PartnerBalance] | None = None
        start = end = None
        if not form.is_bound or form.is_valid():
            data = form.cleaned_data if form.is_bound else {}
            start, end = data.get("start"), data.get("end")
            rows = professional.balances(
                start=start, end=end, include_inactive=bool(data.get("include_inactive"))
            )
            if "csv" in request.GET:
                return self.balances_csv(rows, start, end)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Partner balances"),
            "opts": self.opts,
            "form": form,
            "rows": rows,
            "start": start,
            "end": end,
            "total_sent": sum(row.sent for row in rows or []),
            "total_received": sum(row.received for row in rows or []),
            "has_view_permission": True,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/referral_rewards/partner/balances.html", context)

    def balances_csv(
        self,
        rows: Iterable[PartnerBalance],
        start: datetime.date | None,
        end: datetime.date | None,
    ) -> HttpResponse:
        """The report as CSV: one row per partner."""
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        span = f"{start or 'start'}-to-{end or timezone.localdate()}"
        response["Content-Disposition"] = f'attachment; filename="partner-balances-{span}.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "partner",
                "kind",
                "specialty",
                "active",
                "sent",
                "received",
                "balance",
                "description",
            ]
        )
        for row in rows:
            partner = row.partner
            writer.writerow(
                [
                    spreadsheet_safe(partner.name),
                    partner.kind,
                    spreadsheet_safe(partner.specialty),
                    "yes" if partner.active else "no",
                    row.sent,
                    row.received,
                    row.balance,
                    row.description,
                ]
            )
        return response


@admin.register(ProfessionalReferral)
class ProfessionalReferralAdmin(admin.ModelAdmin):
    """Referrals sent to and received from partners; the staff user who records one is
    kept with it."""

    list_display = ["date", "direction", "partner", "reference", "reason", "created_by"]
    list_filter = ["direction", "partner"]
    list_select_related = ["partner", "created_by"]
    search_fields = ["reference", "reason", "partner__name"]
    date_hierarchy = "date"
    autocomplete_fields = ["partner"]
    fields = [
        "partner",
        "direction",
        "date",
        "reference",
        "reason",
        "notes",
        "created_by",
        "created_at",
    ]
    readonly_fields = ["created_by", "created_at"]

    def save_model(
        self, request: HttpRequest, obj: ProfessionalReferral, form: Any, change: bool
    ) -> None:
        if not change:
            obj.created_by_id = request.user.pk
        super().save_model(request, obj, form, change)


__all__ = [
    "PartnerAdmin",
    "ProfessionalReferralAdmin",
    "ProfessionalReferralInline",
    "spreadsheet_safe",
]
