"""Bridges from inbound signals to :mod:`django_referral_rewards.services.events`.

The package's own inbound signals (``signals.customer_signed_up`` and friends) are
always connected. A host may also name its own signals in settings
(``REFERRAL_REWARDS_SIGNUP_SIGNAL``, ...); their keyword arguments pass through the
event adapter (``REFERRAL_REWARDS_EVENT_ADAPTER``). A receiver's return value (the
referral, or the order outcome) is in the list ``Signal.send`` returns, and errors
(an invalid typed code, a conflicting order) propagate to the sender.
"""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.dispatch import Signal

from . import signals
from .conf import HOST_SIGNAL_SETTINGS, PREFIX, app_settings

EVENTS = tuple(HOST_SIGNAL_SETTINGS)
_connected_host_signals: list[tuple[Signal, str]] = []


def _own_receiver(event: str) -> Any:
    def receive(sender: Any, **kwargs: Any) -> Any:
        from .services import events

        kwargs.pop("signal", None)
        return getattr(events, event)(**kwargs)

    receive.__name__ = f"receive_{event}"
    return receive


def _host_receiver(event: str) -> Any:
    def receive(sender: Any, **kwargs: Any) -> Any:
        from .services import events

        kwargs.pop("signal", None)
        mapped = getattr(app_settings.event_adapter(), event)(sender, **kwargs)
        if mapped is None:
            return None
        return getattr(events, event)(**mapped)

    receive.__name__ = f"receive_host_{event}"
    return receive


_OWN = {event: _own_receiver(event) for event in EVENTS}
_HOST = {event: _host_receiver(event) for event in EVENTS}


def trace_login(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """On ``user_logged_in``: remember, hashed, the IP address and device the member
    logged in from (``REFERRAL_REWARDS_TRACE_LOGINS``), for the fraud checks. Users
    without a member are left alone (no member is created)."""
    if not app_settings.TRACE_LOGINS or request is None:
        return
    member = app_settings.member_adapter().get_member(user, create=False)
    if member is not None:
        from .services import fraud

        fraud.record_traces(member, request=request)


def connect() -> None:
    """Connect the package's inbound signals, the host's configured ones, and the
    log-in trace."""
    from django.contrib.auth.signals import user_logged_in

    for event in EVENTS:
        getattr(signals, event).connect(
            _OWN[event], dispatch_uid=f"django_referral_rewards.{event}"
        )
    user_logged_in.connect(trace_login, dispatch_uid="django_referral_rewards.trace_login")
    connect_host_signals()


def connect_host_signals() -> None:
    """(Re)connect the host signals named in settings (called again when they change)."""
    while _connected_host_signals:
        signal, event = _connected_host_signals.pop()
        signal.disconnect(dispatch_uid=f"django_referral_rewards.host.{event}")
    try:
        host = app_settings.host_signals()
    except Exception:  # reported by system check referral_rewards.E003
        return
    for event, signal in host.items():
        signal.connect(_HOST[event], dispatch_uid=f"django_referral_rewards.host.{event}")
        _connected_host_signals.append((signal, event))


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(PREFIX) and setting.endswith("_SIGNAL"):
        connect_host_signals()


setting_changed.connect(_settings_changed, dispatch_uid="django_referral_rewards.host_signals")
