"""Fraud signals, the decisions taken on them, and the traces they match against."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..conf import get_member_model_string
from ..enums import FraudAction, FraudStage, TraceKind
from ..exceptions import DecisionImmutable


class AbstractFraudSignal(models.Model):
    """One thing a fraud check noticed about a referral: its name, score and reason.

    ``evidence`` is the keyed hash of what matched (an IP address, a device, an
    e-mail address), never the value itself; it lets staff find other referrals with
    the same evidence. Signals older than ``REFERRAL_REWARDS_RETENTION_DAYS`` are
    purged (the decision keeps their names, scores and reasons).
    """

    referral = models.ForeignKey(
        "referral_rewards.Referral",
        verbose_name=_("referral"),
        on_delete=models.CASCADE,
        related_name="fraud_signals",
    )
    stage = models.CharField(_("stage"), max_length=10, choices=FraudStage.choices)
    name = models.CharField(_("check"), max_length=64)
    score = models.PositiveIntegerField(_("score"))
    reason = models.CharField(_("reason"), max_length=255)
    evidence = models.CharField(_("evidence (hashed)"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("fraud signal")
        verbose_name_plural = _("fraud signals")
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["created_at"], name="referral_rew_signal_at"),
            models.Index(fields=["evidence"], name="referral_rew_signal_evidence"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.score})"


class AbstractFraudDecision(models.Model):
    """A decision on a referral's fraud signals: the checks' own (flagged for review,
    blocked, or noted), a staff member's, or the review deadline's (``decided_by``
    empty, ``automatic`` set). Append-only: the audit trail of every fraud decision,
    with the score and the signals it was taken on (names, scores and reasons, no
    personal data), who decided and when."""

    referral = models.ForeignKey(
        "referral_rewards.Referral",
        verbose_name=_("referral"),
        on_delete=models.CASCADE,
        related_name="fraud_decisions",
    )
    action = models.CharField(_("decision"), max_length=10, choices=FraudAction.choices)
    stage = models.CharField(_("stage"), max_length=10, choices=FraudStage.choices, blank=True)
    score = models.PositiveIntegerField(_("score"), default=0)
    signals = models.JSONField(_("signals"), default=list, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    automatic = models.BooleanField(
        _("automatic"),
        default=False,
        help_text=_("Taken by the checks or by the review deadline, not by a person."),
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("fraud decision")
        verbose_name_plural = _("fraud decisions")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.score})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise DecisionImmutable()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise DecisionImmutable()


class AbstractTrace(models.Model):
    """Where a member has been seen from: a keyed hash of an IP address or of a device
    cookie, with when it was first and last seen. Fraud checks compare a new customer's
    sign-up against their referrer's traces (same device, same network). Recorded at
    sign-up and log-in; purged once not seen for ``REFERRAL_REWARDS_RETENTION_DAYS``."""

    member = models.ForeignKey(
        get_member_model_string(),
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="referral_traces",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=TraceKind.choices)
    value_hash = models.CharField(_("value (hashed)"), max_length=64)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("trace")
        verbose_name_plural = _("traces")
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind", "value_hash"], name="referral_rewards_trace_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["last_seen"], name="referral_rew_trace_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value_hash[:8]}…"
