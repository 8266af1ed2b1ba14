from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The example host's own app: sign-up, a tiny shop with checkout and refunds, the
    member's "my rewards" page, and the ``seed_demo`` command. It shows the wiring a real
    host writes around django-referral-rewards (see ``views.py``)."""

    name = "example_project.shop"
    label = "shop"
    verbose_name = "Example shop"
    default_auto_field = "django.db.models.BigAutoField"
