"""Admin for campaigns, referral codes and code uses."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import cards
from ..exceptions import InvalidArgument, ReferralRewardsError
from ..models import Campaign, CodeUse, ReferralCode
from ..services import codes as code_service
from .ledger import ReadOnlyAdminMixin

CAMPAIGN_CHANGE_FORM = "admin/referral_rewards/campaign/change_form.html"
PRINT_CARDS_TEMPLATE = "admin/referral_rewards/campaign/print_cards.html"


class HandoutCardsForm(forms.Form):
    """The "Print handout cards" page: how many cards, on which paper, of which size,
    and the limits of the new codes."""

    count = forms.IntegerField(
        label=_("Number of cards"),
        min_value=1,
        max_value=cards.MAX_SHEET_CODES,
        initial=10,
        help_text=_("Each card gets a new code of its own."),
    )
    paper = forms.ChoiceField(
        label=_("Paper"), choices=[("a4", _("A4")), ("letter", _("US Letter"))], initial="a4"
    )
    card_size = forms.ChoiceField(
        label=_("Card size"),
        choices=[
            ("business", _("Business card (85 by 55 mm)")),
            ("a6", _("A6 (105 by 148 mm)")),
        ],
        initial="business",
    )
    max_uses = forms.IntegerField(
        label=_("Uses per code"),
        min_value=1,
        required=False,
        initial=1,
        help_text=_("How many customers may use each code. Empty: unlimited."),
    )
    expires_at = forms.SplitDateTimeField(
        label=_("Codes expire at"),
        required=False,
        widget=AdminSplitDateTime,
        help_text=_("Empty: when the campaign ends, or never."),
    )

    def clean_expires_at(self) -> Any:
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("Choose a time in the future."))
        return value


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "program", "starts_at", "ends_at", "budget", "active"]
    list_filter = ["active", "program"]
    list_select_related = ["program"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    change_form_template = CAMPAIGN_CHANGE_FORM

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        return [
            path(
                "<path:object_id>/cards/",
                self.admin_site.admin_view(self.print_cards_view),
                name=f"{opts.app_label}_{opts.model_name}_cards",
            ),
            *super().get_urls(),
        ]

    def has_print_cards_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Printing handout cards creates codes: it needs the permission to add
        referral codes, and to see the campaign."""
        codes_opts = ReferralCode._meta
        codename = get_permission_codename("add", codes_opts)
        return bool(
            self.has_view_permission(request, obj)
            and request.user.has_perm(f"{codes_opts.app_label}.{codename}")
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if obj is not None and obj.pk is not None and self.has_print_cards_permission(request, obj):
            opts = self.opts
            context["print_cards_url"] = reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_cards",
                args=[quote(obj.pk)],
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def print_cards_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A form (how many cards, paper, card size, limits of the codes); a valid
        POST creates that many new codes of the campaign and answers with the PDF sheet
        of their cards. A refusal (no PDF library, no site address) is a form error and
        creates no code."""
        if not self.has_print_cards_permission(request):
            raise PermissionDenied
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            raise Http404(gettext("There is no such campaign."))
        if not self.has_print_cards_permission(request, campaign):
            raise PermissionDenied
        if request.method == "POST":
            form = HandoutCardsForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    pdf, created = cards.card_sheet(
                        campaign=campaign,
                        count=data["count"],
                        paper=data["paper"],
                        card_size=data["card_size"],
                        max_uses=data["max_uses"],
                        expires_at=data["expires_at"],
                        created_by=request.user,
                        request=request,
                    )
                except ReferralRewardsError as exc:
                    form.add_error(None, exc.message)
                else:
                    batch = created[0].metadata["sheet"]["batch"]
                    self.log_change(
                        request,
                        campaign,
                        ngettext(
                            "Printed %(n)d handout card (sheet %(batch)s).",
                            "Printed %(n)d handout cards (sheet %(batch)s).",
                            len(created),
                        )
                        % {"n": len(created), "batch": batch},
                    )
                    response = HttpResponse(pdf, content_type="application/pdf")
                    response["Content-Disposition"] = content_disposition_header(
                        True, f"{campaign.slug}-cards-{timezone.localdate().isoformat()}.pdf"
                    )
                    return response
        else:
            form = HandoutCardsForm()
        papers = dict(form.fields["paper"].choices)  # type: ignore[attr-defined]
        sizes = dict(form.fields["card_size"].choices)  # type: ignore[attr-defined]
        layouts = [
            (papers[paper], sizes[size], cards.sheet_layout(paper, size).per_page)
            for paper in cards.PAPER_SIZES
            for size in cards.CARD_SIZES
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Print handout cards"),
            "opts": self.opts,
            "original": campaign,
            "form": form,
            "cards_available": cards.available(),
            "layouts": layouts,
            "has_view_permission": True,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, PRINT_CARDS_TEMPLATE, context)


class ReferralCodeForm(forms.ModelForm):
    class Meta:
        model = ReferralCode
        fields = [
            "code",
            "program",
            "kind",
            "owner",
            "campaign",
            "starts_at",
            "expires_at",
            "max_uses",
            "max_uses_per_customer",
            "active",
            "metadata",
        ]

    def clean_code(self) -> str:
        try:
            return code_service.clean_new_code(self.cleaned_data.get("code"))
        except InvalidArgument as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, owner = data.get("kind"), data.get("owner")
        if kind == "personal" and owner is None:
            self.add_error("owner", _("A personal code needs an owner."))
        elif (
            kind == "personal"
            and ReferralCode.objects.filter(personal_for=owner)
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            self.add_error("owner", _("This account already has a personal code."))
        program, campaign = data.get("program"), data.get("campaign")
        if campaign is not None and program is not None and campaign.program_id != program.pk:
            self.add_error("campaign", _("The campaign belongs to another program."))
        if owner is not None and program is not None and owner.program_id != program.pk:
            self.add_error("owner", _("The owner's account belongs to another program."))
        return data


@admin.register(ReferralCode)
class ReferralCodeAdmin(admin.ModelAdmin):
    form = ReferralCodeForm
    list_display = [
        "code",
        "kind",
        "program",
        "owner",
        "campaign",
        "uses_display",
        "expires_at",
        "active",
    ]
    list_filter = ["kind", "active", "program", "campaign"]
    list_select_related = ["program", "owner__member", "campaign"]
    search_fields = ["code", "owner__member__name", "owner__member__email"]
    raw_id_fields = ["owner"]
    readonly_fields = ["times_used"]
    actions = ["deactivate", "activate"]

    @admin.display(description=_("uses"))
    def uses_display(self, obj: ReferralCode) -> str:
        if obj.max_uses is None:
            return "—"
        return f"{obj.times_used} / {obj.max_uses}"

    def save_model(self, request: HttpRequest, obj: ReferralCode, form: Any, change: bool) -> None:
        # Only an account's one personal code carries personal_for (a unique index).
        obj.personal_for = obj.owner if obj.kind == "personal" else None
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Deactivate selected codes"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ReferralCode]) -> None:
        count = code_service.set_active(queryset, active=False)
        self.message_user(
            request,
            ngettext("Deactivated %(n)d code.", "Deactivated %(n)d codes.", count) % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Activate selected codes"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[ReferralCode]) -> None:
        count = code_service.set_active(queryset, active=True)
        self.message_user(
            request,
            ngettext("Activated %(n)d code.", "Activated %(n)d codes.", count) % {"n": count},
            messages.SUCCESS,
        )


@admin.register(CodeUse)
class CodeUseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["code", "customer", "reference_type", "reference_id", "created_at"]
    list_select_related = ["code", "customer__member", "customer__program"]
    search_fields = ["code__code", "customer__member__name", "reference_id"]
    date_hierarchy = "created_at"
