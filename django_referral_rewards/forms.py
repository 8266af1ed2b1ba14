"""Forms shared by the admin and the portal."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .enums import Unit
from .services.ledger import MAX_AMOUNT


class AdjustBalanceForm(forms.Form):
    """A staff correction of one or more accounts' balance."""

    unit = forms.ChoiceField(label=_("Unit"), choices=Unit.choices, initial=Unit.POINTS)
    amount = forms.IntegerField(
        label=_("Amount"),
        min_value=-MAX_AMOUNT,
        max_value=MAX_AMOUNT,
        help_text=_(
            "Positive to add, negative to remove. Whole points, or minor currency units "
            "(cents) for credit and commission."
        ),
    )
    reason = forms.CharField(label=_("Reason"), max_length=255)
    expires_at = forms.DateTimeField(
        label=_("Expires at"),
        required=False,
        help_text=_("Only for additions. Empty: never expires."),
    )
    #: Makes a double-submitted form act once (the ledger's idempotency key).
    token = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex)

    def clean_amount(self) -> int:
        amount: int = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("The amount cannot be zero."))
        return amount

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("expires_at") and (data.get("amount") or 0) < 0:
            self.add_error("expires_at", _("Only additions can have an expiry date."))
        return data
