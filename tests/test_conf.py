"""Settings object and system checks."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_referral_rewards import conf
from django_referral_rewards.adapter import MemberAdapter
from django_referral_rewards.conf import app_settings, import_setting
from django_referral_rewards.exceptions import ConfigurationError

# Django 6.1's model checks open a connection (the JSONField check on SQLite).
pytestmark = pytest.mark.django_db


class CustomAdapter(MemberAdapter):
    pass


class NotAnAdapter:
    pass


def check_ids() -> list[str]:
    return [message.id for message in run_checks()]


def test_defaults():
    assert app_settings.DEFAULT_PROGRAM == "default"
    assert app_settings.DEFAULT_CURRENCY == "USD"
    assert app_settings.SWEEP_BATCH_SIZE == 500
    assert isinstance(app_settings.member_adapter(), MemberAdapter)


def test_settings_are_read_lazily():
    with override_settings(
        REFERRAL_REWARDS_DEFAULT_PROGRAM="shop", REFERRAL_REWARDS_DEFAULT_CURRENCY="eur"
    ):
        assert app_settings.DEFAULT_PROGRAM == "shop"
        assert app_settings.DEFAULT_CURRENCY == "EUR"
    assert app_settings.DEFAULT_PROGRAM == "default"


def test_import_string_settings_resolve_and_reset_when_changed():
    with override_settings(REFERRAL_REWARDS_MEMBER_ADAPTER="tests.test_conf.CustomAdapter"):
        assert import_setting("MEMBER_ADAPTER", MemberAdapter) is CustomAdapter
    assert import_setting("MEMBER_ADAPTER", MemberAdapter) is MemberAdapter


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tests.test_conf.Missing", "could not be imported"),
        ("tests.test_conf.NotAnAdapter", "subclass"),
    ],
)
def test_bad_import_strings_fail_the_checks_with_the_setting_name(path, message):
    with override_settings(REFERRAL_REWARDS_MEMBER_ADAPTER=path):
        with pytest.raises(ConfigurationError, match=message) as info:
            app_settings.member_adapter()
        assert "REFERRAL_REWARDS_MEMBER_ADAPTER" in str(info.value)
        assert "referral_rewards.E001" in check_ids()
    assert "referral_rewards.E001" not in check_ids()


def test_unknown_settings_are_warned_about_with_a_suggestion():
    with override_settings(REFERRAL_REWARDS_DEFAULT_PROGRAMME="x"):
        messages = [m for m in run_checks() if m.id == "referral_rewards.W001"]
    assert len(messages) == 1
    assert "REFERRAL_REWARDS_DEFAULT_PROGRAMME" in messages[0].msg
    assert messages[0].hint == "Did you mean REFERRAL_REWARDS_DEFAULT_PROGRAM?"
    with override_settings(REFERRAL_REWARDS_ZZZ=1):
        (message,) = [m for m in run_checks() if m.id == "referral_rewards.W001"]
        assert message.hint == "See the settings reference."


def test_bad_batch_size_fails_the_checks():
    with override_settings(REFERRAL_REWARDS_SWEEP_BATCH_SIZE=0):
        assert "referral_rewards.E002" in check_ids()
    with override_settings(REFERRAL_REWARDS_SWEEP_BATCH_SIZE="many"):
        assert "referral_rewards.E002" in check_ids()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("API_PAGE_SIZE", 0, "API_PAGE_SIZE must be a whole number from 1 to 100"),
        ("API_PAGE_SIZE", 101, "API_PAGE_SIZE must be a whole number from 1 to 100"),
        ("API_IDEMPOTENCY_RETENTION_HOURS", 0, "must be a whole number of hours"),
        ("SIGNATURE_TOLERANCE", True, "must be a whole number of seconds"),
        ("API_HOST_KEYS", ["key"], "must be a dict of name -> key"),
        ("API_HOST_KEYS", {"shop": "short"}, "API_HOST_KEYS['shop'] must be a string of at"),
        ("API_HOST_KEYS", {"": "k" * 32}, "every name must be a string of 1 to 40"),
        ("API_AUTHENTICATION_CLASSES", "a.b", "must be a list of import strings"),
        ("API_AUTHENTICATION_CLASSES", ["no.such.Auth"], "cannot import 'no.such.Auth'"),
    ],
)
def test_bad_api_settings_fail_the_checks_with_the_setting_name(name, value, message):
    with override_settings(**{conf.PREFIX + name: value}):
        errors = [m for m in run_checks() if m.id == "referral_rewards.E007"]
    assert len(errors) == 1 and message in errors[0].msg


def test_point_value_setting():
    assert app_settings.POINT_VALUE is None
    with override_settings(REFERRAL_REWARDS_POINT_VALUE="0.01"):
        assert str(app_settings.POINT_VALUE) == "0.01"
    for bad in ("lots", -1, 1.5, True, "NaN"):
        with (
            override_settings(REFERRAL_REWARDS_POINT_VALUE=bad),
            pytest.raises(ConfigurationError, match="POINT_VALUE must be a decimal amount"),
        ):
            app_settings.POINT_VALUE  # noqa: B018
    with override_settings(REFERRAL_REWARDS_POINT_VALUE="lots"):
        assert "referral_rewards.E002" in check_ids()


def test_api_settings_defaults_and_values():
    assert app_settings.API_AUTHENTICATION_CLASSES is None
    assert (app_settings.API_PAGE_SIZE, app_settings.API_IDEMPOTENCY_RETENTION_HOURS) == (25, 24)
    assert (app_settings.API_HOST_KEYS, app_settings.SIGNATURE_TOLERANCE) == ({}, 300)
    with override_settings(
        REFERRAL_REWARDS_API_AUTHENTICATION_CLASSES=["x.Auth"],
        REFERRAL_REWARDS_API_HOST_KEYS={"shop": "k" * 32},
    ):
        assert app_settings.API_AUTHENTICATION_CLASSES == ["x.Auth"]
        assert app_settings.API_HOST_KEYS == {"shop": "k" * 32}


def test_every_setting_is_known():
    assert conf.known_setting_names() >= {
        "REFERRAL_REWARDS_MEMBER_MODEL",
        "REFERRAL_REWARDS_MEMBER_ADAPTER",
        "REFERRAL_REWARDS_DEFAULT_PROGRAM",
        "REFERRAL_REWARDS_DEFAULT_CURRENCY",
        "REFERRAL_REWARDS_SWEEP_BATCH_SIZE",
    }
    assert set(conf.IMPORT_STRING_SETTINGS) <= {
        n.removeprefix(conf.PREFIX) for n in conf.known_setting_names()
    }


def test_member_model_setting_errors_are_clear():
    with (
        override_settings(REFERRAL_REWARDS_MEMBER_MODEL="nodot"),
        pytest.raises(ImproperlyConfigured, match=r"app_label\.ModelName"),
    ):
        conf.get_member_model()
    with (
        override_settings(REFERRAL_REWARDS_MEMBER_MODEL="nope.Member"),
        pytest.raises(ImproperlyConfigured, match="not been installed"),
    ):
        conf.get_member_model()


def test_member_model_follows_the_setting(settings):
    expected = (
        "swapped.CustomMember" if getattr(settings, "SWAPPED", False) else "referral_rewards.Member"
    )
    assert expected == app_settings.MEMBER_MODEL
    assert conf.get_member_model()._meta.label == expected
