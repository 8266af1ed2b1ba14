"""Views included with ``path("", include("django_referral_rewards.urls"))``."""
