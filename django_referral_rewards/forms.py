"""Forms shared by the admin and the portal."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .adapter import user_display_name
from .assigners import open_redemption_load
from .enums import VOUCHER_REWARD_KINDS, PayoutMethod, RewardKind, Unit
from .models import Account, RewardOption
from .policies import MAX_DAYS, value_error
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


#: Kinds staff may grant by hand: a percentage commission needs an order.
MANUAL_REWARD_KINDS = [
    (value, label) for value, label in RewardKind.choices if value != RewardKind.COMMISSION_PERCENT
]


class ReasonForm(forms.Form):
    """The reason staff give for an action that takes something away (revoking a
    reward, rejecting a referral). It is recorded with their name."""

    reason = forms.CharField(label=_("Reason"), max_length=255, strip=True)


class GrantRewardForm(forms.Form):
    """A reward granted by hand (goodwill, a correction), for
    :func:`~django_referral_rewards.services.rewards.grant_reward`.

    ``with_account=False`` drops the account field, for granting the same reward to
    several accounts chosen elsewhere (the account admin's action).
    """

    account = forms.ModelChoiceField(
        label=_("Account"),
        queryset=Account.objects.select_related("member", "program"),
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=MANUAL_REWARD_KINDS, initial=RewardKind.POINTS
    )
    value = forms.DecimalField(
        label=_("Value"),
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=4,
        help_text=_(
            "Whole points; an amount of the program currency (credit, commission, fixed "
            "voucher); or a percentage (percent voucher). For free item and free period "
            "vouchers, the largest discount (0: the whole order)."
        ),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("Recorded with your name, and shown in the member's history."),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=255,
        required=False,
        help_text=_("Shown to the member, e.g. the free item or 'one month of service'."),
    )
    hold_days = forms.IntegerField(
        label=_("Hold (days)"),
        min_value=0,
        max_value=MAX_DAYS,
        initial=0,
        required=False,
        help_text=_("0 or empty: released at once. Held rewards are not spendable yet."),
    )
    voucher_valid_days = forms.IntegerField(
        label=_("Voucher valid for (days)"),
        min_value=1,
        max_value=MAX_DAYS,
        required=False,
        help_text=_("Vouchers only. Empty: the voucher never expires."),
    )
    #: Makes a double-submitted form act once (the grant's idempotency key).
    token = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex)

    def __init__(self, *args: Any, with_account: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not with_account:
            del self.fields["account"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, value = data.get("kind"), data.get("value")
        if kind and value is not None:
            account = data.get("account")
            problem = value_error(kind, value, account.program if account else None)
            if problem:
                self.add_error("value", problem)
        if data.get("voucher_valid_days") and kind and kind not in VOUCHER_REWARD_KINDS:
            self.add_error("voucher_valid_days", _("Only vouchers have a validity."))
        data["hold_days"] = data.get("hold_days") or 0
        return data


class StaffUserChoiceField(forms.ModelChoiceField):
    """A staff user, shown with the number of open redemptions already assigned."""

    def label_from_instance(self, obj: Any) -> str:
        name = user_display_name(obj)
        load = getattr(obj, "open_redemptions", None)
        if load is None:
            return name
        return ngettext(
            "%(name)s (%(n)d open redemption)", "%(name)s (%(n)d open redemptions)", load
        ) % {"name": name, "n": load}


class AssignRedemptionForm(forms.Form):
    """Who fulfils a redemption: an active staff user, or nobody chosen (the configured
    assigner picks, e.g. the least loaded member of the fulfilment group)."""

    user = StaffUserChoiceField(
        label=_("Assign to"),
        queryset=None,  # set in __init__: read when the form is made, not at import
        required=False,
        empty_label=_("Choose automatically"),
        help_text=_(
            "Empty: chosen automatically among the fulfilment staff (the least loaded "
            "by default). They are notified."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        users = get_user_model()._default_manager.filter(is_active=True, is_staff=True)
        field = self.fields["user"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = users.annotate(open_redemptions=open_redemption_load()).order_by(
            get_user_model().USERNAME_FIELD
        )


class FulfilRedemptionForm(forms.Form):
    """What staff record when they fulfil a redemption: notes, and the host object it
    was applied to (a repair, an invoice), as a type and an id."""

    notes = forms.CharField(
        label=_("Fulfilment notes"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    applied_to_type = forms.CharField(
        label=_("Applied to (type)"),
        max_length=100,
        required=False,
        help_text=_("What it was applied to, e.g. repair or invoice."),
    )
    applied_to_id = forms.CharField(
        label=_("Applied to (id)"),
        max_length=100,
        required=False,
        help_text=_("Its number, e.g. the repair number."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, ident = data.get("applied_to_type"), data.get("applied_to_id")
        if kind and not ident:
            self.add_error("applied_to_id", _("Give the id of what it was applied to."))
        elif ident and not kind:
            self.add_error("applied_to_type", _("Give the type of what it was applied to."))
        data["applied_to"] = (kind, ident) if kind and ident else None
        return data


class OptionChoiceField(forms.ModelChoiceField):
    """A catalog option, shown with its program and cost."""

    def label_from_instance(self, obj: Any) -> str:
        return ngettext(
            "%(program)s: %(name)s (%(n)d point)",
            "%(program)s: %(name)s (%(n)d points)",
            obj.points_cost,
        ) % {"program": obj.program, "name": obj.name, "n": obj.points_cost}


class RequestRedemptionForm(forms.Form):
    """Staff redeeming a member's points for them (at the counter, on the phone), for
    :func:`~django_referral_rewards.services.redemptions.request_redemption`."""

    account = forms.ModelChoiceField(
        label=_("Account"),
        queryset=Account.objects.select_related("member", "program"),
    )
    option = OptionChoiceField(
        label=_("Reward"),
        queryset=RewardOption.objects.filter(active=True).select_related("program"),
    )
    #: Makes a double-submitted form act once (the redemption's idempotency key).
    token = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        account, option = data.get("account"), data.get("option")
        if account is not None and option is not None and option.program_id != account.program_id:
            self.add_error("option", _("This reward belongs to another program than the account."))
        return data


class RequestPayoutForm(forms.Form):
    """Staff asking for a payout of a member's commission for them, for
    :func:`~django_referral_rewards.services.payouts.request_payout`."""

    account = forms.ModelChoiceField(
        label=_("Account"),
        queryset=Account.objects.select_related("member", "program"),
    )
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=14,
        decimal_places=4,
        help_text=_(
            "In the program's currency. It is taken from the member's commission balance "
            "now, and given back if the payout is cancelled."
        ),
    )
    method = forms.ChoiceField(
        label=_("Method"), choices=PayoutMethod.choices, initial=PayoutMethod.BANK_TRANSFER
    )
    destination = forms.CharField(
        label=_("Pay to"),
        max_length=255,
        required=False,
        help_text=_("Where to send it: an account number, a postal address for a cheque..."),
    )
    #: Makes a double-submitted form act once (the payout's idempotency key).
    token = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex)


class MarkPaidForm(forms.Form):
    """What staff record when they have paid payouts outside this system."""

    reference = forms.CharField(
        label=_("Payment reference"),
        max_length=200,
        required=False,
        help_text=_("The bank's reference for the transfer or batch, the cheque number..."),
    )
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


class DateRangeForm(forms.Form):
    """A date range, both ends optional and included (reports)."""

    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: datetime.date | None = data.get("start")
        end: datetime.date | None = data.get("end")
        if start is not None and end is not None and start > end:
            self.add_error("end", _("The end date is before the start date."))
        return data


class PartnerBalancesForm(DateRangeForm):
    """The partner balances report: a date range, and whether to list inactive
    partners too."""

    include_inactive = forms.BooleanField(label=_("Include inactive partners"), required=False)
