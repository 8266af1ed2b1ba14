"""Members and their accounts (one per program)."""

from __future__ import annotations

from typing import Any

from ..abstract_models import AbstractMember
from ..conf import app_settings
from ..exceptions import MemberNotFound
from ..models import Account, Program


def resolve_member(user_or_member: Any, *, create: bool = True) -> AbstractMember:
    """Accept a member or a host user; a user is mapped through the member adapter."""
    if isinstance(user_or_member, AbstractMember):
        return user_or_member
    member = app_settings.member_adapter().get_member(user_or_member, create=create)
    if member is None:
        raise MemberNotFound()
    return member


def get_or_create_account(user_or_member: Any, *, program: Program | str | None = None) -> Account:
    """The member's account in ``program`` (``None``: the default program), created on
    first use. Safe when two requests create it at once (a unique constraint decides)."""
    member = resolve_member(user_or_member)
    program_obj = Program.objects.resolve(program)
    # get_or_create re-reads the winner's row when it loses a creation race.
    account, _ = Account.objects.get_or_create(member_id=member.pk, program=program_obj)
    account.member = member  # type: ignore[assignment]  # already read: spare a query
    return account


def accounts_for(user_or_member: Any) -> list[Account]:
    """Every account the member holds (one per program), default-program first."""
    member = resolve_member(user_or_member, create=False)
    return list(
        Account.objects.filter(member_id=member.pk)
        .select_related("program")
        .order_by("program__name", "pk")
    )
