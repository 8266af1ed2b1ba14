"""Host glue: how host objects map onto ours.

Adapters are split by concern. :class:`MemberAdapter` finds or creates the member for a
host user; :class:`RequestAdapter` reads what attribution and fraud checks need from a
request. Subclass it and name your class in ``REFERRAL_REWARDS_MEMBER_ADAPTER`` to
change how members are created (for example to copy a phone number from a profile).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .conf import get_member_model

if TYPE_CHECKING:
    from .abstract_models import AbstractMember


def user_display_name(user: Any) -> str:
    """A user's full name, or their username when they have none."""
    get_full_name = getattr(user, "get_full_name", None)
    name = get_full_name() if callable(get_full_name) else ""
    return str(name or user.get_username())


class MemberAdapter:
    """Maps host users to members. The default creates a member on first use."""

    def get_member(self, user: Any, *, create: bool = True) -> AbstractMember | None:
        """The member for ``user``, created if missing and ``create`` is true.

        Returns ``None`` for anonymous users, or when ``create`` is false and the user
        has no member yet. The unique one-to-one on ``user`` makes concurrent creation
        safe: the loser of a race reads the winner's row.
        """
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        Member = get_member_model()
        if not create:
            return Member._default_manager.filter(user=user).first()
        member, _ = Member._default_manager.get_or_create(
            user=user, defaults=self.member_defaults(user)
        )
        return member

    def member_defaults(self, user: Any) -> dict[str, Any]:
        """Field values for a member created for ``user``."""
        return {"name": user_display_name(user)[:200], "email": getattr(user, "email", "") or ""}

    def is_existing_customer(self, user: Any, *, account: Any, program: Any) -> bool:
        """Whether the customer signing up with a referral code was a customer already
        (the ``existing_customer`` fraud check: a referral rewards new customers). The
        default: the customer's account in ``program`` already has an order recorded
        (the check runs before the sign-up's own writes, so any order is an earlier
        one). Override it to ask your own order or billing tables, e.g.::

            def is_existing_customer(self, user, *, account, program):
                return Invoice.objects.filter(customer__user=user).exists()
        """
        from .models import Order

        return Order.objects.filter(account=account).exists()

    def erase_member_fields(self, member: Any) -> dict[str, Any]:
        """The field values written onto ``member`` when it is erased
        (:func:`django_referral_rewards.services.privacy.erase_member`): every field
        that holds personal data, by name, with its replacement.

        The default covers the fields of ``AbstractMember``: the name becomes
        ``"Erased member #<pk>"``, the e-mail address and phone number are emptied, the
        link to the user is removed, the member is deactivated and ``metadata``
        emptied. A swapped member model with personal fields of its own must add them,
        e.g.::

            def erase_member_fields(self, member):
                return {**super().erase_member_fields(member), "loyalty_number": ""}

        Keep the values fixed (not random), so that erasing twice changes nothing.
        """
        return {
            "name": f"Erased member #{member.pk}",
            "email": "",
            "phone": "",
            "user": None,
            "active": False,
            "metadata": {},
        }


class RequestAdapter:
    """Reads a request. Override :meth:`get_client_ip` behind a reverse proxy you trust
    (the default uses ``REMOTE_ADDR`` only, which a client cannot forge)."""

    def get_client_ip(self, request: Any) -> str:
        return str(request.META.get("REMOTE_ADDR", ""))

    def get_user_agent(self, request: Any) -> str:
        return str(request.META.get("HTTP_USER_AGENT", ""))[:1000]

    def get_device_id(self, request: Any) -> str:
        """The random id in the device cookie (set by the middleware), or ``""``."""
        from .conf import app_settings

        value = request.COOKIES.get(app_settings.DEVICE_COOKIE_NAME, "")
        return value if isinstance(value, str) and 16 <= len(value) <= 64 else ""

    def get_referrer_host(self, request: Any) -> str:
        from urllib.parse import urlsplit

        return (urlsplit(request.META.get("HTTP_REFERER", "")).hostname or "")[:255]


class EventAdapter:
    """Maps the keyword arguments of a host's own event signals (named in
    ``REFERRAL_REWARDS_SIGNUP_SIGNAL``, ``..._ACTIVATION_SIGNAL``,
    ``..._ORDER_COMPLETED_SIGNAL``, ``..._ORDER_REFUNDED_SIGNAL``) to the keyword
    arguments of the package's events (:mod:`django_referral_rewards.services.events`).

    The default passes through the arguments the event accepts and drops the rest
    (``signal``, ``sender``, anything of the host's own). Override a method to rename,
    e.g. a host signal sending ``customer=`` and ``total=``::

        class ShopEvents(EventAdapter):
            def order_completed(self, sender, **kwargs):
                return {"user": kwargs["customer"], "order_id": kwargs["order"].pk,
                        "amount": kwargs["total"]}

    Return ``None`` to ignore one sending of the signal.
    """

    def customer_signed_up(self, sender: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self.pass_through("customer_signed_up", kwargs)

    def customer_activated(self, sender: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self.pass_through("customer_activated", kwargs)

    def order_completed(self, sender: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self.pass_through("order_completed", kwargs)

    def order_refunded(self, sender: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self.pass_through("order_refunded", kwargs)

    def pass_through(self, event: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` restricted to the parameters of the event's service function."""
        import inspect

        from .services import events

        accepted = inspect.signature(getattr(events, event)).parameters
        return {name: value for name, value in kwargs.items() if name in accepted}


class Notifier:
    """Sends the package's notices: points about to expire (to the member), a
    redemption to fulfil (to the staff user it was assigned to).

    The default renders ``referral_rewards/email/<name>_subject.txt`` and
    ``<name>_body.txt`` (and ``<name>_body.html`` if a host adds one) and sends an
    e-mail with Django's ``send_mail``. It is called only after the change commits.
    Subclass it (``REFERRAL_REWARDS_NOTIFIER``) to send SMS or push messages instead,
    or to skip members without an e-mail address in another way.
    """

    def member_email(self, member: Any) -> str:
        """The address notices to ``member`` go to (empty: no notice)."""
        email = getattr(member, "email", "") or ""
        if not email and getattr(member, "user", None) is not None:
            email = getattr(member.user, "email", "") or ""
        return str(email)

    def user_email(self, user: Any) -> str:
        """The address notices to a staff ``user`` go to (empty: no notice)."""
        return str(getattr(user, "email", "") or "")

    def points_expiring(
        self, account: Any, *, amount: int, expires_at: Any, lots: list[Any]
    ) -> bool:
        """Tell the member of ``account`` that ``amount`` points expire at
        ``expires_at`` (the earliest of ``lots``). Returns whether a notice was sent."""
        return self.send(
            "points_expiring",
            self.member_email(account.member),
            {"account": account, "amount": amount, "expires_at": expires_at, "lots": lots},
        )

    def redemption_assigned(self, redemption: Any, *, user: Any) -> bool:
        """Tell staff ``user`` that ``redemption`` is theirs to fulfil. The e-mail links
        to it in the portal's fulfilment queue when :meth:`fulfilment_links` can build
        the addresses."""
        return self.send(
            "redemption_assigned",
            self.user_email(user),
            {
                "redemption": redemption,
                "user": user,
                "account": redemption.account,
                **self.fulfilment_links(redemption),
            },
        )

    def fulfilment_links(self, redemption: Any) -> dict[str, str]:
        """``queue_url`` (the fulfilment queue) and ``redemption_url`` (the redemption's
        page in it), absolute, on ``REFERRAL_REWARDS_SITE_URL``. Empty when that setting
        is not set (a notice is sent after the request, so there is no host to build
        them on) or the host's URLconf does not include the package's URLs."""
        from django.urls import NoReverseMatch, reverse

        from .conf import app_settings
        from .links import absolute_url

        if not app_settings.SITE_URL:
            return {}
        try:
            queue = reverse("referral_rewards:fulfilment_queue")
            detail = reverse("referral_rewards:fulfilment_detail", kwargs={"pk": redemption.pk})
        except NoReverseMatch:
            return {}
        return {"queue_url": absolute_url(queue), "redemption_url": absolute_url(detail)}

    def send(self, name: str, to: str, context: dict[str, Any]) -> bool:
        """Render the ``name`` templates with ``context`` and e-mail them to ``to``."""
        from django.core.mail import send_mail
        from django.template import TemplateDoesNotExist
        from django.template.loader import render_to_string

        if not to:
            return False
        prefix = f"referral_rewards/email/{name}"
        subject = " ".join(render_to_string(f"{prefix}_subject.txt", context).split())
        body = render_to_string(f"{prefix}_body.txt", context)
        try:
            html: str | None = render_to_string(f"{prefix}_body.html", context)
        except TemplateDoesNotExist:
            html = None
        send_mail(subject, body, None, [to], html_message=html)
        return True
