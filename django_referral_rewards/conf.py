"""Typed, lazy access to the ``REFERRAL_REWARDS_*`` settings.

Read settings through :data:`app_settings` (``from django_referral_rewards.conf import
app_settings``). Every property reads ``django.conf.settings`` when it is accessed, so
``override_settings`` works in tests; nothing is read at import time except the member
model name (as Django itself does for ``AUTH_USER_MODEL``) and nothing is ever written
back to ``settings``.

Each property's docstring is its documentation: the settings reference in ``docs/`` is
generated from this file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from django.apps import apps as django_apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from django.dispatch import Signal

    from .abstract_models import AbstractMember
    from .adapter import EventAdapter, MemberAdapter, Notifier, RequestAdapter
    from .assigners import Assigner
    from .codes import CodeGenerator
    from .payout_backends import PayoutBackend
    from .policies import RewardPolicy
    from .qr import QRBackend

PREFIX = "REFERRAL_REWARDS_"
MEMBER_MODEL_SETTING = "REFERRAL_REWARDS_MEMBER_MODEL"
DEFAULT_MEMBER_MODEL = "referral_rewards.Member"

T = TypeVar("T")


def get_member_model_string() -> str:
    """The ``app_label.ModelName`` of the member model (the swappable setting's value)."""
    return getattr(settings, MEMBER_MODEL_SETTING, DEFAULT_MEMBER_MODEL)


def get_member_model() -> type[AbstractMember]:
    """The active member model class (the default ``Member`` or the host's swap)."""
    name = get_member_model_string()
    try:
        return django_apps.get_model(name, require_ready=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{MEMBER_MODEL_SETTING} must be of the form 'app_label.ModelName', not {name!r}."
        ) from exc
    except LookupError as exc:
        raise ImproperlyConfigured(
            f"{MEMBER_MODEL_SETTING} refers to model {name!r} that has not been installed."
        ) from exc


class AppSettings:
    """The package's settings. Each property documents one ``REFERRAL_REWARDS_*`` name."""

    def _setting(self, name: str, default: Any) -> Any:
        return getattr(settings, PREFIX + name, default)

    @property
    def MEMBER_MODEL(self) -> str:
        """The model that represents a person or organisation who refers and earns, as
        ``"app_label.ModelName"``. Default ``"referral_rewards.Member"``.

        Swappable like ``AUTH_USER_MODEL``: set it before the first ``migrate`` to a
        concrete subclass of ``django_referral_rewards.abstract_models.AbstractMember``.
        Package code reaches the class through ``conf.get_member_model()``.
        """
        return get_member_model_string()

    @property
    def MEMBER_ADAPTER(self) -> str:
        """Import string of the class that maps host users to members (finding and
        creating the member for a user, copying name and e-mail). Must subclass
        ``django_referral_rewards.adapter.MemberAdapter``.
        Default ``"django_referral_rewards.adapter.MemberAdapter"``.
        """
        return str(self._setting("MEMBER_ADAPTER", "django_referral_rewards.adapter.MemberAdapter"))

    @property
    def DEFAULT_PROGRAM(self) -> str:
        """Slug of the program used when a service is called with ``program=None``.
        It is created on first use (and by the initial data migration) if missing.
        Default ``"default"``.
        """
        return str(self._setting("DEFAULT_PROGRAM", "default"))

    @property
    def DEFAULT_CURRENCY(self) -> str:
        """ISO 4217 code given to the default program when it is created.
        Default ``"USD"``.
        """
        return str(self._setting("DEFAULT_CURRENCY", "USD")).upper()

    @property
    def CODE_GENERATOR(self) -> str:
        """Import string of the class that proposes new referral codes. Must subclass
        ``django_referral_rewards.codes.CodeGenerator``. The default makes random
        9-character codes with a check character; use
        ``"django_referral_rewards.codes.VanityCodeGenerator"`` for ``JUAN2025``-style
        personal codes. Default ``"django_referral_rewards.codes.CodeGenerator"``.
        """
        return str(self._setting("CODE_GENERATOR", "django_referral_rewards.codes.CodeGenerator"))

    @property
    def REQUEST_ADAPTER(self) -> str:
        """Import string of the class that reads a request: client IP, user agent, device
        id. Override ``get_client_ip`` behind a proxy you trust. Must subclass
        ``django_referral_rewards.adapter.RequestAdapter``.
        Default ``"django_referral_rewards.adapter.RequestAdapter"``.
        """
        return str(
            self._setting("REQUEST_ADAPTER", "django_referral_rewards.adapter.RequestAdapter")
        )

    @property
    def HASH_KEY(self) -> str:
        """Key of the keyed hashes (HMAC-SHA256) under which IP addresses, user agents and
        device ids are stored. Empty (the default) derives one from ``SECRET_KEY``; set
        your own to keep hashes comparable across a ``SECRET_KEY`` rotation.
        """
        return str(self._setting("HASH_KEY", ""))

    @property
    def REF_PARAM(self) -> str:
        """Query parameter that carries a referral code on any URL (``?ref=CODE``).
        Default ``"ref"``.
        """
        return str(self._setting("REF_PARAM", "ref"))

    @property
    def COOKIE_NAME(self) -> str:
        """Name of the signed cookie that remembers a followed code for the program's
        attribution window. Default ``"rr_ref"``.
        """
        return str(self._setting("COOKIE_NAME", "rr_ref"))

    @property
    def DEVICE_COOKIE_NAME(self) -> str:
        """Name of the cookie holding a random device id (used, hashed, by fraud checks).
        Default ``"rr_device"``.
        """
        return str(self._setting("DEVICE_COOKIE_NAME", "rr_device"))

    @property
    def LANDING_URL(self) -> str:
        """Where ``/r/CODE/`` sends visitors when the link has no safe ``next``
        (a path, or a URL name). Default ``"/"``.
        """
        return str(self._setting("LANDING_URL", "/"))

    @property
    def SWEEP_BATCH_SIZE(self) -> int:
        """How many rows a background sweep (points expiry, ...) claims per transaction.
        Larger batches mean fewer transactions; smaller ones hold locks for less time.
        Default ``500``.
        """
        value = int(self._setting("SWEEP_BATCH_SIZE", 500))
        if value < 1:
            raise ConfigurationError(f"{PREFIX}SWEEP_BATCH_SIZE must be at least 1, not {value}.")
        return value

    @property
    def REWARD_POLICY(self) -> str:
        """Import string of the class that decides which rewards an event earns from the
        reward rules. Must subclass ``django_referral_rewards.policies.RewardPolicy``.
        Default ``"django_referral_rewards.policies.DefaultRewardPolicy"``.
        """
        return str(
            self._setting("REWARD_POLICY", "django_referral_rewards.policies.DefaultRewardPolicy")
        )

    @property
    def EVENT_ADAPTER(self) -> str:
        """Import string of the class that maps the keyword arguments of a host's own
        event signals (see ``REFERRAL_REWARDS_SIGNUP_SIGNAL`` and friends) to the
        package's events. Must subclass ``django_referral_rewards.adapter.EventAdapter``.
        Default ``"django_referral_rewards.adapter.EventAdapter"``.
        """
        return str(self._setting("EVENT_ADAPTER", "django_referral_rewards.adapter.EventAdapter"))

    @property
    def SIGNUP_SIGNAL(self) -> str | None:
        """Import string of a host signal (a ``django.dispatch.Signal``) that means "a
        customer signed up"; the package listens to it as well as to its own
        ``customer_signed_up``. Default ``None``.
        """
        return self._signal_setting("SIGNUP_SIGNAL")

    @property
    def ACTIVATION_SIGNAL(self) -> str | None:
        """Import string of a host signal that means "a customer activated" (e.g. their
        service went live). Default ``None``.
        """
        return self._signal_setting("ACTIVATION_SIGNAL")

    @property
    def ORDER_COMPLETED_SIGNAL(self) -> str | None:
        """Import string of a host signal that means "an order completed".
        Default ``None``.
        """
        return self._signal_setting("ORDER_COMPLETED_SIGNAL")

    @property
    def ORDER_REFUNDED_SIGNAL(self) -> str | None:
        """Import string of a host signal that means "an order was refunded".
        Default ``None``.
        """
        return self._signal_setting("ORDER_REFUNDED_SIGNAL")

    @property
    def NOTIFIER(self) -> str:
        """Import string of the class that sends the package's notices to members and
        staff (expiring points, a redemption to fulfil). Must subclass
        ``django_referral_rewards.adapter.Notifier``; the default e-mails them through
        templates. Default ``"django_referral_rewards.adapter.Notifier"``.
        """
        return str(self._setting("NOTIFIER", "django_referral_rewards.adapter.Notifier"))

    @property
    def REDEMPTION_ASSIGNER(self) -> str:
        """Import string of the class that picks the staff user who fulfils a
        redemption. Must subclass ``django_referral_rewards.assigners.Assigner``.
        Default ``"django_referral_rewards.assigners.LeastLoadedAssigner"`` (the active
        staff user of the fulfilment group with the fewest open redemptions).
        """
        return str(
            self._setting(
                "REDEMPTION_ASSIGNER", "django_referral_rewards.assigners.LeastLoadedAssigner"
            )
        )

    @property
    def PAYOUT_BACKEND(self) -> str:
        """Import string of the class that sends commission payouts. Must subclass
        ``django_referral_rewards.payout_backends.PayoutBackend``. Default
        ``"django_referral_rewards.payout_backends.ManualPayoutBackend"``: staff pay by
        hand (a bank batch, cash, a cheque) and mark payouts paid.
        """
        return str(
            self._setting(
                "PAYOUT_BACKEND", "django_referral_rewards.payout_backends.ManualPayoutBackend"
            )
        )

    @property
    def FULFILMENT_GROUP(self) -> str:
        """Name of the auth group whose staff fulfil redemptions, for programs that do
        not name their own (``Program.fulfilment_group``). Default ``""``: nobody is
        assigned automatically.
        """
        return str(self._setting("FULFILMENT_GROUP", "") or "")

    @property
    def RATE_LIMITS(self) -> dict[str, str | None]:
        """How often one client may call each rate-limited action, by scope: a rate
        ``"requests/period"`` such as ``"20/m"``, ``"100/10m"`` or ``"1000/d"`` (periods
        ``s``, ``m``, ``h``, ``d``), or ``None`` for no limit. Each client IP address
        (IPv6: each ``/64`` network) and each signed-in user is counted separately; a
        request over either limit is answered ``429 Too Many Requests`` with a
        ``Retry-After`` header.

        Your dictionary is merged over the defaults, so name only what you change::

            REFERRAL_REWARDS_RATE_LIMITS = {"validate_code": "10/m", "landing": None}

        Scopes: ``validate_code`` (the public code check), ``landing`` (the ``/r/CODE/``
        share link), ``redeem`` and ``payout`` (member requests). Default
        ``{"validate_code": "20/m", "landing": "60/m", "redeem": "10/m", "payout": "5/m"}``.
        """
        from .ratelimit import parse_rate

        value = self._setting("RATE_LIMITS", None) or {}
        if not isinstance(value, dict):
            raise ConfigurationError(
                f"{PREFIX}RATE_LIMITS must be a dict of scope -> rate, not {value!r}."
            )
        limits: dict[str, str | None] = {**DEFAULT_RATE_LIMITS, **value}
        for scope, rate in limits.items():
            if rate in (None, ""):
                limits[scope] = None
                continue
            try:
                parse_rate(rate)
            except ConfigurationError as exc:
                raise ConfigurationError(
                    f"{PREFIX}RATE_LIMITS[{scope!r}]: {exc.message}", scope=scope
                ) from None
        return limits

    @property
    def RATE_LIMIT_CACHE(self) -> str:
        """Alias (a key of ``CACHES``) of the cache that holds the rate-limit counters.
        Use a cache every worker process shares, with an atomic ``incr`` (Redis or
        Memcached): the local-memory cache counts per process, and the dummy cache
        counts nothing. Default ``"default"``.
        """
        return str(self._setting("RATE_LIMIT_CACHE", "default"))

    @property
    def FRAUD_CHECKS(self) -> list[str]:
        """Import strings of the fraud checks run on every referred sign-up (and on the
        order that may convert it). Each is a callable taking a
        :class:`~django_referral_rewards.fraud.FraudContext` and returning zero or more
        :class:`~django_referral_rewards.fraud.Signal` (name, score, reason). Default: the
        checks of :mod:`django_referral_rewards.fraud.checks` (``same_person``,
        ``same_contact``, ``existing_customer``, ``same_device_or_network``,
        ``same_payment``, ``disposable_email``, ``velocity``). ``[]`` turns the checks off.
        """
        value = self._setting("FRAUD_CHECKS", None)
        if value is None:
            from .fraud.checks import DEFAULT_CHECKS

            return list(DEFAULT_CHECKS)
        if isinstance(value, str) or not all(isinstance(path, str) for path in value):
            raise ConfigurationError(f"{PREFIX}FRAUD_CHECKS must be a list of import strings.")
        return list(value)

    @property
    def FRAUD_SCORES(self) -> dict[str, int]:
        """The score of each fraud signal, by name, merged over the defaults
        (``same_user`` 100, ``same_email`` 100, ``same_phone`` 100, ``existing_customer``
        100, ``same_device`` 80, ``same_ip`` 40, ``same_payment`` 100, ``disposable_email``
        50, ``velocity`` 50). A program reviews referrals at its
        ``fraud_review_score`` (default 50) and blocks them at its ``fraud_block_score``
        (default 100). A score of 0 records the signal without weight.
        """
        from .fraud.checks import DEFAULT_SCORES

        value = self._setting("FRAUD_SCORES", {}) or {}
        if not isinstance(value, dict) or not all(
            isinstance(score, int) and not isinstance(score, bool) and score >= 0
            for score in value.values()
        ):
            raise ConfigurationError(
                f"{PREFIX}FRAUD_SCORES must map signal names to whole numbers of at least 0."
            )
        return {**DEFAULT_SCORES, **value}

    @property
    def FRAUD_VELOCITY(self) -> dict[str, int | None]:
        """How many referred sign-ups within ``window`` seconds are normal, per code, per
        IP address and per referrer; one more raises the ``velocity`` signal. Merged over
        the default ``{"window": 3600, "code": 20, "ip": 5, "referrer": 20}``; ``None``
        switches a dimension off. The counts are read before the sign-up is written, so
        under a burst of simultaneous sign-ups a few may pass the limit.
        """
        value = self._setting("FRAUD_VELOCITY", {}) or {}
        merged = {"window": 3600, "code": 20, "ip": 5, "referrer": 20, **value}
        unknown = set(merged) - {"window", "code", "ip", "referrer"}
        bad = [
            key
            for key, limit in merged.items()
            if limit is not None and (not isinstance(limit, int) or limit < 1)
        ]
        if unknown or bad or merged["window"] is None:
            raise ConfigurationError(
                f"{PREFIX}FRAUD_VELOCITY takes window, code, ip and referrer, each a whole "
                f"number of at least 1 (None switches a limit off, not the window); got {value!r}."
            )
        return merged

    @property
    def DISPOSABLE_EMAIL_DOMAINS_FILE(self) -> str:
        """Path of a file listing disposable e-mail domains, one per line (``#`` starts
        a comment), used instead of the list bundled with the package. Keep it up to date
        from a maintained list (e.g. the *disposable-email-domains* project). Default
        ``""``: the bundled list.
        """
        return str(self._setting("DISPOSABLE_EMAIL_DOMAINS_FILE", "") or "")

    @property
    def DISPOSABLE_EMAIL_DOMAINS(self) -> list[str]:
        """Extra disposable e-mail domains, added to the list in use. Default ``[]``."""
        value = self._setting("DISPOSABLE_EMAIL_DOMAINS", []) or []
        if isinstance(value, str):
            raise ConfigurationError(f"{PREFIX}DISPOSABLE_EMAIL_DOMAINS must be a list.")
        return [str(domain).strip().lower() for domain in value]

    @property
    def RETENTION_DAYS(self) -> int:
        """How many days the data kept only for fraud matching is kept: visits, traces
        (members' hashed IP addresses and devices), fraud signals, and the hashed sign-up
        IP address, device and user agent on referrals; and the settled deliveries of the
        webhook outbox. ``rewards_purge`` removes what is older (signals of referrals still
        in review are kept until decided). Default ``180``.
        """
        value = self._setting("RETENTION_DAYS", 180)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(f"{PREFIX}RETENTION_DAYS must be a whole number of days ≥ 1.")
        return value

    @property
    def TRACE_LOGINS(self) -> bool:
        """Whether a member's log-in records a trace (their hashed IP address and device
        cookie), so that fraud checks can tell when a customer they refer signs up from
        the referrer's own device or network. Default ``True``.
        """
        return bool(self._setting("TRACE_LOGINS", True))

    @property
    def QR_BACKEND(self) -> str:
        """Import string of the class that draws QR codes. Must subclass
        ``django_referral_rewards.qr.QRBackend``. The default uses segno (SVG and PNG, no
        Pillow needed); ``"django_referral_rewards.qr.QRCodeBackend"`` uses the ``qrcode``
        library (the ``qrcode`` extra, PNG through Pillow).
        Default ``"django_referral_rewards.qr.SegnoBackend"``.
        """
        return str(self._setting("QR_BACKEND", "django_referral_rewards.qr.SegnoBackend"))

    @property
    def SITE_URL(self) -> str:
        """The site's public address, such as ``"https://shop.example"``, used to build the
        absolute share links that QR codes, printed cards and e-mails carry. Empty (the
        default): the address of the request being answered; work done without a request
        (a sheet of cards from a command, a notice from a sweep) then needs this setting.
        """
        value = str(self._setting("SITE_URL", "") or "").rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"{PREFIX}SITE_URL must start with http:// or https://, not {value!r}."
            )
        return value

    @property
    def CARD_FONT(self) -> str:
        """Path of a TrueType font (``.ttf``) for the text of printable referral cards,
        such as ``"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"``: set it when member
        names, program names or your translations use letters outside Western European
        alphabets (Polish, Greek, Cyrillic, Chinese, ...). Empty (the default): the PDF's
        built-in Helvetica, which covers Western European text; other letters are
        transliterated (``Ł`` becomes ``L``) or printed as ``?``.
        """
        import os

        value = str(self._setting("CARD_FONT", "") or "")
        if value and not os.path.isfile(value):
            raise ConfigurationError(f"{PREFIX}CARD_FONT names no font file: {value!r}.")
        return value

    @property
    def LEADERBOARD_SIZE(self) -> int:
        """How many referrers the member portal's leaderboard lists. Default ``10``."""
        value = self._setting("LEADERBOARD_SIZE", 10)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
            raise ConfigurationError(
                f"{PREFIX}LEADERBOARD_SIZE must be a whole number from 1 to 1000."
            )
        return value

    @property
    def POINT_VALUE(self) -> Decimal | None:
        """What one point is worth in a program's currency, such as ``"0.01"`` (a
        ``Decimal`` or a decimal string), for the analytics that put points in money:
        the points liability and rewards costs that include points. ``None`` (the
        default): those figures are ``None`` rather than a guess.
        """
        value = self._setting("POINT_VALUE", None)
        if value is None:
            return None
        try:
            found = Decimal(str(value)) if isinstance(value, str | int | Decimal) else None
        except ArithmeticError:
            found = None
        if isinstance(value, bool) or found is None or not found.is_finite() or found < 0:
            raise ConfigurationError(
                f"{PREFIX}POINT_VALUE must be a decimal amount of at least 0, such as "
                f"'0.01', not {value!r}."
            )
        return found

    # --- REST API (the ``api`` extra) ---------------------------------------------------

    @property
    def API_AUTHENTICATION_CLASSES(self) -> list[str] | None:
        """Import strings of the Django REST framework authentication classes of the
        member and staff endpoints, such as
        ``["rest_framework.authentication.TokenAuthentication"]``. ``None`` (the
        default): your ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`` (session and
        basic authentication unless you changed them). The host event endpoints always
        use the host keys of :setting:`REFERRAL_REWARDS_API_HOST_KEYS` instead.
        """
        value = self._setting("API_AUTHENTICATION_CLASSES", None)
        if value is None:
            return None
        if isinstance(value, str) or not all(isinstance(path, str) for path in value):
            raise ConfigurationError(
                f"{PREFIX}API_AUTHENTICATION_CLASSES must be a list of import strings."
            )
        return list(value)

    @property
    def API_PAGE_SIZE(self) -> int:
        """How many items one page of an API list holds unless the client asks for
        another size with ``?page_size=`` (at most 100). Default ``25``.
        """
        value = self._setting("API_PAGE_SIZE", 25)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
            raise ConfigurationError(f"{PREFIX}API_PAGE_SIZE must be a whole number from 1 to 100.")
        return value

    @property
    def API_IDEMPOTENCY_RETENTION_HOURS(self) -> int:
        """How many hours the API keeps the answer to a request sent with an
        ``Idempotency-Key`` header: within this time the same key (from the same user or
        host key) replays that answer and does nothing again. ``rewards_purge`` deletes
        older ones. Default ``24``.
        """
        value = self._setting("API_IDEMPOTENCY_RETENTION_HOURS", 24)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(
                f"{PREFIX}API_IDEMPOTENCY_RETENTION_HOURS must be a whole number of hours ≥ 1."
            )
        return value

    @property
    def API_HOST_KEYS(self) -> dict[str, str]:
        """The keys with which a host that runs in another process (a separate shop
        back end, a billing system) sends events to the host event endpoints, by name::

            REFERRAL_REWARDS_API_HOST_KEYS = {"billing": env("REWARDS_BILLING_KEY")}

        A request is authenticated by ``Authorization: Bearer <key>`` or, without the
        key on the wire, by a ``Referral-Rewards-Signature`` header: the HMAC-SHA256 of
        the timestamp and the body under the key (the same scheme as outbound webhooks;
        see the REST API page of the docs). Keys must be at least 32 characters long.
        Several names let you rotate a key without downtime. Default ``{}``: the event
        endpoints refuse every request.
        """
        value = self._setting("API_HOST_KEYS", None) or {}
        if not isinstance(value, dict):
            raise ConfigurationError(f"{PREFIX}API_HOST_KEYS must be a dict of name -> key.")
        for name, key in value.items():
            if not isinstance(name, str) or not name or len(name) > 40:
                raise ConfigurationError(
                    f"{PREFIX}API_HOST_KEYS: every name must be a string of 1 to 40 characters."
                )
            if not isinstance(key, str) or len(key) < 32:
                raise ConfigurationError(
                    f"{PREFIX}API_HOST_KEYS[{name!r}] must be a string of at least 32 characters."
                )
        return dict(value)

    @property
    def SIGNATURE_TOLERANCE(self) -> int:
        """How many seconds a signed request (a host event, a webhook delivery) may be
        older or newer than the receiver's clock before it is refused as a possible
        replay. Default ``300``.
        """
        value = self._setting("SIGNATURE_TOLERANCE", 300)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(
                f"{PREFIX}SIGNATURE_TOLERANCE must be a whole number of seconds ≥ 1."
            )
        return value

    # --- Webhooks ------------------------------------------------------------------------

    @property
    def WEBHOOK_DELIVERY(self) -> str:
        """How webhook deliveries are sent once the transaction that wrote them commits:

        ``"task"`` (the default)
            Enqueue the ``deliver_webhooks`` task on Django's tasks framework
            (``django.tasks`` on Django 6.0 and later, or the ``django-tasks`` backport),
            so a task worker sends them. Without a tasks framework nothing is sent at
            once and the ``rewards_deliver_webhooks`` command sends them.
        ``"immediate"``
            Send them in the same process right after the commit (the request waits for
            the receivers; for small sites and tests).
        ``"command"``
            Only the ``rewards_deliver_webhooks`` command (from cron) sends them.

        Retries are always sent by the command (or a periodic ``deliver_webhooks`` task),
        whatever this says.
        """
        value = self._setting("WEBHOOK_DELIVERY", "task")
        if value not in ("task", "immediate", "command"):
            raise ConfigurationError(
                f'{PREFIX}WEBHOOK_DELIVERY must be "task", "immediate" or "command", not {value!r}.'
            )
        return str(value)

    @property
    def WEBHOOK_TIMEOUT(self) -> float:
        """How many seconds a webhook receiver has to answer one delivery attempt before
        it counts as failed (and is retried). Default ``10``.
        """
        value = self._setting("WEBHOOK_TIMEOUT", 10)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigurationError(f"{PREFIX}WEBHOOK_TIMEOUT must be a number of seconds > 0.")
        return float(value)

    @property
    def WEBHOOK_MAX_ATTEMPTS(self) -> int:
        """How many times a webhook delivery is tried before it is given up (status
        ``failed``; staff can still replay it). Retries wait 30 seconds, then twice as
        long after each failure, at most 6 hours. Default ``10`` (about 4 hours and a
        quarter from the first attempt to the last).
        """
        value = self._setting("WEBHOOK_MAX_ATTEMPTS", 10)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
            raise ConfigurationError(
                f"{PREFIX}WEBHOOK_MAX_ATTEMPTS must be a whole number from 1 to 100."
            )
        return value

    @property
    def WEBHOOK_BATCH_SIZE(self) -> int:
        """How many due webhook deliveries a worker claims at a time. They are sent one
        after the other, outside any transaction; the others are skipped by other
        workers meanwhile. Default ``50``.
        """
        value = self._setting("WEBHOOK_BATCH_SIZE", 50)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(f"{PREFIX}WEBHOOK_BATCH_SIZE must be a whole number ≥ 1.")
        return value

    @property
    def WEBHOOK_ENDPOINT_CACHE_SECONDS(self) -> int:
        """How long the list of active webhook endpoints is kept in the default cache, so
        that an event costs no query to find out there is nobody to tell. Saving or
        deleting an endpoint clears it at once; changes made around the ORM (a queryset
        ``update()``, another database client) are seen after at most this long.
        ``0`` looks the endpoints up on every event. Default ``60``.
        """
        value = self._setting("WEBHOOK_ENDPOINT_CACHE_SECONDS", 60)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigurationError(
                f"{PREFIX}WEBHOOK_ENDPOINT_CACHE_SECONDS must be a whole number of seconds ≥ 0."
            )
        return value

    def _signal_setting(self, name: str) -> str | None:
        value = self._setting(name, None)
        return str(value) if value else None

    # --- import-string helpers -------------------------------------------------------

    def member_adapter(self) -> MemberAdapter:
        """An instance of the configured member adapter."""
        from .adapter import MemberAdapter

        return import_setting("MEMBER_ADAPTER", MemberAdapter)()

    def request_adapter(self) -> RequestAdapter:
        """An instance of the configured request adapter."""
        from .adapter import RequestAdapter

        return import_setting("REQUEST_ADAPTER", RequestAdapter)()

    def code_generator(self) -> CodeGenerator:
        """An instance of the configured code generator."""
        from .codes import CodeGenerator

        return import_setting("CODE_GENERATOR", CodeGenerator)()

    def reward_policy(self) -> RewardPolicy:
        """An instance of the configured reward policy."""
        from .policies import RewardPolicy

        return import_setting("REWARD_POLICY", RewardPolicy)()

    def event_adapter(self) -> EventAdapter:
        """An instance of the configured event adapter."""
        from .adapter import EventAdapter

        return import_setting("EVENT_ADAPTER", EventAdapter)()

    def notifier(self) -> Notifier:
        """An instance of the configured notifier."""
        from .adapter import Notifier

        return import_setting("NOTIFIER", Notifier)()

    def redemption_assigner(self) -> Assigner:
        """An instance of the configured redemption assigner."""
        from .assigners import Assigner

        return import_setting("REDEMPTION_ASSIGNER", Assigner)()

    def payout_backend(self) -> PayoutBackend:
        """An instance of the configured payout backend."""
        from .payout_backends import PayoutBackend

        return import_setting("PAYOUT_BACKEND", PayoutBackend)()

    def qr_backend(self) -> QRBackend:
        """An instance of the configured QR code backend."""
        from .qr import QRBackend

        return import_setting("QR_BACKEND", QRBackend)()

    def fraud_checks(self) -> list[Callable[..., Any]]:
        """The configured fraud checks, imported (cached per list)."""
        return list(_import_callables(tuple(self.FRAUD_CHECKS)))

    def host_signals(self) -> dict[str, Signal]:
        """The host's own event signals, by event name (``customer_signed_up``, ...).
        Raises :class:`ConfigurationError` when a setting does not name a ``Signal``."""
        from django.dispatch import Signal

        found = {}
        for event, name in HOST_SIGNAL_SETTINGS.items():
            path = getattr(self, name)
            if not path:
                continue
            try:
                signal = import_string(path)
            except ImportError as exc:
                raise ConfigurationError(
                    f"{PREFIX}{name} = {path!r} could not be imported: {exc}"
                ) from exc
            if not isinstance(signal, Signal):
                raise ConfigurationError(
                    f"{PREFIX}{name} = {path!r} must name a django.dispatch.Signal instance."
                )
            found[event] = signal
        return found


app_settings = AppSettings()

#: ``setting name -> base class path`` of every import-string setting; the system checks
#: use it, and so does :func:`import_setting`.
IMPORT_STRING_SETTINGS: dict[str, str] = {
    "MEMBER_ADAPTER": "django_referral_rewards.adapter.MemberAdapter",
    "CODE_GENERATOR": "django_referral_rewards.codes.CodeGenerator",
    "REQUEST_ADAPTER": "django_referral_rewards.adapter.RequestAdapter",
    "REWARD_POLICY": "django_referral_rewards.policies.RewardPolicy",
    "EVENT_ADAPTER": "django_referral_rewards.adapter.EventAdapter",
    "NOTIFIER": "django_referral_rewards.adapter.Notifier",
    "REDEMPTION_ASSIGNER": "django_referral_rewards.assigners.Assigner",
    "PAYOUT_BACKEND": "django_referral_rewards.payout_backends.PayoutBackend",
    "QR_BACKEND": "django_referral_rewards.qr.QRBackend",
}

#: The rate of each rate-limited scope when ``REFERRAL_REWARDS_RATE_LIMITS`` does not
#: name it (see :attr:`AppSettings.RATE_LIMITS`).
DEFAULT_RATE_LIMITS: dict[str, str | None] = {
    "validate_code": "20/m",
    "landing": "60/m",
    "redeem": "10/m",
    "payout": "5/m",
}

#: ``event name -> setting`` of the settings naming a host's own event signals.
HOST_SIGNAL_SETTINGS: dict[str, str] = {
    "customer_signed_up": "SIGNUP_SIGNAL",
    "customer_activated": "ACTIVATION_SIGNAL",
    "order_completed": "ORDER_COMPLETED_SIGNAL",
    "order_refunded": "ORDER_REFUNDED_SIGNAL",
}


def known_setting_names() -> set[str]:
    """Every documented ``REFERRAL_REWARDS_*`` name."""
    return {
        PREFIX + name
        for name, value in vars(AppSettings).items()
        if isinstance(value, property) and name.isupper()
    }


@functools.cache
def _import_callables(paths: tuple[str, ...]) -> tuple[Callable[..., Any], ...]:
    found = []
    for path in paths:
        try:
            check = import_string(path)
        except ImportError as exc:
            raise ConfigurationError(
                f"{PREFIX}FRAUD_CHECKS: cannot import {path!r}: {exc}"
            ) from exc
        if not callable(check):
            raise ConfigurationError(f"{PREFIX}FRAUD_CHECKS: {path!r} is not callable.")
        found.append(check)
    return tuple(found)


@functools.cache
def _import_cached(path: str, base_path: str, setting: str) -> type:
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ConfigurationError(
            f"{PREFIX}{setting} = {path!r} could not be imported: {exc}"
        ) from exc
    base = import_string(base_path)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigurationError(f"{PREFIX}{setting} = {path!r} must be a subclass of {base_path}.")
    return cls


def import_setting(setting: str, base: type[T]) -> type[T]:
    """Resolve the import-string setting ``setting`` (without the prefix), checking it
    subclasses ``base``. Results are cached until the setting changes."""
    path = getattr(app_settings, setting)
    base_path = f"{base.__module__}.{base.__qualname__}"
    return _import_cached(path, base_path, setting)


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(PREFIX):
        _import_cached.cache_clear()
        _import_callables.cache_clear()
        from .fraud import normalize

        normalize.disposable_domains.cache_clear()
