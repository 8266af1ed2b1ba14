"""Finding a member by primary key for the privacy commands."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from ..conf import get_member_model


def get_member(pk: str) -> Any:
    """The member with primary key ``pk``, or a :class:`CommandError`."""
    Member = get_member_model()
    try:
        return Member._default_manager.get(pk=pk)
    except (Member.DoesNotExist, ValueError, ValidationError) as exc:
        raise CommandError(f"No member with the key {pk!r}.") from exc
