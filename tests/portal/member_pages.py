"""Helpers for the tests of the member portal's pages (rewards, earnings, community,
dashboard)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from django.contrib.messages import get_messages
from django.test import Client

from django_referral_rewards import testing
from django_referral_rewards.models import Account, Program


@dataclasses.dataclass
class Member:
    """A signed-in member: their user, member record and account in ``program``, and a
    client logged in as them."""

    user: Any
    member: Any
    account: Account
    client: Client

    def fresh(self) -> Account:
        return Account.objects.get(pk=self.account.pk)


def member(
    program: Program,
    username: str,
    *,
    points: int = 0,
    credit: int = 0,
    commission: int = 0,
    **user_fields: Any,
) -> Member:
    """A member with an account (and opening balances) in ``program``, signed in on a
    client of their own."""
    user = testing.make_user(username, **user_fields)
    record = testing.make_member(user)
    account = testing.make_account(
        record, program=program, points=points, credit=credit, commission=commission
    )
    client = Client()
    client.force_login(user)
    return Member(user=user, member=record, account=account, client=client)


def texts(response: Any) -> list[str]:
    """The messages added while answering ``response``."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def html(response: Any) -> str:
    return response.content.decode()


def token_of(response: Any) -> str:
    """The one-time token of the form on the page."""
    found = re.search(r'name="token" value="([0-9a-f]+)"', html(response))
    assert found, "no token on the page"
    return found[1]


def is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")
