"""Admin for referrals, with their fraud signals, fraud decisions and reward grants
inline.

Status changes go through services: staff reject a referral with a reason (its held
rewards are voided), and decide the fraud review of a suspicious one ("Approve after
review", "Reject after review…", through
:mod:`~django_referral_rewards.services.fraud`), each decision recorded with who took it
and when. The review queue is the list filtered to referrals in review, the nearest
deadline first (the "Review queue" button of the list).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..enums import FraudStatus, ReferralStatus
from ..exceptions import ReferralRewardsError
from ..models import FraudSignal, Referral, RewardGrant
from ..services import fraud, referrals
from .fraud import FraudDecisionInline, FraudSignalInline, short_hash
from .helpers import WORKFLOW_CHANGE_FORM, WorkflowStepsMixin, format_value, reason_action
from .ledger import ReadOnlyAdminMixin

#: The query string of the review queue: referrals in review (the list is then ordered
#: by review deadline, nearest first).
REVIEW_QUEUE_QUERY = f"fraud_status__exact={FraudStatus.REVIEW}"


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


class SameEvidenceFilter(admin.SimpleListFilter):
    """Referrals with a fraud signal whose evidence is the given hash (the same device,
    network, e-mail address or payment method): ``?evidence=<hash>``, linked from the
    signals of a referral. Shown in the sidebar only while it is in use."""

    title = _("fraud evidence")
    parameter_name = "evidence"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, short_hash(value))] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # Called only while in use (the filter has no output otherwise).
        return queryset.filter(
            pk__in=FraudSignal.objects.filter(evidence=self.value()).values("referral_id")
        )


def describe_referral(referral: Referral) -> str:
    """``#12 Bob @ Shop ← Ann @ Shop`` (for messages and action pages)."""
    return f"#{referral.pk} {referral}"


#: The steps the change page offers, by fraud status (a referral in review) or else by
#: status.
REVIEW_STEPS = ["approve_review", "reject_review"]
OPEN_STEPS = ["reject"]


@admin.register(Referral)
class ReferralAdmin(WorkflowStepsMixin, admin.ModelAdmin):
    """Referrals are created by sign-up events, never by hand. Staff with
    ``change_referral`` reject them and decide their fraud reviews with the actions
    (the change page offers the ones that apply as buttons)."""

    change_list_template = "admin/referral_rewards/referral/change_list.html"
    change_form_template = WORKFLOW_CHANGE_FORM
    list_display = [
        "referred",
        "referrer",
        "code",
        "campaign",
        "status",
        "fraud_status",
        "fraud_score",
        "review_deadline",
        "attached_at",
        "converted_at",
        "referred_revenue",
    ]
    list_filter = ["status", "fraud_status", "program", "campaign", SameEvidenceFilter]
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
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "program",
                    "referrer",
                    "referred",
                    "code",
                    "campaign",
                    "status",
                    "attached_at",
                    "expires_at",
                ]
            },
        ),
        (
            _("Conversion"),
            {
                "fields": [
                    "activated_at",
                    "converted_at",
                    "first_order_id",
                    "first_order_amount",
                    "referred_revenue",
                ]
            },
        ),
        (
            _("Fraud checks"),
            {
                "fields": [
                    "fraud_status",
                    "fraud_score",
                    "review_deadline",
                    "same_evidence",
                    "ip_display",
                    "device_display",
                ],
                "description": _(
                    "The signals the checks raised and every decision taken on them are "
                    "listed below. A referral in review keeps its rewards held until it "
                    "is approved or rejected, or its deadline passes."
                ),
            },
        ),
        (_("Advanced"), {"fields": ["metadata"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "status",
        "expires_at",
        "activated_at",
        "converted_at",
        "first_order_id",
        "first_order_amount",
        "referred_revenue",
        "fraud_status",
        "fraud_score",
        "review_deadline",
        "same_evidence",
        "ip_display",
        "device_display",
    ]
    date_hierarchy = "attached_at"
    inlines = [FraudSignalInline, FraudDecisionInline, RewardGrantInline]
    actions = ["approve_review", "reject_review", "reject"]

    # Displays.

    @admin.display(description=_("same evidence elsewhere"))
    def same_evidence(self, obj: Referral) -> str:
        """For each signal of this referral that has evidence, how many other
        referrals share it, linking to them (two queries)."""
        mine = list(
            FraudSignal.objects.filter(referral=obj)
            .exclude(evidence="")
            .order_by("name")
            .values_list("name", "evidence")
            .distinct()
        )
        if not mine:
            return "—"
        others = dict(
            FraudSignal.objects.filter(evidence__in={evidence for _name, evidence in mine})
            .exclude(referral=obj)
            .order_by()
            .values("evidence")
            .annotate(n=Count("referral", distinct=True))
            .values_list("evidence", "n")
        )
        url = reverse("admin:referral_rewards_referral_changelist")
        return format_html_join(
            mark_safe("<br>"),
            '{}: <a href="{}?evidence={}">{}</a>',
            (
                (
                    name,
                    url,
                    evidence,
                    ngettext(
                        "%(n)d other referral", "%(n)d other referrals", others.get(evidence, 0)
                    )
                    % {"n": others.get(evidence, 0)},
                )
                for name, evidence in mine
            ),
        )

    def _hash_link(self, field: str, value: str) -> str:
        if not value:
            return "—"
        url = reverse("admin:referral_rewards_referral_changelist")
        return format_html(
            '<a href="{}?{}={}">{}</a> ({})',
            url,
            field,
            value,
            short_hash(value),
            _("referrals signed up from it"),
        )

    @admin.display(description=_("sign-up IP address (hashed)"))
    def ip_display(self, obj: Referral) -> str:
        return self._hash_link("ip_hash", obj.ip_hash)

    @admin.display(description=_("sign-up device (hashed)"))
    def device_display(self, obj: Referral) -> str:
        return self._hash_link("device_hash", obj.device_hash)

    # The list and the review queue.

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # referrals are created by sign-up events, never by hand

    def in_review_queue(self, request: HttpRequest) -> bool:
        """Whether the list shows the review queue (filtered to referrals in review)."""
        return request.GET.get("fraud_status__exact") == FraudStatus.REVIEW

    def get_ordering(self, request: HttpRequest) -> Any:
        """The review queue lists the nearest deadline first (a column the user sorts
        by still wins)."""
        if self.in_review_queue(request):
            return ["review_deadline", "pk"]
        return super().get_ordering(request)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse | HttpResponse:
        extra_context = {
            "review_queue_query": REVIEW_QUEUE_QUERY,
            "review_count": Referral.objects.filter(fraud_status=FraudStatus.REVIEW).count(),
            "in_review_queue": self.in_review_queue(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    # The change page's steps.

    def step_buttons(self, request: HttpRequest, obj: Any) -> list[tuple[str, Any]]:
        """``(action name, label)`` of the steps that apply: the review decisions for
        a referral in review, rejection for another pending or converted one."""
        if obj is None or not self.may_take_steps(request, obj):
            return []
        if obj.fraud_status == FraudStatus.REVIEW:
            names = REVIEW_STEPS
        elif obj.status in (ReferralStatus.PENDING, ReferralStatus.CONVERTED):
            names = OPEN_STEPS
        else:
            return []
        available = self.get_actions(request)
        steps = []
        for name in names:
            action = available.get(name)
            if action is not None:
                # Django 6.1 gives Action objects; earlier versions (func, name, description).
                steps.append((name, getattr(action, "description", None) or action[2]))
        return steps

    # Actions.

    def _selected(self, queryset: QuerySet[Referral]) -> list[Referral]:
        return list(queryset.select_related(*self.list_select_related))

    @admin.action(description=_("Approve after review"), permissions=["change"])
    def approve_review(self, request: HttpRequest, queryset: QuerySet[Referral]) -> None:
        """Approve the selected referrals in review: their rewards are released when
        due (at once if their hold has passed). Your name is recorded with the
        decision; any referral not in review is reported and left as it is."""
        done = 0
        for referral in self._selected(queryset):
            try:
                fraud.approve_referral(referral, by=request.user)
            except ReferralRewardsError as exc:
                self.message_user(
                    request, f"{describe_referral(referral)}: {exc.message}", messages.ERROR
                )
            else:
                done += 1
                self.log_change(request, referral, str(_("Approved after review.")))
        if done:
            self.message_user(
                request,
                ngettext(
                    "Approved %(n)d referral after review.",
                    "Approved %(n)d referrals after review.",
                    done,
                )
                % {"n": done},
                messages.SUCCESS,
            )

    @admin.action(description=_("Reject after review…"), permissions=["change"])
    def reject_review(
        self, request: HttpRequest, queryset: QuerySet[Referral]
    ) -> HttpResponse | None:
        """Reject the selected referrals in review with a reason: nobody is rewarded
        for them and their held rewards are voided. Your name and the reason are
        recorded with the decision."""
        return reason_action(
            self,
            request,
            self._selected(queryset),
            action="reject_review",
            title=_("Reject referrals after review"),
            intro=_(
                "These referrals in review will be rejected: nobody is rewarded for them "
                "and their held rewards are voided. Your name and the reason are "
                "recorded with the decision."
            ),
            submit_label=_("Reject"),
            perform=lambda referral, reason: fraud.reject_referral(
                referral, by=request.user, reason=reason
            ),
            done_message=lambda n: (
                ngettext(
                    "Rejected %(n)d referral after review.",
                    "Rejected %(n)d referrals after review.",
                    n,
                )
                % {"n": n}
            ),
            describe=describe_referral,
        )

    @admin.action(description=_("Reject…"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Referral]) -> HttpResponse | None:
        """Reject the selected referrals with a reason: nobody is rewarded for them and
        their held rewards are voided (released ones stay; revoke them from the reward
        grants if they must be taken back). A referral in review is rejected after
        review, so that the decision closes its review."""

        def perform(referral: Referral, reason: str) -> Referral:
            if referral.fraud_status == FraudStatus.REVIEW:
                return fraud.reject_referral(referral, by=request.user, reason=reason)
            return referrals.reject(referral, reason=reason, rejected_by=request.user)

        return reason_action(
            self,
            request,
            self._selected(queryset),
            action="reject",
            title=_("Reject referrals"),
            intro=_(
                "These referrals will be rejected: nobody is rewarded for them and their "
                "held rewards are voided. Released rewards stay; revoke them separately if "
                "they must be taken back. Your name and the reason are recorded."
            ),
            submit_label=_("Reject"),
            perform=perform,
            done_message=lambda n: (
                ngettext("Rejected %(n)d referral.", "Rejected %(n)d referrals.", n) % {"n": n}
            ),
            describe=describe_referral,
        )
