"""The member portal's forms: redeeming a reward, cancelling a redemption or a payout,
asking for a payout and the leaderboard opt-in.

Forms that start an operation carry a hidden one-time ``token`` (a UUID made when the
page is shown). The view turns it into the service's idempotency key, so a form sent
twice (a double click, a reload after a slow answer) acts once.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ...enums import PayoutMethod
from ...models import Program

#: Longest reason a member may give when cancelling (the services keep 255 characters).
MAX_REASON = 255
#: Longest payout destination (``Payout.destination``).
MAX_DESTINATION = 255
#: Longest leaderboard name (``Account.leaderboard_name``).
MAX_LEADERBOARD_NAME = 40
#: Payout methods that need to know where to send the money.
METHODS_NEEDING_DESTINATION = (PayoutMethod.BANK_TRANSFER, PayoutMethod.CHEQUE)

#: What a leaderboard name may not contain: a web address or an e-mail address (the
#: leaderboard is not a place to advertise, nor to publish contact details).
_LINK_OR_EMAIL = re.compile(
    r"""(
        [a-z][a-z0-9+.-]*://                 # a URL scheme: http://, ftp://
      | \bwww\.                              # www.example
      | \S@\S+\.\S                           # an e-mail address
      | \b[a-z0-9-]+\.(?:com|net|org|info|biz|io|co|me|ly|app|xyz|shop|site|online|link)\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def new_token() -> str:
    """A fresh one-time form token."""
    return uuid.uuid4().hex


class TokenField(forms.CharField):
    """The hidden one-time token: a UUID (any of its usual spellings), cleaned to its
    32 hex digits."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("initial", new_token)
        kwargs.setdefault("max_length", 64)
        expired = _("This form has expired. Please load the page again.")
        kwargs.setdefault("error_messages", {"required": expired, "max_length": expired})
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        try:
            return uuid.UUID(text).hex
        except ValueError:
            raise forms.ValidationError(
                _("This form has expired. Please load the page again."), code="token"
            ) from None


class PortalForm(forms.Form):
    """A portal form: labels without a trailing colon (the field's label is its name)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class OneTimeForm(PortalForm):
    """A form whose hidden ``token`` makes a double submission act once."""

    token = TokenField()

    def idempotency_key(self, member: Any) -> str:
        """The service idempotency key of this submission by ``member``."""
        return f"portal:{member.pk}:{self.cleaned_data['token']}"

    def renew_token(self) -> None:
        """Give a bound form a fresh token (after its token was used for something
        else: the next submission must be a new operation)."""
        data = QueryDict(mutable=True)
        data.update(self.data)
        data[self.add_prefix("token")] = new_token()
        self.data = data


class RedeemForm(OneTimeForm):
    """Confirm a redemption: only the token; the option is in the URL."""


class CancelForm(PortalForm):
    """Cancel a redemption or a payout, optionally saying why."""

    reason = forms.CharField(
        label=_("Reason (optional)"),
        max_length=MAX_REASON,
        required=False,
        widget=forms.TextInput,
    )


class PayoutRequestForm(OneTimeForm):
    """Ask for commission to be paid out. ``program`` gives the currency (its decimal
    places) the amount is checked against."""

    #: The largest amount the database stores (10 digits before the decimal point).
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, max_value=Decimal("9999999999"))
    method = forms.ChoiceField(label=_("Method"), choices=PayoutMethod.choices)
    destination = forms.CharField(
        label=_("Pay to"),
        max_length=MAX_DESTINATION,
        required=False,
        help_text=_(
            "The account number (IBAN) for a bank transfer, or the postal address for a "
            "cheque. Not needed for cash or account credit."
        ),
    )

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.program = program
        places = program.currency_decimal_places
        amount = self.fields["amount"]
        amount.widget.attrs.update(
            {
                "inputmode": "decimal" if places else "numeric",
                "step": str(Decimal(1).scaleb(-places)) if places else "1",
                "min": "0",
            }
        )
        amount.help_text = _("In %(currency)s.") % {"currency": program.currency}

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError(_("Enter an amount above zero."), code="min_value")
        places = self.program.currency_decimal_places
        exponent = amount.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            if places == 0:
                message = _("Enter a whole amount: %(currency)s has no decimal places.") % {
                    "currency": self.program.currency
                }
            else:
                message = ngettext(
                    "Use at most %(places)d decimal place for %(currency)s.",
                    "Use at most %(places)d decimal places for %(currency)s.",
                    places,
                ) % {"places": places, "currency": self.program.currency}
            raise forms.ValidationError(message, code="decimal_places")
        return amount

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("method") in METHODS_NEEDING_DESTINATION and not data.get("destination"):
            self.add_error(
                "destination",
                forms.ValidationError(
                    _("Say where to send a %(method)s.")
                    % {"method": PayoutMethod(data["method"]).label.lower()},
                    code="required",
                ),
            )
        return data


class LeaderboardForm(PortalForm):
    """Whether (and as whom) the member is shown to others on the leaderboard."""

    show_on_leaderboard = forms.BooleanField(label=_("Show me on the leaderboard"), required=False)
    leaderboard_name = forms.CharField(
        label=_("Leaderboard name"),
        max_length=MAX_LEADERBOARD_NAME,
        required=False,
        help_text=_(
            "The name other members see next to your results. Not your e-mail address or a link."
        ),
    )

    def clean_leaderboard_name(self) -> str:
        # CharField strips surrounding whitespace: a name of spaces arrives empty.
        name: str = " ".join(self.cleaned_data["leaderboard_name"].split())
        if _LINK_OR_EMAIL.search(name):
            raise forms.ValidationError(
                _("Choose a name without a web or e-mail address."), code="link"
            )
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("show_on_leaderboard")
            and not data.get("leaderboard_name")
            and "leaderboard_name" not in self.errors
        ):
            self.add_error(
                "leaderboard_name",
                forms.ValidationError(
                    _("Choose the name to show, or untick the box."), code="required"
                ),
            )
        return data
