from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The example host's own app: only the ``seed_demo`` command so far."""

    name = "example_project.shop"
    label = "shop"
    default_auto_field = "django.db.models.BigAutoField"
