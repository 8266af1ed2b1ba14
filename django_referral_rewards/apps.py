from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralRewardsConfig(AppConfig):
    name = "django_referral_rewards"
    label = "referral_rewards"
    verbose_name = _("Referral rewards")
    # Pinned so that a host's DEFAULT_AUTO_FIELD never creates migrations in site-packages.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers system checks)
            receivers,
        )

        receivers.connect()
