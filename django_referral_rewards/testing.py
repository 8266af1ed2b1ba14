"""Helpers for tests, in this package and in host projects.

Plain functions (no extra test dependency)::

    from django_referral_rewards import testing

    account = testing.make_account(points=500)
    assert testing.ledger_is_consistent(account)
"""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model

from .abstract_models import AbstractMember
from .conf import get_member_model
from .enums import Unit
from .models import Account, EarnLot, LedgerEntry, Program

_counter = itertools.count(1)


def make_user(username: str | None = None, **fields: Any) -> Any:
    """A saved user with a unique username (password ``"password"``)."""
    n = next(_counter)
    username = username or f"user{n}"
    fields.setdefault("email", f"{username}@example.com")
    return get_user_model().objects.create_user(username=username, password="password", **fields)


def make_program(slug: str | None = None, **fields: Any) -> Program:
    """A saved program with a unique slug."""
    n = next(_counter)
    slug = slug or f"program-{n}"
    fields.setdefault("name", slug.replace("-", " ").title())
    return Program.objects.create(slug=slug, **fields)


def make_member(user: Any = None, **fields: Any) -> AbstractMember:
    """A saved member of the configured member model (``user=False``: no user)."""
    if user is None:
        user = make_user()
    elif user is False:
        user = None
    fields.setdefault("name", getattr(user, "username", "") or f"Member {next(_counter)}")
    return get_member_model()._default_manager.create(user=user, **fields)


def make_account(
    member: AbstractMember | None = None,
    *,
    program: Program | str | None = None,
    points: int = 0,
    credit: int = 0,
    commission: int = 0,
) -> Account:
    """A saved account, with opening balances credited through the ledger."""
    from .services import ledger

    member = member or make_member()
    account, _ = Account.objects.get_or_create(
        member_id=member.pk, program=Program.objects.resolve(program)
    )
    for unit, amount in (
        (Unit.POINTS, points),
        (Unit.CREDIT, credit),
        (Unit.COMMISSION, commission),
    ):
        if amount:
            ledger.credit(account, amount, unit=unit, reason="Opening balance")
    return account


def ledger_is_consistent(account: Account) -> bool:
    """Invariant 1 for one account: each cached balance equals the sum of its entries,
    and the open lots add up to the positive part of each balance."""
    from .services import ledger

    return not ledger.recompute(account=account)


__all__ = [
    "EarnLot",
    "LedgerEntry",
    "ledger_is_consistent",
    "make_account",
    "make_member",
    "make_program",
    "make_user",
]
