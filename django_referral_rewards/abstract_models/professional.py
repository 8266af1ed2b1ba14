"""Professional referrals: patients or customers sent to and received from partner
clinics and specialists. Kept apart from customer referrals: nobody earns rewards."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from model_utils.models import TimeStampedModel

from ..enums import PartnerKind, ReferralDirection


class AbstractPartner(TimeStampedModel):
    """A clinic or specialist this site exchanges professional referrals with."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=20, choices=PartnerKind.choices, default=PartnerKind.CLINIC
    )
    specialty = models.CharField(
        _("specialty"), max_length=100, blank=True, help_text=_("E.g. oncology, cardiology.")
    )
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    address = models.TextField(_("address"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        abstract = True
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        if self.specialty:
            return f"{self.name} ({self.specialty})"
        return self.name


class AbstractProfessionalReferral(models.Model):
    """One patient or customer referred to a partner (``sent``) or by one
    (``received``)."""

    partner = models.ForeignKey(
        "referral_rewards.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        related_name="referrals",
    )
    direction = models.CharField(_("direction"), max_length=10, choices=ReferralDirection.choices)
    date = models.DateField(_("date"), default=timezone.localdate)
    reference = models.CharField(
        _("patient or customer"),
        max_length=200,
        blank=True,
        help_text=_("Your reference for who was referred (a patient or customer number)."),
    )
    reason = models.CharField(
        _("reason"), max_length=200, blank=True, help_text=_("What they were referred for.")
    )
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now, editable=False)

    class Meta:
        abstract = True
        verbose_name = _("professional referral")
        verbose_name_plural = _("professional referrals")
        ordering = ["-date", "-pk"]
        indexes = [
            models.Index(fields=["partner", "date"], name="referral_rew_proref_partner"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()}: {self.partner} ({self.date})"
