"""Commission payouts and their history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..enums import PayoutAction, PayoutMethod, PayoutStatus
from .base import AbstractStep, money_field_kwargs


def _user_fk(verbose_name: Any) -> Any:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=verbose_name,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )


class AbstractPayout(models.Model):
    """A member's request to be paid commission, and its way to being paid.

    The amount is taken from the commission balance when the payout is requested (the
    ``reserve_entry``, a ``payout`` ledger entry), so two requests can never pay out the
    same commission; cancelling gives it back (``return_entry``, its reversal). An
    account-credit payout adds the amount to the account's credit balance when it is
    paid (``credit_entry``). Every step is recorded in its history (``events``).
    """

    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="payouts",
    )
    account = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="payouts",
    )
    amount = models.DecimalField(
        _("amount"),
        validators=[MinValueValidator(Decimal("0.0001"))],
        editable=False,
        **money_field_kwargs,
    )
    currency = models.CharField(_("currency"), max_length=3, editable=False)
    method = models.CharField(
        _("method"), max_length=20, choices=PayoutMethod.choices, editable=False
    )
    destination = models.CharField(
        _("pay to"),
        max_length=255,
        blank=True,
        help_text=_("Where to send it: an account number, a postal address for a cheque..."),
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=PayoutStatus.choices,
        default=PayoutStatus.PENDING,
        editable=False,
    )
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=200, null=True, blank=True, unique=True, editable=False
    )
    reserve_entry = models.OneToOneField(
        "referral_rewards.LedgerEntry",
        verbose_name=_("commission taken"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    return_entry = models.OneToOneField(
        "referral_rewards.LedgerEntry",
        verbose_name=_("commission returned"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    credit_entry = models.OneToOneField(
        "referral_rewards.LedgerEntry",
        verbose_name=_("credit given"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    requested_by = _user_fk(_("requested by"))
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now, editable=False)
    approved_by = _user_fk(_("approved by"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True, editable=False)
    paid_by = _user_fk(_("marked paid by"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True, editable=False)
    external_reference = models.CharField(
        _("payment reference"),
        max_length=200,
        blank=True,
        editable=False,
        help_text=_("The bank's or payment provider's reference for the payment."),
    )
    reason = models.CharField(_("reason cancelled"), max_length=255, blank=True, editable=False)
    attempts = models.PositiveIntegerField(_("sending attempts"), default=0, editable=False)
    last_error = models.TextField(_("last sending error"), blank=True, editable=False)
    submitted_at = models.DateTimeField(_("last sent at"), null=True, blank=True, editable=False)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        abstract = True
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        ordering = ["-requested_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "requested_at"], name="referral_rew_payout_status"),
            models.Index(fields=["account", "status"], name="referral_rew_payout_account"),
        ]

    def __str__(self) -> str:
        amount = self.amount
        if amount == amount.quantize(Decimal("0.01")):
            amount = amount.quantize(Decimal("0.01"))
        return f"{amount} {self.currency} → {self.account}"

    @property
    def submission_key(self) -> str:
        """The key a payout backend receives with every attempt to send this payout, so
        that a retry after a crash can never pay twice."""
        return f"referral-rewards-payout-{self.pk}"


class AbstractPayoutEvent(AbstractStep):
    """One step in a payout's history (requested, approved, paid, ...)."""

    payout = models.ForeignKey(
        "referral_rewards.Payout",
        verbose_name=_("payout"),
        on_delete=models.CASCADE,
        related_name="events",
    )
    action = models.CharField(_("action"), max_length=10, choices=PayoutAction.choices)
    status = models.CharField(_("status after"), max_length=12, choices=PayoutStatus.choices)

    class Meta(AbstractStep.Meta):
        abstract = True
        verbose_name = _("payout history entry")
        verbose_name_plural = _("payout history")
