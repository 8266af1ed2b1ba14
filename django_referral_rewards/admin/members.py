"""What the member admin offers beyond the member's fields: the member's activity
history (with a CSV download), the download of their personal data as JSON, and the
erasure of their personal data.

:class:`MemberAdminMixin` carries all three, so that a host that swaps the member
model (and registers its own admin for it) gets them by adding the mixin::

    @admin.register(ClubMember)
    class ClubMemberAdmin(MemberAdminMixin, admin.ModelAdmin):
        ...

Permissions: the activity page and the personal-data download need the view
permission on the member model; erasing needs its **delete** permission (erasure
removes a person's data for good, as deleting would, while keeping their balances and
history intact).
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_permission_codename
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ..adapter import user_display_name
from ..models import Account, PayoutEvent, RedemptionEvent
from ..services.activity import DEFAULT_LIMIT, Activity, ActivityKind, member_activity
from .helpers import form_action
from .professional import spreadsheet_safe

MEMBER_CHANGE_FORM = "admin/referral_rewards/member_change_form.html"
MEMBER_ACTIVITY = "admin/referral_rewards/member_activity.html"


class EraseConfirmForm(forms.Form):
    """The confirmation asked before erasing members' personal data."""

    confirm = forms.BooleanField(
        label=_("I understand that this cannot be undone"),
        required=True,
        help_text=_(
            "Names, contact details and traces are removed or replaced for good; balances, "
            "the ledger and the history stay, without the personal data."
        ),
    )


if TYPE_CHECKING:
    _Base = admin.ModelAdmin
else:
    _Base = object


class MemberAdminMixin(_Base):
    """Adds to a member admin (see the module's documentation) the "Activity" page
    (``<pk>/activity/``), the "Download personal data (JSON)" link
    (``<pk>/personal-data/``) and the "Erase personal data…" action (an admin that
    sets its own ``actions`` lists ``"erase_personal_data"`` among them)."""

    actions = ["erase_personal_data"]
    change_form_template = MEMBER_CHANGE_FORM
    activity_template = MEMBER_ACTIVITY
    #: How many activities the activity page (and its CSV) shows, newest first.
    activity_limit = DEFAULT_LIMIT

    # URLs.

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        info = f"{opts.app_label}_{opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/activity/",
                view(self.activity_view),
                name=f"{info}_activity",
            ),
            path(
                "<path:object_id>/personal-data/",
                view(self.personal_data_view),
                name=f"{info}_personal_data",
            ),
            *super().get_urls(),
        ]

    def _url(self, name: str, obj: Model) -> str:
        opts = self.opts
        return reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{name}",
            args=[quote(obj.pk)],
        )

    def _member_or_404(self, request: HttpRequest, object_id: str) -> Any:
        """The member, for a user with the view permission (checked first, so that
        whether a member exists is not told to anyone else)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        member = self.get_object(request, unquote(object_id))
        if member is None:
            raise Http404(_("There is no such member."))
        if not self.has_view_permission(request, member):
            raise PermissionDenied
        return member

    # The change page: links to the activity and the personal data, the erase button.

    def has_erase_permission(self, request: HttpRequest) -> bool:
        """Erasing personal data needs the delete permission on the member model."""
        opts = self.opts
        codename = get_permission_codename("delete", opts)
        return bool(request.user.has_perm(f"{opts.app_label}.{codename}"))

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if obj is not None and obj.pk is not None:
            context["activity_url"] = self._url("activity", obj)
            context["personal_data_url"] = self._url("personal_data", obj)
            action = self.get_actions(request).get("erase_personal_data")
            if action is not None:
                # Django 6.1 gives Action objects; earlier versions (func, name, description).
                label = getattr(action, "description", None) or action[2]
                context["workflow_steps"] = [("erase_personal_data", label)]
        context.setdefault("workflow_steps", [])
        return super().render_change_form(request, context, add, change, form_url, obj)

    # The activity page.

    def object_url(self, request: HttpRequest, obj: Any) -> str | None:
        """The admin page of the record an activity comes from (a history step links
        to its redemption or payout, an admin log entry to what it changed), when it
        is registered in this admin site and the user may view it."""
        if isinstance(obj, (RedemptionEvent, PayoutEvent)):
            obj = obj.redemption if isinstance(obj, RedemptionEvent) else obj.payout
        if isinstance(obj, LogEntry):
            # The member's, an account's or a referral's entry (see services.activity).
            assert obj.content_type_id is not None
            model = ContentType.objects.get_for_id(obj.content_type_id).model_class()
            if model is None:  # pragma: no cover - a model removed since it was logged
                return None
            target: Any = model(pk=obj.object_id)
        else:
            target = obj
        model_admin = self.admin_site._registry.get(type(target))
        if model_admin is None or not model_admin.has_view_permission(request, target):
            return None
        opts = target._meta
        try:
            return reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                args=[quote(target.pk)],
            )
        except NoReverseMatch:  # pragma: no cover - a registered model has a change URL
            return None

    def activity_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The member's activity, newest first: every ledger entry, reward, referral,
        fraud decision, redemption and payout step, voucher applied and admin change,
        with who did it. ``?program=<pk>`` and ``?kind=<kind>`` filter it;
        ``?format=csv`` downloads the same rows."""
        member = self._member_or_404(request, object_id)
        accounts = list(
            Account.objects.filter(member_id=member.pk).select_related("program").order_by("pk")
        )
        programs = {account.program.pk: account.program for account in accounts}
        program = request.GET.get("program", "")
        program_id = int(program) if program.isdigit() and int(program) in programs else None
        kind = request.GET.get("kind", "")
        kind = kind if kind in ActivityKind.values else ""
        activities = member_activity(
            member,
            limit=self.activity_limit,
            program=program_id,
            kinds=[kind] if kind else None,
        )
        if request.GET.get("format") == "csv":
            return self.activity_csv(member, activities)
        opts = self.opts
        filters = {
            key: value for key, value in (("program", program_id or ""), ("kind", kind)) if value
        }
        context = {
            **self.admin_site.each_context(request),
            "title": _("Activity of %(member)s") % {"member": member},
            "opts": opts,
            "original": member,
            "change_url": self._url("change", member),
            "rows": [
                {
                    "activity": activity,
                    "actor": user_display_name(activity.actor) if activity.actor else "",
                    "url": self.object_url(request, activity.object),
                }
                for activity in activities
            ],
            "limit": self.activity_limit,
            "programs": list(programs.values()),
            "kinds": ActivityKind.choices,
            "program_id": program_id,
            "kind": kind,
            "filter_query": urlencode(filters),
            "csv_query": urlencode({**filters, "format": "csv"}),
            "has_view_permission": True,
            "media": self.media,
        }
        return TemplateResponse(request, self.activity_template, context)

    def activity_csv(self, member: Any, activities: list[Activity]) -> HttpResponse:
        """The activity rows as CSV (text that a spreadsheet would run as a formula is
        made inert)."""
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="member-{member.pk}-activity.csv"'
        writer = csv.writer(response)
        writer.writerow(["at", "kind", "summary", "program", "amount", "by", "record"])
        for activity in activities:
            record = activity.object
            writer.writerow(
                [
                    timezone.localtime(activity.at).isoformat(),
                    activity.kind,
                    spreadsheet_safe(activity.summary),
                    spreadsheet_safe(activity.program.slug) if activity.program else "",
                    spreadsheet_safe(activity.amount or ""),
                    spreadsheet_safe(user_display_name(activity.actor)) if activity.actor else "",
                    f"{record._meta.label} #{record.pk}",
                ]
            )
        return response

    # Personal data.

    def personal_data_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Everything stored about the member, as a JSON download
        (:func:`~django_referral_rewards.services.privacy.export_member`). The download
        is recorded in the admin's log, with who made it."""
        from ..services import privacy

        member = self._member_or_404(request, object_id)
        response = JsonResponse(privacy.export_member(member), json_dumps_params={"indent": 2})
        response["Content-Disposition"] = (
            f'attachment; filename="member-{member.pk}-personal-data.json"'
        )
        self.log_change(request, member, str(_("Downloaded the personal data (JSON).")))
        return response

    @admin.action(description=_("Erase personal data…"), permissions=["erase"])
    def erase_personal_data(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        """Erase the personal data of the selected members
        (:func:`~django_referral_rewards.services.privacy.erase_member`), after a
        confirmation. Balances and history stay; each erasure is recorded in the admin's
        log with who made it."""
        from ..services import privacy

        def perform(member: Any, data: dict[str, Any]) -> None:
            label = f"#{member.pk} {member}"
            result = privacy.erase_member(member, erased_by=request.user)
            # The admin's log names the member as they are now (pseudonymised).
            member.refresh_from_db()
            if not result.changed:
                self.message_user(
                    request,
                    _("%(member)s: there was nothing left to erase.") % {"member": label},
                    messages.INFO,
                )
            still_open = []
            if result.open_payouts:
                n = result.open_payouts
                still_open.append(ngettext("%(n)d payout", "%(n)d payouts", n) % {"n": n})
            if result.open_redemptions:
                n = result.open_redemptions
                still_open.append(ngettext("%(n)d redemption", "%(n)d redemptions", n) % {"n": n})
            if still_open:
                self.message_user(
                    request,
                    _(
                        "%(member)s: %(open)s still open; settle or cancel them (the "
                        "destination of a payout is gone)."
                    )
                    % {"member": label, "open": gettext(" and ").join(still_open)},
                    messages.WARNING,
                )

        return form_action(
            self,
            request,
            list(queryset),
            form_class=EraseConfirmForm,
            action="erase_personal_data",
            title=_("Erase personal data"),
            intro=_(
                "The personal data of these members will be erased: their names, contact "
                "details and traces are removed or replaced for good. Their balances, "
                "ledger and history stay, without the personal data. Your name is "
                "recorded in the admin's log."
            ),
            submit_label=_("Erase personal data"),
            perform=perform,
            done_message=lambda n: (
                ngettext(
                    "Erased the personal data of %(n)d member.",
                    "Erased the personal data of %(n)d members.",
                    n,
                )
                % {"n": n}
            ),
            log_message=lambda data: str(_("Erased the personal data.")),
            describe=lambda member: f"#{member.pk} {member}",
        )


__all__ = ["EraseConfirmForm", "MemberAdminMixin"]
