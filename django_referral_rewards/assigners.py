"""Who fulfils a redemption.

An assigner picks the staff user a redemption is assigned to when it needs someone to
act on it (an item or service fulfilled by staff). Name your own subclass of
:class:`Assigner` in ``REFERRAL_REWARDS_REDEMPTION_ASSIGNER`` to assign by skill, shop
or rota instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from .conf import app_settings
from .enums import OPEN_REDEMPTION_STATUSES

if TYPE_CHECKING:
    from .models import Redemption


def open_redemption_load() -> Any:
    """Per user (``OuterRef("pk")``): how many open (pending or approved) redemptions
    are assigned to them — the load the default assigner balances, and the figure the
    admin shows next to each staff user."""
    from .models import Redemption

    return Coalesce(
        Subquery(
            Redemption.objects.filter(
                assigned_to=OuterRef("pk"), status__in=OPEN_REDEMPTION_STATUSES
            )
            .order_by()
            .values("assigned_to")
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


class Assigner:
    """Base class: ``choose`` returns a user, or ``None`` to leave the redemption
    unassigned (staff then assign it by hand)."""

    def choose(self, redemption: Redemption) -> Any | None:
        return None


class LeastLoadedAssigner(Assigner):
    """The active staff user in the program's fulfilment group (or the
    ``REFERRAL_REWARDS_FULFILMENT_GROUP`` setting) with the fewest open (pending or
    approved) redemptions assigned; ties go to the user who joined first."""

    def group_name(self, redemption: Redemption) -> str:
        return redemption.program.fulfilment_group or app_settings.FULFILMENT_GROUP

    def candidates(self, redemption: Redemption) -> Any:
        """Users who may be chosen, as a queryset."""
        group = self.group_name(redemption)
        if not group:
            return get_user_model()._default_manager.none()
        return get_user_model()._default_manager.filter(
            is_active=True, is_staff=True, groups__name=group
        )

    def choose(self, redemption: Redemption) -> Any | None:
        return (
            self.candidates(redemption)
            .distinct()
            .annotate(open_redemptions=open_redemption_load())
            .order_by("open_redemptions", "pk")
            .first()
        )


__all__ = ["Assigner", "LeastLoadedAssigner", "open_redemption_load"]
