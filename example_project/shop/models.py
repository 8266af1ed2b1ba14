"""The shop's own order model. The package keeps its own record of each order it is told
about (``referral_rewards.Order``, keyed by ``order_id``); the host keeps its order and
sends the events (``views.py``)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def new_order_number() -> str:
    """The id the package knows the order by (``order_id``): unique and never reused,
    unlike a primary key that a restored database may hand out again."""
    return "SO-" + secrets.token_hex(5).upper()


class ShopOrder(models.Model):
    class Status(models.TextChoices):
        COMPLETED = "completed", "Completed"
        REFUNDED = "refunded", "Refunded"

    number = models.CharField(max_length=20, unique=True, default=new_order_number)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shop_orders"
    )
    product = models.CharField(max_length=100)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    voucher_code = models.CharField(max_length=40, blank=True)
    discount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COMPLETED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.number
