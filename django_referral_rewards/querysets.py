"""Read-side query methods, reused by services, admin, views and the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from django.db import models

from .exceptions import LedgerImmutable, ProgramNotFound

if TYPE_CHECKING:
    from .models import Account, Program  # noqa: F401


class ProgramQuerySet(models.QuerySet["Program"]):
    def active(self) -> ProgramQuerySet:
        return self.filter(active=True)

    def get_default(self) -> Program:
        """The default program (``REFERRAL_REWARDS_DEFAULT_PROGRAM``), created if missing."""
        from .conf import app_settings

        program, _ = self.get_or_create(
            slug=app_settings.DEFAULT_PROGRAM,
            defaults={"name": "Default program", "currency": app_settings.DEFAULT_CURRENCY},
        )
        return program

    def resolve(self, program: Program | str | None) -> Program:
        """Accept a ``Program``, its slug, or ``None`` (the default program)."""
        if program is None:
            return self.get_default()
        if isinstance(program, self.model):
            return program
        if isinstance(program, str):
            try:
                return self.get(slug=program)
            except self.model.DoesNotExist:
                raise ProgramNotFound(f"No program with slug {program!r}.", slug=program) from None
        raise ProgramNotFound(f"Expected a Program, a slug or None, not {program!r}.")


class AccountQuerySet(models.QuerySet["Account"]):
    def for_user(self, user: Any) -> AccountQuerySet:
        return self.filter(member__user=user)

    def in_program(self, program: Program | str | None) -> AccountQuerySet:
        """Filter by a Program, a slug, or ``None`` (the default program) in one join,
        without a separate query to look the program up."""
        from .conf import app_settings
        from .models import Program

        if isinstance(program, Program):
            return self.filter(program_id=program.pk)
        return self.filter(program__slug=program or app_settings.DEFAULT_PROGRAM)


class LedgerEntryQuerySet(models.QuerySet[Any]):
    """Ledger entries are append-only: bulk update and delete are refused."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise LedgerImmutable()

    def delete(self) -> NoReturn:
        raise LedgerImmutable()


class EarnLotQuerySet(models.QuerySet[Any]):
    def open(self) -> EarnLotQuerySet:
        """Lots with something left to spend or expire."""
        return self.filter(remaining__gt=0)

    def due(self, now: Any) -> EarnLotQuerySet:
        """Open lots whose expiry date has passed."""
        return self.open().filter(expires_at__lte=now)

    def fifo(self) -> EarnLotQuerySet:
        """Soonest expiry first; lots that never expire last; then oldest first."""
        return self.order_by(models.F("expires_at").asc(nulls_last=True), "pk")


class ReferralCodeQuerySet(models.QuerySet[Any]):
    def lookup(self, typed: Any) -> Any:
        """The code a customer typed: case, spaces and dashes ignored; for generated
        codes ``O``/``I``/``L`` are read as ``0``/``1``. ``None`` if there is none."""
        from .codes import lookup_candidates, normalize

        normalized = normalize(typed)
        if not normalized:
            return None
        return self.filter(code__in=lookup_candidates(normalized)).first()
