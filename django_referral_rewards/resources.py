"""django-import-export resources: tables the admin exports (and, later, imports).

:class:`PayoutResource` is the bank batch: one row per payout, with who to pay, where,
how much and the payment's reference once paid::

    from django_referral_rewards.resources import export_payouts

    csv_text = export_payouts(Payout.objects.filter(status="approved"))
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from import_export import fields, resources

from .adapter import user_display_name
from .models import Payout


class PayoutResource(resources.ModelResource):
    """Payouts for a bank batch (export only)."""

    payee = fields.Field(column_name="payee")
    email = fields.Field(column_name="email")
    program = fields.Field(column_name="program", attribute="program__slug")

    class Meta:
        model = Payout
        fields = (
            "id",
            "program",
            "payee",
            "email",
            "method",
            "destination",
            "amount",
            "currency",
            "status",
            "requested_at",
            "approved_at",
            "paid_at",
            "external_reference",
        )
        export_order = fields

    def dehydrate_payee(self, payout: Payout) -> str:
        member = payout.account.member
        user = getattr(member, "user", None)
        return str(getattr(member, "name", "") or (user_display_name(user) if user else member))

    def dehydrate_email(self, payout: Payout) -> str:
        member = payout.account.member
        user = getattr(member, "user", None)
        return str(getattr(member, "email", "") or getattr(user, "email", "") or "")

    def dehydrate_amount(self, payout: Payout) -> str:
        program = payout.program
        return str(program.from_minor(program.to_minor(payout.amount)))

    def filter_export(self, queryset: QuerySet[Any], **kwargs: Any) -> QuerySet[Any]:
        return queryset.select_related("program", "account__member__user")


def export_payouts(queryset: QuerySet[Payout], *, file_format: str = "csv") -> str:
    """``queryset`` exported as CSV (or another tablib text format, e.g. ``"json"``)."""
    resource = PayoutResource()
    dataset = resource.export(resource.filter_export(queryset))
    return str(getattr(dataset, file_format))


__all__ = ["PayoutResource", "export_payouts"]
