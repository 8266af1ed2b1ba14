"""The shop's forms. The referral code is checked in ``clean`` so that a bad code is a
form error and no user is created; the view still catches the package's errors when it
sends the event (the code may run out between the check and the sign-up)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from django_referral_rewards.exceptions import CodeError
from django_referral_rewards.services.codes import validate_code

from . import catalog


class SignUpForm(UserCreationForm):
    email = forms.EmailField(label="E-mail")
    referral_code = forms.CharField(
        label="Referral code",
        required=False,
        max_length=40,
        help_text="Optional: the code of the friend who invited you.",
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")

    def clean_referral_code(self) -> str:
        code = self.cleaned_data["referral_code"].strip()
        if code:
            try:
                validate_code(code)
            except CodeError as exc:
                raise forms.ValidationError(exc.message, code=exc.code) from exc
        return code


class CheckoutForm(forms.Form):
    product = forms.ChoiceField(choices=catalog.choices)
    voucher_code = forms.CharField(
        label="Voucher code",
        required=False,
        max_length=40,
        help_text="Optional: a voucher from your rewards page.",
    )

    def clean_voucher_code(self) -> str:
        return self.cleaned_data["voucher_code"].strip()
