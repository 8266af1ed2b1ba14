"""Admin for commission payouts.

Payouts are records: read-only here but for staff notes, with their history inline, and
changed only through actions that call :mod:`~django_referral_rewards.services.payouts`
(approve, mark paid, cancel, send through the payout backend), each reporting its own
failure without stopping the others; the change page offers the steps that apply as
buttons running the same actions. Staff ask for a payout for a member on the add page
("Request a payout for a member"), through the same service members use. Approved bank
transfers are exported as a CSV file for a bank batch; the Export button exports any
list of payouts with :class:`~django_referral_rewards.resources.PayoutResource`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ExportMixin

from ..conf import app_settings
from ..enums import PayoutMethod, PayoutStatus
from ..exceptions import (
    InsufficientBalance,
    InvalidAmount,
    PayoutBelowMinimum,
    ReferralRewardsError,
)
from ..forms import MarkPaidForm, RequestPayoutForm
from ..models import LedgerEntry, Payout, PayoutEvent, Program
from ..resources import PayoutResource, export_payouts
from ..services import payouts
from .helpers import (
    WORKFLOW_CHANGE_FORM,
    RequestForMemberMixin,
    WorkflowStepsMixin,
    admin_link,
    form_action,
    reason_action,
)
from .ledger import ReadOnlyAdminMixin


def describe_payout(payout: Payout) -> str:
    """``#12 20.00 EUR → Ann @ Shop`` (for messages and action pages)."""
    return f"#{payout.pk} {payouts.money(payout.program, payout.amount)} → {payout.account}"


def entry_label(entry: LedgerEntry, program: Program) -> str:
    """A commission or credit entry in money: ``#7: +8.00 USD, Earned, 2025-03-01``."""
    amount = program.from_minor(entry.amount)
    sign = "+" if amount > 0 else ""
    return (
        f"#{entry.pk}: {sign}{amount} {program.currency}, {entry.get_kind_display()}, "
        f"{timezone.localtime(entry.created_at):%Y-%m-%d}"
    )


class PayoutEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A payout's history: who did what, when, with their note or the error."""

    model = PayoutEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "action", "status", "actor", "note")
    ordering = ["created_at", "pk"]
    verbose_name = _("step")
    verbose_name_plural = _("history")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PayoutEvent]:
        return super().get_queryset(request).select_related("actor")


#: The actions that apply in each status, in the order the change page shows them.
STEPS: dict[str, list[str]] = {
    PayoutStatus.PENDING: ["approve", "cancel"],
    PayoutStatus.APPROVED: ["mark_paid", "send", "cancel"],
    PayoutStatus.PROCESSING: ["mark_paid", "send"],
}

#: What goes in a bank batch: approved bank transfers.
BATCH_STATUS = PayoutStatus.APPROVED
BATCH_METHOD = PayoutMethod.BANK_TRANSFER


@admin.register(Payout)
class PayoutAdmin(WorkflowStepsMixin, RequestForMemberMixin, ExportMixin, admin.ModelAdmin):
    """Payouts are never edited (but for their notes) or deleted here. Staff act on
    them with the actions (need ``change_payout``), and ask for a payout for a member
    on the add page (needs ``add_payout``); every change goes through
    ``services.payouts`` and is recorded in the history."""

    resource_classes = [PayoutResource]
    change_list_template = "admin/referral_rewards/payout/change_list.html"
    list_display = [
        "id",
        "member_display",
        "program",
        "amount_display",
        "method",
        "status",
        "requested_at",
        "approved_by",
        "paid_at",
        "external_reference",
    ]
    list_filter = ["status", "method", "program"]
    list_select_related = ["program", "account__member", "account__program", "approved_by"]
    search_fields = [
        "account__member__name",
        "account__member__email",
        "external_reference",
        "destination",
    ]
    date_hierarchy = "requested_at"
    show_full_result_count = False
    workflow_steps = STEPS
    change_form_template = WORKFLOW_CHANGE_FORM
    inlines = [PayoutEventInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "account",
                    "program",
                    "amount_display",
                    "method",
                    "destination",
                    "status",
                    "requested_by",
                    "requested_at",
                    "idempotency_key",
                ]
            },
        ),
        (
            _("Approval and payment"),
            {
                "fields": [
                    "approved_by",
                    "approved_at",
                    "paid_by",
                    "paid_at",
                    "external_reference",
                    "cancelled_at",
                    "reason",
                ]
            },
        ),
        (_("Payout backend"), {"fields": ["attempts", "submitted_at", "last_error"]}),
        (
            _("Commission and ledger"),
            {"fields": ["covered_display", "reserve_link", "return_link", "credit_link"]},
        ),
        (_("Notes"), {"fields": ["notes"]}),
    ]
    readonly_fields = [name for name in flatten_fieldsets(fieldsets) if name != "notes"]
    actions = ["approve", "mark_paid", "send", "cancel", "export_batch"]

    # Displays.

    @admin.display(description=_("member"), ordering="account__member__name")
    def member_display(self, obj: Payout) -> str:
        return str(obj.account.member)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: Payout) -> str:
        return payouts.money(obj.program, obj.amount)

    def _entry_link(self, obj: Payout, entry: LedgerEntry | None) -> str:
        if entry is None:
            return "—"
        return admin_link(entry, entry_label(entry, obj.program))

    @admin.display(description=_("commission taken"))
    def reserve_link(self, obj: Payout) -> str:
        return self._entry_link(obj, obj.reserve_entry)

    @admin.display(description=_("commission returned"))
    def return_link(self, obj: Payout) -> str:
        return self._entry_link(obj, obj.return_entry)

    @admin.display(description=_("credit given"))
    def credit_link(self, obj: Payout) -> str:
        return self._entry_link(obj, obj.credit_entry)

    @admin.display(description=_("commission paid out"))
    def covered_display(self, obj: Payout) -> str:
        """The commission entries (earned on referrals) this payout pays out."""
        entries = payouts.covered_entries(obj)
        return (
            format_html_join(
                mark_safe("<br>"),
                '<a href="{}">{}</a> {}',
                (
                    (
                        reverse("admin:referral_rewards_ledgerentry_change", args=[entry.pk]),
                        entry_label(entry, obj.program),
                        entry.memo,
                    )
                    for entry in entries
                ),
            )
            or "—"
        )

    # Permissions: only the notes are edited; never deleted; requested on the add page.

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_export_permission(self, request: HttpRequest) -> bool:
        """Exporting needs the view permission (payouts hold where members are paid),
        and ``IMPORT_EXPORT_EXPORT_PERMISSION_CODE``'s permission when it is set."""
        return self.has_view_permission(request) and bool(super().has_export_permission(request))

    def save_model(self, request: HttpRequest, obj: Payout, form: Any, change: bool) -> None:
        """Write the notes alone: the rest moves only through the services, and a save
        must not write back a status read before a concurrent step."""
        Payout.objects.filter(pk=obj.pk).update(notes=obj.notes)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not app_settings.payout_backend().automatic:
            actions.pop("send", None)  # staff pay by hand and mark payouts paid
        return actions

    # Requesting for a member: the add page.

    request_form_class = RequestPayoutForm
    request_title = _("Request a payout for a member")
    request_template = "admin/referral_rewards/payout/request_payout.html"

    def perform_request(self, request: HttpRequest, data: dict[str, Any]) -> Payout:
        """ "Request a payout for a member": :func:`payouts.request_payout`, recording
        the staff user; a double-submitted form acts once (its token is the key)."""
        return payouts.request_payout(
            data["account"],
            amount=data["amount"],
            method=data["method"],
            destination=data["destination"],
            idempotency_key=f"admin-payout:{data['token']}",
            requested_by=request.user,
        )

    def error_field(self, exc: ReferralRewardsError) -> str | None:
        # Below the minimum, more than the available commission, a bad amount.
        if isinstance(exc, (InvalidAmount, InsufficientBalance, PayoutBelowMinimum)):
            return "amount"
        return None

    def requested_message(self, payout: Payout) -> str:
        return _("Requested a payout of %(amount)s for %(account)s by %(method)s: %(status)s.") % {
            "amount": payouts.money(payout.program, payout.amount),
            "account": payout.account,
            "method": payout.get_method_display().lower(),
            "status": payout.get_status_display(),
        }

    # Actions.

    def _selected(self, queryset: QuerySet[Payout]) -> list[Payout]:
        return list(queryset.select_related(*self.list_select_related))

    def _done(self, request: HttpRequest, text: str) -> None:
        self.message_user(request, text, messages.SUCCESS)

    def _failed(self, request: HttpRequest, payout: Payout, exc: ReferralRewardsError) -> None:
        self.message_user(request, f"{describe_payout(payout)}: {exc.message}", messages.ERROR)

    @admin.action(description=_("Approve"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        """Approve the selected waiting payouts (account-credit payouts are paid into
        the member's credit balance at once); any other is reported and left as it
        is."""
        approved = credited = 0
        for payout in self._selected(queryset):
            try:
                payouts.approve_payout(payout, by=request.user)
            except ReferralRewardsError as exc:
                self._failed(request, payout, exc)
                continue
            self.log_change(request, payout, str(_("Approved.")))
            if payout.status == PayoutStatus.PAID:
                credited += 1
            else:
                approved += 1
        if approved:
            self._done(
                request,
                ngettext(
                    "Approved %(n)d payout: pay it, then mark it paid.",
                    "Approved %(n)d payouts: pay them, then mark them paid.",
                    approved,
                )
                % {"n": approved},
            )
        if credited:
            self._done(
                request,
                ngettext(
                    "Approved and paid %(n)d payout as account credit.",
                    "Approved and paid %(n)d payouts as account credit.",
                    credited,
                )
                % {"n": credited},
            )

    @admin.action(description=_("Mark paid…"), permissions=["change"])
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Payout]) -> HttpResponse | None:
        """Record that the selected approved payouts were paid (outside this system),
        with the payment's reference and a note."""
        return form_action(
            self,
            request,
            self._selected(queryset),
            form_class=MarkPaidForm,
            action="mark_paid",
            title=_("Mark payouts paid"),
            intro=_(
                "Record that these payouts were paid. The payment reference (the bank's, "
                "the cheque number) and your name are recorded in their history."
            ),
            submit_label=_("Mark paid"),
            perform=lambda payout, data: payouts.mark_paid(
                payout, by=request.user, reference=data["reference"], note=data["note"]
            ),
            done_message=lambda n: (
                ngettext("Marked %(n)d payout paid.", "Marked %(n)d payouts paid.", n) % {"n": n}
            ),
            log_message=lambda data: str(
                _("Marked paid (reference %(reference)s).") % {"reference": data["reference"]}
                if data["reference"]
                else _("Marked paid.")
            ),
            describe=describe_payout,
        )

    @admin.action(description=_("Cancel…"), permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Payout]) -> HttpResponse | None:
        """Cancel the selected waiting or approved payouts with a reason; the amount
        goes back to the members' commission balance."""
        return reason_action(
            self,
            request,
            self._selected(queryset),
            action="cancel",
            title=_("Cancel payouts"),
            intro=_(
                "These payouts will be cancelled and their amounts given back to the "
                "members' commission balance. Your name and the reason are recorded in "
                "their history."
            ),
            submit_label=_("Cancel the payouts"),
            perform=lambda payout, reason: payouts.cancel_payout(
                payout, by=request.user, reason=reason
            ),
            done_message=lambda n: (
                ngettext("Cancelled %(n)d payout.", "Cancelled %(n)d payouts.", n) % {"n": n}
            ),
            describe=describe_payout,
        )

    @admin.action(description=_("Send through the payout backend"), permissions=["change"])
    def send(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        """Send the selected approved payouts through the payout backend, one by one
        (offered only when the backend sends payouts). A payout left being sent by a
        crash is sent again with the same submission key, so it cannot be paid twice;
        a failure leaves the payout approved with the error, to send again."""
        if transaction.get_connection().in_atomic_block:
            # ATOMIC_REQUESTS: the provider would be called with the request's
            # transaction open. send_payout() refuses; say so once, clearly.
            self.message_user(
                request,
                _(
                    "Payouts cannot be sent from the admin while each request runs in a "
                    "database transaction (ATOMIC_REQUESTS): send them with "
                    "services.payouts.send_payout() from a task or command, or mark them "
                    "paid."
                ),
                messages.ERROR,
            )
            return
        sent = 0
        for payout in self._selected(queryset):
            try:
                payouts.send_payout(
                    payout, by=request.user, resume=payout.status == PayoutStatus.PROCESSING
                )
            except ReferralRewardsError as exc:
                self._failed(request, payout, exc)
            else:
                sent += 1
                self.log_change(
                    request,
                    payout,
                    str(
                        _("Sent (reference %(reference)s).")
                        % {"reference": payout.external_reference}
                    ),
                )
        if sent:
            self._done(
                request,
                ngettext("Sent and paid %(n)d payout.", "Sent and paid %(n)d payouts.", sent)
                % {"n": sent},
            )

    @admin.action(description=_("Export CSV for a bank batch"), permissions=["view"])
    def export_batch(self, request: HttpRequest, queryset: QuerySet[Payout]) -> HttpResponse | None:
        """Download the selected approved bank transfers as CSV, for the bank's batch
        upload. Other selected payouts are left out and named (paying a payout that is
        not approved, or one already paid, would pay the wrong thing)."""
        selected = self._selected(queryset)
        batch = [p for p in selected if p.status == BATCH_STATUS and p.method == BATCH_METHOD]
        left_out = [p for p in selected if p not in batch]
        if left_out:
            self.message_user(
                request,
                _("Only approved bank transfers go in a bank batch; left out: %(list)s.")
                % {
                    "list": ", ".join(
                        f"{describe_payout(p)} ({p.get_method_display()}, {p.get_status_display()})"
                        for p in left_out
                    )
                },
                messages.WARNING,
            )
        if not batch:
            return None
        rows = Payout.objects.filter(pk__in=[p.pk for p in batch]).order_by("requested_at", "pk")
        response = HttpResponse(export_payouts(rows), content_type="text/csv; charset=utf-8")
        filename = f"payouts-{timezone.localtime():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


__all__ = ["PayoutAdmin", "PayoutEventInline", "describe_payout", "entry_label"]
