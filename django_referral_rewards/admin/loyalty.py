"""Admin for loyalty tiers and the reward catalog: settings staff edit here, validated
by the models. Redemptions of the catalog are in :mod:`.redemptions`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.db.models.fields.related import ForeignKey
from django.http import HttpRequest, QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..enums import OptionKind, RewardKind, TierBasis
from ..models import Account, Redemption, RewardOption, Tier
from .helpers import changelist_link, format_value
from .ledger import tier_label

# --- tiers -------------------------------------------------------------------------


class TierChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return tier_label(obj)


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    """Tiers of each program, best last. A member reaches the highest active tier whose
    threshold they meet (``services.tiers``)."""

    list_display = [
        "program",
        "rank",
        "name",
        "basis",
        "window",
        "threshold_display",
        "multiplier",
        "active",
        "member_count",
    ]
    list_display_links = ["name"]
    list_filter = ["program", "basis", "window", "active"]
    list_select_related = ["program"]
    search_fields = ["name", "program__name"]
    ordering = ["program__name", "rank"]
    fieldsets = [
        (None, {"fields": ["program", "name", "rank", "active"]}),
        (_("Qualifying"), {"fields": ["basis", "window", "threshold"]}),
        (_("Benefits"), {"fields": ["multiplier", "benefits"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tier]:
        return super().get_queryset(request).annotate(member_count=Count("accounts"))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Members are in the tier: it stays in its program.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "program"] if obj is not None else fields

    @admin.display(description=_("threshold"), ordering="threshold")
    def threshold_display(self, obj: Tier) -> str:
        kind = RewardKind.POINTS if obj.basis == TierBasis.POINTS else RewardKind.CREDIT
        return format_value(kind, obj.threshold, obj.program)

    @admin.display(description=_("members"), ordering="member_count")
    def member_count(self, obj: Tier) -> str:
        count = getattr(obj, "member_count", None)
        if count is None:  # not annotated (e.g. a freshly saved object)
            count = Account.objects.filter(tier=obj).count()
        return changelist_link(Account, count, tier=obj.pk)


# --- the reward catalog ------------------------------------------------------------


class AvailableNowFilter(admin.SimpleListFilter):
    """Options members can redeem right now: active, inside their window, in stock
    (the same test as :meth:`RewardOption.is_available`, in the database)."""

    title = _("available now")
    parameter_name = "available"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        available = (
            Q(active=True)
            & (Q(starts_at__isnull=True) | Q(starts_at__lte=now))
            & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
            & (Q(stock__isnull=True) | Q(stock__gt=0))
        )
        if self.value() == "yes":
            return queryset.filter(available)
        if self.value() == "no":
            return queryset.exclude(available)
        return queryset


class RewardOptionForm(forms.ModelForm):
    """The option form, guarding the stock against lost updates: redemptions take
    stock while staff edit, so the stock is only written when staff changed it, and
    only if nobody took any since the form was shown."""

    #: The stock when the form was shown ("" for unlimited).
    stock_seen = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stock_changed = True
        if self.instance.pk is not None:
            self.fields["stock_seen"].initial = _stock_text(self.instance.stock)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None or "stock" not in data:
            return data
        current = self.instance.stock  # as loaded for this request
        seen = self.data.get(self.add_prefix("stock_seen"), _stock_text(current))
        self.stock_changed = _stock_text(data["stock"]) != seen
        if self.stock_changed and _stock_text(current) != seen:
            self.add_error(
                "stock",
                _(
                    "The stock changed while you were editing (redemptions take from it): "
                    "%(current)s now. Check it and save again."
                )
                % {"current": current if current is not None else _("unlimited")},
            )
            if isinstance(self.data, QueryDict):  # show the current stock as seen from now on
                posted = self.data.copy()
                posted[self.add_prefix("stock_seen")] = _stock_text(current)
                self.data = posted
        return data


def _stock_text(stock: int | None) -> str:
    return "" if stock is None else str(stock)


@admin.register(RewardOption)
class RewardOptionAdmin(admin.ModelAdmin):
    """The reward catalog. Model validation (voucher kind, value, window, the minimum
    tier's program) shows as form errors; the program is fixed once the option exists."""

    form = RewardOptionForm
    list_display = [
        "name",
        "program",
        "points_cost",
        "kind",
        "value_display",
        "stock",
        "per_member_limit",
        "minimum_tier",
        "needs_approval_display",
        "available_display",
        "active",
    ]
    list_filter = [
        "program",
        "kind",
        "active",
        AvailableNowFilter,
        "requires_approval",
        ("minimum_tier", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["program", "minimum_tier"]
    search_fields = ["name", "description"]
    ordering = ["program__name", "position", "points_cost", "pk"]
    fieldsets = [
        (None, {"fields": ["program", "name", "description", "position", "active"]}),
        (
            _("Cost and reward"),
            {"fields": ["points_cost", "kind", "voucher_kind", "value", "voucher_valid_days"]},
        ),
        (
            _("Who and how many"),
            {
                "fields": [
                    "minimum_tier",
                    "per_member_limit",
                    "stock",
                    "stock_seen",
                    "requires_approval",
                ]
            },
        ),
        (_("Availability"), {"fields": ["starts_at", "ends_at", "redemptions_link"]}),
    ]
    readonly_fields = ["redemptions_link"]

    @admin.display(description=_("value"), ordering="value")
    def value_display(self, obj: RewardOption) -> str:
        if obj.kind == OptionKind.VOUCHER:
            return format_value(obj.voucher_kind, obj.value, obj.program)
        if obj.value:
            return format_value(RewardKind.CREDIT, obj.value, obj.program)
        return "—"

    @admin.display(description=_("needs approval"), boolean=True)
    def needs_approval_display(self, obj: RewardOption) -> bool:
        return obj.needs_approval()

    @admin.display(description=_("available now"), boolean=True)
    def available_display(self, obj: RewardOption) -> bool:
        return obj.is_available()

    @admin.display(description=_("redemptions"))
    def redemptions_link(self, obj: RewardOption) -> str:
        if obj.pk is None:
            return "—"
        return changelist_link(
            Redemption, _("redemptions of this reward"), option__id__exact=obj.pk
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "program"] if obj is not None else fields

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.name == "minimum_tier":
            kwargs["queryset"] = Tier.objects.select_related("program").order_by(
                "program__name", "rank"
            )
            kwargs["form_class"] = TierChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        field = form.base_fields.get("minimum_tier")
        if obj is not None and isinstance(field, forms.ModelChoiceField):  # only its tiers
            field.queryset = (
                Tier.objects.filter(program_id=obj.program_id)
                .select_related("program")
                .order_by("rank")
            )
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Never write back a stock that redemptions changed meanwhile.
        names = [
            field.name
            for field in obj._meta.concrete_fields
            if not field.primary_key and field.name != "stock"
        ]
        obj.save(update_fields=names)
        if form.stock_changed:
            seen = form.initial.get("stock")
            updated = (
                RewardOption.objects.filter(pk=obj.pk)
                .filter(Q(stock__isnull=True) if seen is None else Q(stock=seen))
                .update(stock=obj.stock)
            )
            if not updated:
                obj.refresh_from_db(fields=["stock"])
                self.message_user(
                    request,
                    _("The stock changed while saving and was left at %(stock)s.")
                    % {"stock": obj.stock if obj.stock is not None else _("unlimited")},
                    messages.WARNING,
                )


__all__ = ["RewardOptionAdmin", "TierAdmin"]
