"""Inbound signals: the package's own, and a host's own signals named in settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.checks import run_checks
from django.dispatch import Signal
from django.test import override_settings

from django_referral_rewards import signals, testing
from django_referral_rewards.adapter import EventAdapter
from django_referral_rewards.conf import app_settings
from django_referral_rewards.exceptions import CodeNotFound, ConfigurationError
from django_referral_rewards.models import Order, Referral
from django_referral_rewards.services import codes

# A host's own signals (module-level, as settings name them by import string).
order_paid = Signal()
user_registered = Signal()
service_live = Signal()
refund_issued = Signal()
NOT_A_SIGNAL = object()


class ShopEvents(EventAdapter):
    """Maps the shop's argument names to the package's."""

    def order_completed(self, sender: Any, **kwargs: Any) -> dict[str, Any] | None:
        if kwargs.get("test_order"):
            return None
        return {"user": kwargs["customer"], "order_id": kwargs["number"], "amount": kwargs["total"]}


HOST_SETTINGS = {
    "REFERRAL_REWARDS_SIGNUP_SIGNAL": "tests.test_inbound_signals.user_registered",
    "REFERRAL_REWARDS_ACTIVATION_SIGNAL": "tests.test_inbound_signals.service_live",
    "REFERRAL_REWARDS_ORDER_COMPLETED_SIGNAL": "tests.test_inbound_signals.order_paid",
    "REFERRAL_REWARDS_ORDER_REFUNDED_SIGNAL": "tests.test_inbound_signals.refund_issued",
    "REFERRAL_REWARDS_EVENT_ADAPTER": "tests.test_inbound_signals.ShopEvents",
}


@pytest.mark.django_db
def test_the_packages_own_inbound_signals(program):
    code = codes.get_or_create_personal_code(testing.make_user())
    newcomer = testing.make_user()
    ((_, referral),) = signals.customer_signed_up.send(sender=None, user=newcomer, code=code.code)
    assert isinstance(referral, Referral)
    ((_, outcome),) = signals.order_completed.send(
        sender=None, user=newcomer, order_id="A1", amount=Decimal(10)
    )
    assert outcome.converted is True
    ((_, same),) = signals.customer_activated.send(sender=None, user=newcomer)
    assert same.pk == referral.pk
    ((_, refund),) = signals.order_refunded.send(sender=None, user=newcomer, order_id="A1")
    assert refund.amount == Decimal(10)


@pytest.mark.django_db
def test_errors_reach_the_sender(program):
    with pytest.raises(CodeNotFound):
        signals.customer_signed_up.send(sender=None, user=testing.make_user(), code="NOPE")


@pytest.mark.django_db
def test_host_signals_named_in_settings(program):
    with override_settings(**HOST_SETTINGS):
        code = codes.get_or_create_personal_code(testing.make_user())
        newcomer = testing.make_user()
        # The default adapter passes through the arguments the event takes.
        user_registered.send(sender=None, user=newcomer, code=code.code, extra="ignored")
        assert Referral.objects.filter(referred__member__user=newcomer).exists()
        # The subclass maps the shop's names.
        order_paid.send(sender=None, customer=newcomer, number="S-1", total=Decimal(25))
        order_paid.send(sender=None, customer=newcomer, number="T-1", total=1, test_order=True)
        assert list(Order.objects.values_list("order_id", flat=True)) == ["S-1"]
        service_live.send(sender=None, user=newcomer)
        refund_issued.send(sender=None, user=newcomer, order_id="S-1")
        assert Order.objects.get().fully_refunded
    # Disconnected again once the settings are gone.
    order_paid.send(sender=None, customer=newcomer, number="S-2", total=Decimal(25))
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tests.test_inbound_signals.NOT_A_SIGNAL", "must name a django.dispatch.Signal"),
        ("tests.nowhere.order_paid", "could not be imported"),
    ],
)
def test_bad_host_signal_settings_are_reported(value, message):
    with override_settings(REFERRAL_REWARDS_ORDER_COMPLETED_SIGNAL=value):
        with pytest.raises(ConfigurationError, match=message):
            app_settings.host_signals()
        errors = [e for e in run_checks() if e.id == "referral_rewards.E003"]
        assert len(errors) == 1 and message in errors[0].msg


def test_bad_policy_setting_is_reported():
    with override_settings(REFERRAL_REWARDS_REWARD_POLICY="tests.test_inbound_signals.ShopEvents"):
        errors = [e for e in run_checks() if e.id == "referral_rewards.E001"]
        assert errors and "RewardPolicy" in errors[0].hint
