"""Admin for the fraud records: the signals the checks raised, the decisions taken on
them, and the members' traces (hashed IP addresses and devices).

All three are an audit trail: viewable by staff with the view permission, never added,
changed or deleted here (not even by superusers). Referrals in review are decided from
the referral admin ("Approve after review", "Reject after review…").
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from ..models import FraudDecision, FraudSignal, Trace
from .helpers import admin_link
from .ledger import ReadOnlyAdminMixin

#: ``select_related`` paths that print a referral (``Ann @ Shop ← Bob @ Shop``).
REFERRAL_RELATED = [
    "referral__referred__member",
    "referral__referred__program",
    "referral__referrer__member",
    "referral__referrer__program",
    "referral__code",
]


def short_hash(value: str) -> str:
    """The first characters of a keyed hash, enough to tell hashes apart on a page."""
    return f"{value[:10]}…" if value else "—"


def evidence_link(evidence: str) -> str:
    """The start of a signal's evidence hash, linking to the referrals whose signals
    have the same evidence (the same device, network, e-mail address...)."""
    if not evidence:
        return "—"
    url = reverse("admin:referral_rewards_referral_changelist")
    return format_html(
        '<a href="{}?evidence={}" title="{}">{}</a>',
        url,
        evidence,
        _("Referrals with the same evidence"),
        short_hash(evidence),
    )


def signals_summary(signals: Any) -> str:
    """A decision's snapshot of signals (``[{"name", "score", "reason"}, ...]``) as
    lines: ``same_ip (40): The customer signed up from ...``."""
    if not isinstance(signals, list) or not signals:
        return "—"
    rows = [
        (
            str(item.get("name", "?")),
            item.get("score", "?"),
            str(item.get("reason", "")),
        )
        for item in signals
        if isinstance(item, dict)
    ]
    return format_html_join(mark_safe("<br>"), "{} ({}): {}", rows) or "—"


class FraudSignalInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A referral's fraud signals: what each check noticed, with its score."""

    model = FraudSignal
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "created_at",
        "stage",
        "name",
        "score",
        "reason",
        "evidence_display",
    )
    ordering = ["created_at", "pk"]

    @admin.display(description=_("evidence (hashed)"))
    def evidence_display(self, obj: FraudSignal) -> str:
        return evidence_link(obj.evidence)


class FraudDecisionInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A referral's fraud decisions: the checks', the reviewers' and the deadline's,
    each with the score and signals it was taken on."""

    model = FraudDecision
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "created_at",
        "action",
        "stage",
        "score",
        "signals_display",
        "decided_by",
        "automatic",
        "note",
    )
    ordering = ["created_at", "pk"]

    @admin.display(description=_("signals"))
    def signals_display(self, obj: FraudDecision) -> str:
        return signals_summary(obj.signals)

    def get_queryset(self, request: HttpRequest) -> QuerySet[FraudDecision]:
        return super().get_queryset(request).select_related("decided_by")


class ReferralColumnMixin:
    """A linked "referral" column for the admins of rows that belong to a referral."""

    @admin.display(description=_("referral"), ordering="referral")
    def referral_display(self, obj: FraudSignal | FraudDecision) -> str:
        return admin_link(obj.referral, f"#{obj.referral_id} {obj.referral}")


@admin.register(FraudSignal)
class FraudSignalAdmin(ReferralColumnMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every signal the fraud checks raised. Search by referral number or evidence
    hash; filter by check, stage and program."""

    actions = None
    list_display = [
        "created_at",
        "referral_display",
        "name",
        "score",
        "stage",
        "reason",
        "evidence_display",
    ]
    list_filter = ["name", "stage", "referral__program"]
    list_select_related = REFERRAL_RELATED
    search_fields = ["referral__id__exact", "=evidence", "name"]
    search_help_text = _("A referral number, a check's name, or a whole evidence hash.")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = readonly_fields = (
        "referral_display",
        "stage",
        "name",
        "score",
        "reason",
        "evidence_display",
        "created_at",
    )

    @admin.display(description=_("evidence (hashed)"))
    def evidence_display(self, obj: FraudSignal) -> str:
        return evidence_link(obj.evidence)

    def get_queryset(self, request: HttpRequest) -> QuerySet[FraudSignal]:
        return super().get_queryset(request).select_related(*REFERRAL_RELATED)


@admin.register(FraudDecision)
class FraudDecisionAdmin(ReferralColumnMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The append-only log of fraud decisions: who (or what) decided, when, on which
    score and signals."""

    actions = None
    list_display = [
        "created_at",
        "referral_display",
        "action",
        "stage",
        "score",
        "decided_by",
        "automatic",
        "note_display",
    ]
    list_filter = ["action", "automatic", "stage", "referral__program"]
    list_select_related = [*REFERRAL_RELATED, "decided_by"]
    search_fields = ["referral__id__exact", "note"]
    search_help_text = _("A referral number, or words of the note.")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = readonly_fields = (
        "referral_display",
        "action",
        "stage",
        "score",
        "signals_display",
        "decided_by",
        "automatic",
        "note",
        "created_at",
    )

    @admin.display(description=_("note"))
    def note_display(self, obj: FraudDecision) -> str:
        return Truncator(obj.note).chars(80)

    @admin.display(description=_("signals"))
    def signals_display(self, obj: FraudDecision) -> str:
        return signals_summary(obj.signals)

    def get_queryset(self, request: HttpRequest) -> QuerySet[FraudDecision]:
        return super().get_queryset(request).select_related(*REFERRAL_RELATED, "decided_by")


@admin.register(Trace)
class TraceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Where members have been seen from, as keyed hashes; the same hash links to
    every member seen from the same device or network."""

    actions = None
    list_display = ["member", "kind", "value_display", "first_seen", "last_seen"]
    list_filter = ["kind"]
    list_select_related = ["member"]
    search_fields = ["=value_hash", "member__name", "member__email"]
    search_help_text = _("A whole hash, or a member's name or e-mail address.")
    date_hierarchy = "last_seen"
    show_full_result_count = False
    fields = readonly_fields = ("member", "kind", "value_display", "first_seen", "last_seen")

    @admin.display(description=_("value (hashed)"))
    def value_display(self, obj: Trace) -> str:
        url = reverse("admin:referral_rewards_trace_changelist")
        return format_html(
            '<a href="{}?value_hash={}" title="{}">{}</a>',
            url,
            obj.value_hash,
            _("Members seen from the same place"),
            short_hash(obj.value_hash),
        )


__all__ = [
    "FraudDecisionAdmin",
    "FraudDecisionInline",
    "FraudSignalAdmin",
    "FraudSignalInline",
    "TraceAdmin",
    "evidence_link",
    "short_hash",
]
