"""Helpers shared by the admin modules: values and links for display, and the
intermediate page of an admin action that asks for input (a reason, a reward)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..enums import RewardKind, VoucherKind
from ..exceptions import ReferralRewardsError
from ..forms import ReasonForm
from ..models import Program
from ..policies import PERCENT_KINDS, ZERO_ALLOWED


def format_value(kind: str, value: Decimal | None, program: Program) -> str:
    """A reward or voucher value in its natural unit: ``120 points``, ``5.00 USD``,
    ``10%``, or ``whole order`` for an uncapped free item or period."""
    if value is None:
        return "—"
    if kind == RewardKind.POINTS:
        points = int(value)
        return ngettext("%(n)d point", "%(n)d points", points) % {"n": points}
    if kind in PERCENT_KINDS or kind == VoucherKind.PERCENT:
        return f"{value.normalize():f}%"
    if value == 0 and kind in ZERO_ALLOWED:  # free item / period (rewards and vouchers)
        return str(_("whole order"))
    places = program.currency_decimal_places
    return f"{value.quantize(Decimal(1).scaleb(-places))} {program.currency}"


def admin_link(obj: Model | None, label: Any = None) -> str:
    """A link to ``obj``'s admin change page (``—`` when there is none)."""
    if obj is None:
        return "—"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if label is None else label)


def changelist_link(model: type[Model], label: Any, **filters: Any) -> str:
    """A link to ``model``'s changelist filtered by ``filters``."""
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


def render_action_form(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    objects: Iterable[Any],
    describe: Callable[[Any], str] = str,
    form: Form,
    action: str,
    title: Any,
    intro: Any,
    submit_label: Any,
) -> TemplateResponse:
    """The intermediate page of an admin action that needs input (a reason, a reward):
    the selected objects, the form, and a button that posts the action again."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "submit_label": submit_label,
        "opts": model_admin.model._meta,
        "form": form,
        "items": [(obj.pk, describe(obj)) for obj in objects],
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/referral_rewards/action_form.html", context)


def form_action(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any] | Iterable[Any],
    *,
    form_class: type[Form],
    action: str,
    title: Any,
    intro: Any,
    submit_label: Any,
    perform: Callable[[Any, dict[str, Any]], Any],
    done_message: Callable[[int], str],
    log_message: Callable[[dict[str, Any]], str] | None = None,
    describe: Callable[[Any], str] = str,
) -> TemplateResponse | None:
    """An admin action that asks for input (``form_class``), then calls
    ``perform(obj, cleaned_data)`` (a service) for each selected object. A
    :class:`ReferralRewardsError` for one object is reported and the others still go
    ahead; each success is logged with ``log_message(cleaned_data)`` (default: the
    title). Returns the form page, or ``None`` (back to the changelist) once done."""
    objects = list(queryset)
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            done = 0
            for obj in objects:
                try:
                    perform(obj, data)
                except ReferralRewardsError as exc:
                    model_admin.message_user(
                        request, f"{describe(obj)}: {exc.message}", messages.ERROR
                    )
                else:
                    done += 1
                    text = log_message(data) if log_message else str(title)
                    model_admin.log_change(request, obj, text)
            if done:
                model_admin.message_user(request, done_message(done), messages.SUCCESS)
            return None
    else:
        form = form_class()
    return render_action_form(
        model_admin,
        request,
        objects=objects,
        describe=describe,
        form=form,
        action=action,
        title=title,
        intro=intro,
        submit_label=submit_label,
    )


def reason_action(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any] | Iterable[Any],
    *,
    action: str,
    title: Any,
    intro: Any,
    submit_label: Any,
    perform: Callable[[Any, str], Any],
    done_message: Callable[[int], str],
    describe: Callable[[Any], str] = str,
) -> TemplateResponse | None:
    """An admin action that asks for a reason (:class:`ReasonForm`), then calls
    ``perform(obj, reason)`` (a service) for each selected object; see
    :func:`form_action`."""
    return form_action(
        model_admin,
        request,
        queryset,
        form_class=ReasonForm,
        action=action,
        title=title,
        intro=intro,
        submit_label=submit_label,
        perform=lambda obj, data: perform(obj, data["reason"]),
        done_message=done_message,
        log_message=lambda data: f"{title}: {data['reason']}",
        describe=describe,
    )


def account_initial(request: HttpRequest) -> dict[str, Any]:
    """Initial data of a page that acts for one account: ``?account=<pk>`` preselects it
    (the links from the account admin pass it)."""
    account = request.GET.get("account", "")
    return {"account": account} if account.isdigit() else {}


def render_form_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    form: Form,
    title: Any,
    template: str,
    extra_context: dict[str, Any] | None = None,
) -> TemplateResponse:
    """Render an admin page holding one form (the "Grant a reward" and "Redeem points
    for a member" pages)."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "form": form,
        "media": model_admin.media + form.media,
        "has_view_permission": model_admin.has_view_permission(request),
        **(extra_context or {}),
    }
    return TemplateResponse(request, template, context)


WORKFLOW_CHANGE_FORM = "admin/referral_rewards/workflow_change_form.html"


class WorkflowStepsMixin:
    """For the admin of a record that staff move through a workflow with actions
    (redemptions, payouts): its change page shows the actions that apply to its status
    (``workflow_steps``: status -> action names, in order) as buttons running them.
    The admin sets ``change_form_template = WORKFLOW_CHANGE_FORM``."""

    workflow_steps: dict[str, list[str]] = {}

    def may_take_steps(self, request: HttpRequest, obj: Any) -> bool:
        return bool(self.has_change_permission(request, obj))  # type: ignore[attr-defined]

    def step_buttons(self, request: HttpRequest, obj: Any) -> list[tuple[str, Any]]:
        """``(action name, label)`` for each step that applies to ``obj`` now."""
        if obj is None or not self.may_take_steps(request, obj):
            return []
        available = self.get_actions(request)  # type: ignore[attr-defined]
        steps = []
        for name in self.workflow_steps.get(obj.status, []):
            action = available.get(name)
            if action is not None:
                # Django 6.1 gives Action objects; earlier versions (func, name, description).
                steps.append((name, getattr(action, "description", None) or action[2]))
        return steps

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        context["workflow_steps"] = self.step_buttons(request, obj)
        return super().render_change_form(  # type: ignore[misc]
            request, context, add, change, form_url, obj
        )


class RequestForMemberMixin:
    """The add page of a record members ask for (a redemption, a payout), as staff
    asking for a member: a form (``request_form_class``, its ``account`` field an
    autocomplete, ``?account=`` preselecting it) whose valid data :meth:`perform_request`
    hands to the service with the staff user. The service's refusals become form errors
    (on the field :meth:`error_field` names, else the form); nothing is written then.
    A success is logged, announced (:meth:`requested_message`) and shown."""

    request_form_class: type[Form]
    request_title: Any = ""
    request_template: str = ""

    def perform_request(self, request: HttpRequest, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def requested_message(self, obj: Any) -> str:
        raise NotImplementedError

    def error_field(self, exc: ReferralRewardsError) -> str | None:
        return None

    def request_form(self, *args: Any, **kwargs: Any) -> Form:
        form = self.request_form_class(*args, **kwargs)
        field = form.fields["account"]
        field.widget = AutocompleteSelect(
            self.model._meta.get_field("account"),  # type: ignore[attr-defined]
            self.admin_site,  # type: ignore[attr-defined]
            choices=field.choices,  # type: ignore[attr-defined]
        )
        field.widget.is_required = True
        return form

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        if request.method == "POST":
            form = self.request_form(request.POST)
            if form.is_valid():
                try:
                    obj = self.perform_request(request, form.cleaned_data)
                except ReferralRewardsError as exc:
                    form.add_error(self.error_field(exc), exc.message)
                else:
                    return self.response_requested(request, obj)
        else:
            form = self.request_form(initial=account_initial(request))
        return render_form_page(
            self,  # type: ignore[arg-type]
            request,
            form=form,
            title=self.request_title,
            template=self.request_template,
            extra_context=extra_context,
        )

    def response_requested(self, request: HttpRequest, obj: Any) -> HttpResponse:
        self.log_addition(request, obj, [{"added": {}}])  # type: ignore[attr-defined]
        self.message_user(  # type: ignore[attr-defined]
            request, self.requested_message(obj), messages.SUCCESS
        )
        if self.has_view_permission(request, obj):  # type: ignore[attr-defined]
            opts = obj._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        else:
            url = reverse("admin:index")
        return HttpResponseRedirect(url)
