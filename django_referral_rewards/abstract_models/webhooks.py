"""Outbound webhooks: the endpoints staff register, the outbox of deliveries written in
the same transaction as each event, and every attempt to deliver one."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from model_utils.models import TimeStampedModel

from ..enums import WebhookDeliveryStatus


def generate_webhook_secret() -> str:
    """A new signing secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


class AbstractWebhookEndpoint(TimeStampedModel):
    """A URL that receives the package's events as signed ``POST`` requests.

    ``events`` lists the event names it wants (the outbound signals, such as
    ``referral_converted``); empty means every event. ``program`` limits it to the
    events about one program; empty means every program. Only ``active`` endpoints get
    new deliveries, and deactivating one cancels its pending deliveries."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(
        _("URL"),
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("Where the events are POSTed (http or https)."),
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=200,
        default=generate_webhook_secret,
        help_text=_(
            "Shared with the receiver, which checks the Referral-Rewards-Signature header with it."
        ),
    )
    events = models.JSONField(
        _("events"),
        default=list,
        blank=True,
        help_text=_("The events sent to this endpoint; none selected means every event."),
    )
    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        help_text=_("Only events about this program; empty means every program."),
    )
    active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        abstract = True
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name or self.url

    def clean(self) -> None:
        from ..signals import OUTBOUND_SIGNALS

        events = self.events
        if not isinstance(events, list) or not all(isinstance(name, str) for name in events):
            raise ValidationError({"events": _("Give a list of event names.")})
        unknown = sorted(set(events) - set(OUTBOUND_SIGNALS))
        if unknown:
            raise ValidationError(
                {"events": _("Unknown events: %(names)s.") % {"names": ", ".join(unknown)}}
            )

    def wants(self, event: str, program_id: Any) -> bool:
        """Whether this endpoint subscribes to ``event`` about the program ``program_id``."""
        return (not self.events or event in self.events) and (
            self.program_id is None or self.program_id == program_id
        )


class AbstractWebhookDelivery(models.Model):
    """One event for one endpoint: the outbox row. Written in the same transaction as
    the change the event is about (so it exists exactly when the change does) and
    delivered after commit, with retries; ``event_id`` is the same for every endpoint
    of one event and, with the endpoint, unique (the receiver's dedupe key).
    ``next_attempt_at`` is when the next attempt is due (also the lease of a worker
    that is sending it); empty once the delivery is settled."""

    endpoint = models.ForeignKey(
        "referral_rewards.WebhookEndpoint",
        verbose_name=_("endpoint"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        # No database constraint: an event may be recorded for an endpoint deleted a
        # moment ago (the cached endpoint list of another process), and that must never
        # fail the host's commit; such a delivery is cancelled when it is claimed.
        db_constraint=False,
    )
    event = models.CharField(_("event"), max_length=50)
    event_id = models.UUIDField(_("event id"))
    payload = models.JSONField(_("payload"), encoder=DjangoJSONEncoder)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        abstract = True
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="referral_rew_webhook_once"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="referral_rew_webhook_due"),
            models.Index(fields=["created_at"], name="referral_rew_webhook_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.event_id})"


class AbstractWebhookAttempt(models.Model):
    """One try at a delivery: when, the HTTP status (empty when there was no answer:
    a refused connection, a timeout), how long it took, the error, and the start of
    the response body."""

    delivery = models.ForeignKey(
        "referral_rewards.WebhookDelivery",
        verbose_name=_("delivery"),
        on_delete=models.CASCADE,
        related_name="attempt_log",
    )
    number = models.PositiveIntegerField(_("attempt"))
    at = models.DateTimeField(_("at"), default=timezone.now)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    error = models.TextField(_("error"), blank=True)
    response = models.CharField(_("response excerpt"), max_length=1000, blank=True)

    class Meta:
        abstract = True
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="referral_rew_webhook_attempt_no"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error[:40]}"
