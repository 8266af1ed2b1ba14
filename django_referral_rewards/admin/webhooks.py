"""Admin for outbound webhooks.

Endpoints are edited here (the signing secret is shown, read-only, once created, and
changed only by the "Rotate secret" action). Deliveries are records: read-only, with
every attempt inline, and acted on only through actions that call
:mod:`~django_referral_rewards.services.webhooks`: "Replay" (send a delivered, failed or
cancelled one again) and "Deliver now" (try a pending one at once).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..enums import WebhookDeliveryStatus
from ..exceptions import ReferralRewardsError
from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ..services import webhooks
from ..signals import OUTBOUND_SIGNALS
from .helpers import changelist_link
from .ledger import ReadOnlyAdminMixin


class WebhookEndpointForm(forms.ModelForm):
    """The events are picked from the outbound signals; none picked means all."""

    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=[(name, name) for name in OUTBOUND_SIGNALS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("The events sent to this endpoint; none selected means every event."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "secret", "events", "program", "active", "description"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "url", "events_display", "program", "active", "deliveries_link"]
    list_filter = ["active", "program"]
    list_select_related = ["program"]
    search_fields = ["name", "url", "description"]
    actions = ["rotate_secret"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The secret is chosen (or generated) when the endpoint is added; after that it
        # changes only through "Rotate secret", which makes a new random one.
        return ["secret", "created", "modified"] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields = list(WebhookEndpointForm.Meta.fields)
        return [*fields, "created", "modified"] if obj is not None else fields

    @admin.display(description=_("events"))
    def events_display(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events) if obj.events else str(_("every event"))

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, obj: WebhookEndpoint) -> str:
        return changelist_link(WebhookDelivery, _("deliveries"), endpoint__id__exact=obj.pk)

    @admin.action(description=_("Rotate secret"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        """Give each selected endpoint a new random signing secret (update the
        receivers: every later attempt is signed with it)."""
        done = 0
        for endpoint in queryset:
            webhooks.rotate_secret(endpoint)
            self.log_change(request, endpoint, str(_("Rotated the signing secret.")))
            done += 1
        self.message_user(
            request,
            ngettext(
                "Rotated the secret of %(n)d endpoint: give its receiver the new one.",
                "Rotated the secrets of %(n)d endpoints: give their receivers the new ones.",
                done,
            )
            % {"n": done},
            messages.SUCCESS,
        )


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Every attempt at a delivery, in order."""

    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("number", "at", "status_code", "duration_ms", "error", "response")
    ordering = ["number"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Deliveries are never added, edited or deleted here; the actions (which need
    ``change_webhookdelivery``) replay them or try them at once."""

    list_display = [
        "id",
        "event",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "delivered_at",
        "created_at",
    ]
    list_filter = ["status", "event", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["event_id", "event", "endpoint__name"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [WebhookAttemptInline]
    fields = readonly_fields = (
        "endpoint",
        "event",
        "event_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "delivered_at",
        "created_at",
        "last_error",
        "payload_display",
    )
    actions = ["replay", "deliver_now"]

    @admin.display(description=_("payload"))
    def payload_display(self, obj: WebhookDelivery) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True, default=str)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing to save: every field is read-only."""

    def _failed(self, request: HttpRequest, delivery: WebhookDelivery, exc: Exception) -> None:
        message = getattr(exc, "message", str(exc))
        self.message_user(request, f"#{delivery.pk} {delivery.event}: {message}", messages.ERROR)

    @admin.action(description=_("Replay"), permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        """Send the selected delivered, failed or cancelled deliveries again (pending
        ones are reported and left alone)."""
        done = 0
        for delivery in queryset.select_related("endpoint"):
            try:
                webhooks.replay(delivery, by=request.user)
            except ReferralRewardsError as exc:
                self._failed(request, delivery, exc)
                continue
            self.log_change(request, delivery, str(_("Replayed.")))
            done += 1
        if done:
            self.message_user(
                request,
                ngettext(
                    "Queued %(n)d delivery to be sent again.",
                    "Queued %(n)d deliveries to be sent again.",
                    done,
                )
                % {"n": done},
                messages.SUCCESS,
            )

    @admin.action(description=_("Deliver now"), permissions=["change"])
    def deliver_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        """Try the selected pending deliveries at once (the page waits for the
        receivers) and report how each went."""
        outcome: dict[str, int] = {}
        for delivery in queryset:
            try:
                webhooks.deliver(delivery)
            except ReferralRewardsError as exc:
                self._failed(request, delivery, exc)
                continue
            outcome[delivery.status] = outcome.get(delivery.status, 0) + 1
        labels = dict(WebhookDeliveryStatus.choices)
        for status, count in outcome.items():
            level = (
                messages.SUCCESS if status == WebhookDeliveryStatus.DELIVERED else messages.WARNING
            )
            self.message_user(
                request,
                _("%(status)s: %(n)d.") % {"status": labels[status], "n": count},
                level,
            )
