"""Admin for redemptions of the reward catalog.

Redemptions are records: read-only here, with their history inline, and changed only
through actions that call :mod:`~django_referral_rewards.services.redemptions`
(approve, reject, cancel, assign, fulfil), each reporting its own failure without
stopping the others; the change page offers the steps that apply as buttons running the
same actions. Staff redeem points for a member on the add page ("Redeem points for a
member"), through the same service members use.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..adapter import user_display_name
from ..enums import OPEN_REDEMPTION_STATUSES, RedemptionStatus
from ..exceptions import ReferralRewardsError
from ..forms import AssignRedemptionForm, FulfilRedemptionForm, RequestRedemptionForm
from ..models import Redemption, RedemptionEvent
from ..services import redemptions
from .helpers import (
    WORKFLOW_CHANGE_FORM,
    RequestForMemberMixin,
    WorkflowStepsMixin,
    admin_link,
    form_action,
    reason_action,
)
from .ledger import ReadOnlyAdminMixin


def describe_redemption(redemption: Redemption) -> str:
    """``#12 Free oil change ← Ann @ Shop`` (for messages and action pages)."""
    return f"#{redemption.pk} {redemption}"


class RedemptionEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A redemption's history: who did what, when, with their note."""

    model = RedemptionEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "action", "status", "actor", "note")
    ordering = ["created_at", "pk"]
    verbose_name = _("step")
    verbose_name_plural = _("history")

    def get_queryset(self, request: HttpRequest) -> QuerySet[RedemptionEvent]:
        return super().get_queryset(request).select_related("actor")


class QueueFilter(admin.SimpleListFilter):
    """The fulfilment queue: open redemptions, those assigned to me, or nobody's."""

    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("open", _("Open (waiting or approved)")),
            ("mine", _("Open, assigned to me")),
            ("unassigned", _("Open, not assigned")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in {"open", "mine", "unassigned"}:
            return queryset
        queryset = queryset.filter(status__in=OPEN_REDEMPTION_STATUSES)
        if value == "mine":
            return queryset.filter(assigned_to_id=request.user.pk)
        if value == "unassigned":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


#: The actions that apply in each status, in the order the change page shows them.
STEPS: dict[str, list[str]] = {
    RedemptionStatus.PENDING: ["approve", "reject", "assign", "cancel"],
    RedemptionStatus.APPROVED: ["fulfil", "assign", "cancel"],
}


@admin.register(Redemption)
class RedemptionAdmin(WorkflowStepsMixin, RequestForMemberMixin, admin.ModelAdmin):
    """Redemptions are records: never edited or deleted here. Staff act on them with
    the actions (need ``change_redemption``), and redeem points for a member on the
    add page (needs ``add_redemption``); every change goes through
    ``services.redemptions`` and is recorded in the history."""

    list_display = [
        "id",
        "requested_at",
        "member_display",
        "option",
        "points",
        "status",
        "assigned_to",
        "fulfilled_at",
        "applied_to_display",
    ]
    list_filter = [
        "status",
        QueueFilter,
        "program",
        "option",
        ("assigned_to", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = [
        "program",
        "account__member",
        "account__program",
        "option",
        "assigned_to",
    ]
    search_fields = [
        "account__member__name",
        "account__member__email",
        "option__name",
        "=applied_to_id",
    ]
    date_hierarchy = "requested_at"
    show_full_result_count = False
    workflow_steps = STEPS
    change_form_template = WORKFLOW_CHANGE_FORM
    inlines = [RedemptionEventInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "account",
                    "program",
                    "option",
                    "points",
                    "status",
                    "requested_at",
                    "idempotency_key",
                ]
            },
        ),
        (_("Approval"), {"fields": ["processed_by", "processed_at", "reason"]}),
        (
            _("Fulfilment"),
            {
                "fields": [
                    "assigned_to",
                    "assigned_at",
                    "fulfilled_by",
                    "fulfilled_at",
                    "notes",
                    "applied_to_display",
                ]
            },
        ),
        (
            _("Points and what was given"),
            {"fields": ["spend_link", "refund_link", "credit_link", "voucher_link"]},
        ),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)
    actions = ["approve", "reject", "cancel", "assign", "fulfil"]

    # Displays.

    @admin.display(description=_("member"), ordering="account__member__name")
    def member_display(self, obj: Redemption) -> str:
        return str(obj.account.member)

    @admin.display(description=_("applied to"))
    def applied_to_display(self, obj: Redemption) -> str:
        return obj.applied_to or "—"

    def _entry_link(self, entry: Any) -> str:
        if entry is None:
            return "—"
        return admin_link(entry, f"#{entry.pk}: {entry}")

    @admin.display(description=_("points spent"))
    def spend_link(self, obj: Redemption) -> str:
        return self._entry_link(obj.spend_entry)

    @admin.display(description=_("points refunded"))
    def refund_link(self, obj: Redemption) -> str:
        return self._entry_link(obj.refund_entry)

    @admin.display(description=_("credit given"))
    def credit_link(self, obj: Redemption) -> str:
        return self._entry_link(obj.credit_entry)

    @admin.display(description=_("voucher issued"))
    def voucher_link(self, obj: Redemption) -> str:
        voucher = obj.voucher
        if voucher is None:
            return "—"
        return format_html(
            "{} ({})", admin_link(voucher, voucher.display_code), voucher.get_status_display()
        )

    # Permissions: never edited or deleted; requested on the add page.

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def may_take_steps(self, request: HttpRequest, obj: Any) -> bool:
        return self.has_manage_permission(request)

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """Approving, rejecting, cancelling, assigning and fulfilling need
        ``change_redemption`` (the change form itself stays read-only)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")

    # Redeeming for a member: the add page.

    request_form_class = RequestRedemptionForm
    request_title = _("Redeem points for a member")
    request_template = "admin/referral_rewards/redemption/request_redemption.html"

    def perform_request(self, request: HttpRequest, data: dict[str, Any]) -> Redemption:
        """ "Redeem points for a member": :func:`redemptions.request_redemption`,
        recording the staff user; service errors (balance, stock, limits, tier) become
        form errors; a double-submitted form acts once (its token is the key)."""
        return redemptions.request_redemption(
            data["account"],
            data["option"],
            idempotency_key=f"admin-redeem:{data['token']}",
            requested_by=request.user,
        )

    def requested_message(self, redemption: Redemption) -> str:
        return _("Redeemed %(points)d points of %(account)s for %(option)s: %(status)s.") % {
            "points": redemption.points,
            "account": redemption.account,
            "option": redemption.option,
            "status": redemption.get_status_display(),
        }

    # Actions.

    def _selected(self, queryset: QuerySet[Redemption]) -> QuerySet[Redemption]:
        return queryset.select_related(*self.list_select_related)

    @admin.action(description=_("Approve"), permissions=["manage"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> None:
        """Approve the selected waiting redemptions (vouchers and credit are given
        then); any other is reported and left as it is."""
        done = 0
        unassigned = []
        for redemption in self._selected(queryset):
            try:
                redemptions.approve(redemption, by=request.user)
            except ReferralRewardsError as exc:
                self.message_user(
                    request, f"{describe_redemption(redemption)}: {exc.message}", messages.ERROR
                )
            else:
                done += 1
                self.log_change(request, redemption, str(_("Approved.")))
                if redemption.status == RedemptionStatus.APPROVED and not redemption.assigned_to_id:
                    unassigned.append(describe_redemption(redemption))
        if unassigned:
            self.message_user(
                request,
                _("Nobody was assigned to fulfil %(list)s: use “Assign…”.")
                % {"list": ", ".join(unassigned)},
                messages.WARNING,
            )
        if done:
            self.message_user(
                request,
                ngettext("Approved %(n)d redemption.", "Approved %(n)d redemptions.", done)
                % {"n": done},
                messages.SUCCESS,
            )

    @admin.action(description=_("Reject…"), permissions=["manage"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> HttpResponse | None:
        """Reject the selected waiting redemptions with a reason; their points are
        refunded."""
        return reason_action(
            self,
            request,
            self._selected(queryset),
            action="reject",
            title=_("Reject redemptions"),
            intro=_(
                "These redemptions will be rejected and their points refunded to the "
                "members. Your name and the reason are recorded in their history."
            ),
            submit_label=_("Reject"),
            perform=lambda redemption, reason: redemptions.reject(
                redemption, by=request.user, reason=reason
            ),
            done_message=lambda n: (
                ngettext("Rejected %(n)d redemption.", "Rejected %(n)d redemptions.", n) % {"n": n}
            ),
            describe=describe_redemption,
        )

    @admin.action(description=_("Cancel…"), permissions=["manage"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> HttpResponse | None:
        """Cancel the selected open (waiting or approved) redemptions with a reason;
        their points are refunded and the stock returned."""
        return reason_action(
            self,
            request,
            self._selected(queryset),
            action="cancel",
            title=_("Cancel redemptions"),
            intro=_(
                "These redemptions will be cancelled and their points refunded to the "
                "members. Your name and the reason are recorded in their history."
            ),
            submit_label=_("Cancel the redemptions"),
            perform=lambda redemption, reason: redemptions.cancel(
                redemption, by=request.user, reason=reason
            ),
            done_message=lambda n: (
                ngettext("Cancelled %(n)d redemption.", "Cancelled %(n)d redemptions.", n)
                % {"n": n}
            ),
            describe=describe_redemption,
        )

    @admin.action(description=_("Assign…"), permissions=["manage"])
    def assign(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> HttpResponse | None:
        """Assign the selected open redemptions to a staff user, or let the configured
        assigner choose (the least loaded of the fulfilment group by default). The
        assignee is notified."""

        def perform(redemption: Redemption, data: dict[str, Any]) -> None:
            assigned = redemptions.assign(redemption, data["user"], by=request.user)
            if data["user"] is None:  # say whom the assigner chose
                user = assigned.assigned_to
                self.message_user(
                    request,
                    _("%(redemption)s: assigned to %(user)s.")
                    % {
                        "redemption": describe_redemption(redemption),
                        "user": user_display_name(user) if user else "—",
                    },
                    messages.INFO,
                )

        return form_action(
            self,
            request,
            self._selected(queryset),
            form_class=AssignRedemptionForm,
            action="assign",
            title=_("Assign redemptions"),
            intro=_(
                "Choose who fulfils these redemptions, or leave it to be chosen "
                "automatically. The assignee is notified."
            ),
            submit_label=_("Assign"),
            perform=perform,
            done_message=lambda n: (
                ngettext("Assigned %(n)d redemption.", "Assigned %(n)d redemptions.", n) % {"n": n}
            ),
            log_message=lambda data: str(
                _("Assigned to %(user)s.") % {"user": data["user"]}
                if data["user"] is not None
                else _("Assigned automatically.")
            ),
            describe=describe_redemption,
        )

    @admin.action(description=_("Fulfil…"), permissions=["manage"])
    def fulfil(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> HttpResponse | None:
        """Mark one approved redemption fulfilled, with notes and what it was applied
        to (a repair, an invoice)."""
        selected = list(self._selected(queryset)[:2])
        if len(selected) != 1:
            self.message_user(
                request,
                _("Fulfil one redemption at a time: its notes are its own."),
                messages.WARNING,
            )
            return None
        return form_action(
            self,
            request,
            selected,
            form_class=FulfilRedemptionForm,
            action="fulfil",
            title=_("Fulfil a redemption"),
            intro=_(
                "Record how this redemption was fulfilled. Your name is recorded in its "
                "history and the member is told."
            ),
            submit_label=_("Mark fulfilled"),
            perform=lambda redemption, data: redemptions.fulfil(
                redemption, by=request.user, notes=data["notes"], applied_to=data["applied_to"]
            ),
            done_message=lambda n: str(_("Fulfilled the redemption.")),
            log_message=lambda data: str(_("Fulfilled.")),
            describe=describe_redemption,
        )


__all__ = ["RedemptionAdmin", "RedemptionEventInline", "describe_redemption"]
