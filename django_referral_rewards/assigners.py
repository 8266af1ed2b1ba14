"""Who fulfils a redemption.

An assigner picks the staff user a redemption is assigned to when it needs someone to
act on it (an item or service fulfilled by staff). Name your own subclass of
:class:`Assigner` in ``REFERRAL_REWARDS_REDEMPTION_ASSIGNER`` to assign by skill, shop
or rota instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import Count

from .conf import app_settings
from .enums import OPEN_REDEMPTION_STATUSES

if TYPE_CHECKING:
    from .models import Redemption


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
        from .models import Redemption

        users = list(self.candidates(redemption).distinct().order_by("pk"))
        if not users:
            return None
        open_counts = (
            Redemption.objects.filter(
                status__in=OPEN_REDEMPTION_STATUSES, assigned_to__in=[u.pk for u in users]
            )
            .values("assigned_to")
            .annotate(n=Count("pk"))
            .order_by()
        )
        load = {row["assigned_to"]: row["n"] for row in open_counts}
        return min(users, key=lambda user: (load.get(user.pk, 0), user.pk))


__all__ = ["Assigner", "LeastLoadedAssigner"]
