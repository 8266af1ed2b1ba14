"""The staff fulfilment queue: the redemptions staff hand over in person (an item or a
service) and mark fulfilled, with notes and the host object they were applied to.

Two kinds of staff use it, by permission (active staff users only):

* technicians hold ``referral_rewards.fulfil_redemption``: they see, and fulfil, only
  the redemptions assigned to them; any other redemption is a 404 to them;
* supervisors hold ``referral_rewards.change_redemption``: they see every redemption,
  filter by who it is assigned to, take an unassigned one ("Assign to me") and fulfil
  any approved one.

Anyone else signed in gets a 403 page saying the queue is for staff; anonymous visitors
are sent to log in. The pages need no member account: they are staff pages in the
portal's layout. Every step goes through
:mod:`~django_referral_rewards.services.redemptions`; a step that no longer applies
(fulfilled or cancelled meanwhile, taken by someone else) is a message on the page
(status 409), never a 500, and writes nothing.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_safe

from ...adapter import user_display_name
from ...enums import OPEN_REDEMPTION_STATUSES, RedemptionStatus
from ...exceptions import InvalidArgument, InvalidTransition, ReferralRewardsError
from ...forms import FulfilRedemptionForm
from ...models import Redemption
from ...permissions import has_staff_permission
from ...services import redemptions
from .pages import paginate

#: ``?status=`` of the queue: value -> (label, statuses, ordering). The default comes
#: first: what is waiting to be fulfilled, oldest first.
STATUS_FILTERS: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {
    "approved": (_("To fulfil"), (RedemptionStatus.APPROVED,), ("requested_at", "pk")),
    "pending": (_("Waiting for approval"), (RedemptionStatus.PENDING,), ("requested_at", "pk")),
    "fulfilled": (_("Fulfilled"), (RedemptionStatus.FULFILLED,), ("-fulfilled_at", "-pk")),
    "all": (_("All"), (), ("-requested_at", "-pk")),
}
#: ``?who=`` of the queue (``unassigned`` and ``all`` for supervisors only).
WHO_FILTERS: dict[str, Any] = {
    "mine": _("Assigned to me"),
    "unassigned": _("Not assigned"),
    "all": _("Everyone's"),
}


@dataclasses.dataclass(frozen=True)
class Staff:
    """The signed-in staff user of the queue and what they may do: a ``supervisor``
    (``change_redemption``) sees and acts on every redemption, a technician
    (``fulfil_redemption`` only) on those assigned to them."""

    user: Any
    supervisor: bool

    @classmethod
    def for_user(cls, user: Any) -> Staff | None:
        """The queue's view of ``user``, or ``None`` when the queue is not theirs."""
        if has_staff_permission(user, Redemption, "change"):
            return cls(user=user, supervisor=True)
        if has_staff_permission(user, Redemption, "fulfil"):
            return cls(user=user, supervisor=False)
        return None

    def redemptions(self) -> QuerySet[Redemption]:
        """The redemptions this user may see."""
        found = Redemption.objects.all()
        if not self.supervisor:
            found = found.filter(assigned_to_id=self.user.pk)
        return found

    def may_fulfil(self, redemption: Redemption) -> bool:
        return redemption.status == RedemptionStatus.APPROVED and (
            self.supervisor or redemption.assigned_to_id == self.user.pk
        )

    def may_take(self, redemption: Redemption) -> bool:
        return (
            self.supervisor
            and redemption.status in OPEN_REDEMPTION_STATUSES
            and redemption.assigned_to_id is None
        )


StaffView = Callable[..., HttpResponse]


def staff_portal_view(view: StaffView) -> Callable[..., HttpResponse]:
    """Decorate a fulfilment view ``view(request, staff, *args, **kwargs)``: anonymous
    visitors go to ``settings.LOGIN_URL``; a signed-in user who is not active staff with
    ``fulfil_redemption`` or ``change_redemption`` gets a 403 page. No member account is
    needed (nor created)."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        staff = Staff.for_user(request.user)
        if staff is None:
            return render(
                request,
                "referral_rewards/portal/fulfilment_forbidden.html",
                {"title": gettext("The fulfilment queue is for staff")},
                status=403,
            )
        return view(request, staff, *args, **kwargs)

    return wrapper


class FulfilForm(FulfilRedemptionForm):
    """The portal's fulfilment form: notes, and what it was applied to (type and id,
    both or neither)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "rr-fulfil-%s")
        super().__init__(*args, **kwargs)
        self.fields["notes"].label = _("Notes")


def _choice(value: str, choices: dict[str, Any], default: str) -> str:
    return value if value in choices else default


@require_safe
@staff_portal_view
def fulfilment_queue(request: HttpRequest, staff: Staff) -> HttpResponse:
    """The queue: ``?status=`` ``approved`` (the default: to fulfil), ``pending``,
    ``fulfilled`` or ``all``; ``?who=`` ``mine`` (the default), and for supervisors
    ``unassigned`` or ``all``; 25 a page. A fixed number of queries, whatever the rows."""
    status = _choice(request.GET.get("status", ""), STATUS_FILTERS, "approved")
    who = _choice(request.GET.get("who", ""), WHO_FILTERS, "mine")
    if not staff.supervisor:
        who = "mine"
    _label, statuses, ordering = STATUS_FILTERS[status]
    found = staff.redemptions()
    if statuses:
        found = found.filter(status__in=statuses)
    if who == "mine":
        found = found.filter(assigned_to_id=staff.user.pk)
    elif who == "unassigned":
        found = found.filter(assigned_to__isnull=True)
    found = found.select_related("option", "account__member", "assigned_to").order_by(*ordering)
    page = paginate(request, found)

    def link(**changes: str) -> str:
        wanted = {"status": status, "who": who, **changes}
        return "?" + urlencode(wanted)

    return render(
        request,
        "referral_rewards/portal/fulfilment_queue.html",
        {
            "title": gettext("Fulfilment queue"),
            "staff": staff,
            "page": page,
            "status": status,
            "who": who,
            "status_filters": [
                {"value": value, "label": label, "url": link(status=value)}
                for value, (label, _statuses, _ordering) in STATUS_FILTERS.items()
            ],
            "who_filters": [
                {"value": value, "label": label, "url": link(who=value)}
                for value, label in WHO_FILTERS.items()
            ]
            if staff.supervisor
            else [],
            "query": urlencode({"status": status, "who": who}) + "&",
        },
    )


def _get(staff: Staff, pk: int) -> Redemption:
    """The redemption ``pk`` as the page shows it, if ``staff`` may see it; else 404
    (the same answer whether it is someone else's or does not exist)."""
    found = (
        staff.redemptions()
        .select_related(
            "program",
            "option",
            "account__member__user",
            "assigned_to",
            "fulfilled_by",
            "voucher",
        )
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404("No redemption matches the given query.")
    return found


def _locked(staff: Staff, redemption: Redemption) -> None:
    """Lock ``redemption``'s row for the step about to be taken (inside a transaction),
    refusing it when the redemption is no longer the user's to act on (reassigned to
    someone else meanwhile)."""
    if not list(staff.redemptions().select_for_update().filter(pk=redemption.pk).values_list("pk")):
        raise InvalidTransition(
            gettext("Redemption #%(pk)s is no longer assigned to you.") % {"pk": redemption.pk},
            redemption_id=redemption.pk,
        )


def _fulfil(request: HttpRequest, staff: Staff, redemption: Redemption, form: FulfilForm) -> None:
    with transaction.atomic():
        _locked(staff, redemption)
        redemptions.fulfil(
            redemption,
            by=request.user,
            notes=form.cleaned_data["notes"],
            applied_to=form.cleaned_data["applied_to"],
        )


def _take(request: HttpRequest, staff: Staff, redemption: Redemption) -> None:
    if not staff.supervisor:
        raise InvalidArgument(gettext("Only supervisors can take a redemption from the queue."))
    with transaction.atomic():
        _locked(staff, redemption)
        current = Redemption.objects.select_related("assigned_to").get(pk=redemption.pk)
        if current.assigned_to_id is not None and current.assigned_to_id != request.user.pk:
            raise InvalidTransition(
                gettext("Redemption #%(pk)s is already assigned to %(user)s.")
                % {"pk": redemption.pk, "user": user_display_name(current.assigned_to)},
                redemption_id=redemption.pk,
            )
        redemptions.assign(redemption, request.user, by=request.user)


def _render_detail(
    request: HttpRequest,
    staff: Staff,
    redemption: Redemption,
    form: FulfilForm,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    member = redemption.account.member
    user = getattr(member, "user", None)
    return render(
        request,
        "referral_rewards/portal/fulfilment_detail.html",
        {
            "title": gettext("Redemption #%(pk)s") % {"pk": redemption.pk},
            "staff": staff,
            "redemption": redemption,
            "member": member,
            "member_email": member.email or getattr(user, "email", "") or "",
            "history": redemptions.history(redemption),
            "may_fulfil": staff.may_fulfil(redemption),
            "may_take": staff.may_take(redemption),
            "form": form,
            "error": error,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@staff_portal_view
def fulfilment_detail(request: HttpRequest, staff: Staff, pk: int) -> HttpResponse:
    """One redemption: the member and how to reach them, the reward, its history. POST
    ``action=fulfil`` (with the form) marks it fulfilled; ``action=take`` assigns it to
    the supervisor posting."""
    redemption = _get(staff, pk)
    form = FulfilForm()
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "fulfil":
                form = FulfilForm(request.POST)
                if not form.is_valid():
                    return _render_detail(request, staff, redemption, form, status=400)
                _fulfil(request, staff, redemption, form)
                messages.success(
                    request,
                    gettext("Redemption #%(pk)s marked fulfilled.") % {"pk": redemption.pk},
                )
                return HttpResponseRedirect(reverse("referral_rewards:fulfilment_queue"))
            if action == "take":
                _take(request, staff, redemption)
                messages.success(
                    request,
                    gettext("Redemption #%(pk)s is assigned to you.") % {"pk": redemption.pk},
                )
                return HttpResponseRedirect(
                    reverse("referral_rewards:fulfilment_detail", kwargs={"pk": redemption.pk})
                )
            raise InvalidArgument(gettext("Choose what to do with the redemption."))
        except ReferralRewardsError as exc:
            code = 409 if isinstance(exc, InvalidTransition) else 400
            try:
                fresh = _get(staff, pk)
            except Http404:
                # Taken from a technician meanwhile: say so on the queue instead.
                messages.error(request, exc.message)
                return HttpResponseRedirect(reverse("referral_rewards:fulfilment_queue"))
            return _render_detail(request, staff, fresh, form, error=exc.message, status=code)
    return _render_detail(request, staff, redemption, form)
