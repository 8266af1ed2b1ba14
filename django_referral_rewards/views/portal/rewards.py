"""The member's rewards: the catalog, redeeming an option, their redemptions (with
history and cancellation) and the vouchers they hold."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from ...enums import (
    OPEN_REDEMPTION_STATUSES,
    RedemptionAction,
    RedemptionStatus,
    VoucherStatus,
)
from ...exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransition,
    RedemptionError,
)
from ...models import Redemption, RewardOption, Voucher
from ...ratelimit import rate_limited
from ...services import redemptions
from .base import Portal, portal_view, render_portal
from .forms import CancelForm, RedeemForm
from .pages import form_errors, owned, page_query, paginate, timeline

#: The catalog filters: every option, or only those the member can redeem now.
SHOW_FILTERS = ("all", "affordable")


@require_safe
@portal_view
def catalog(request: HttpRequest, portal: Portal) -> HttpResponse:
    """The reward catalog of the program shown: every option with whether the member
    can redeem it now and, if not, why (``?show=affordable``: only those they can)."""
    show = request.GET.get("show", "all")
    if show not in SHOW_FILTERS:
        show = "all"
    choices = redemptions.options_for(portal.account)
    listed = [choice for choice in choices if choice.allowed] if show == "affordable" else choices
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/rewards.html",
        {
            "title": gettext("Rewards"),
            "choices": listed,
            "show": show,
            "total": len(choices),
            "affordable": sum(1 for choice in choices if choice.allowed),
        },
    )


def _option(portal: Portal, pk: int) -> RewardOption:
    """An active option of the program shown; anything else is a 404."""
    option = (
        RewardOption.objects.select_related("program", "minimum_tier")
        .filter(pk=pk, program_id=portal.account.program_id, active=True)
        .first()
    )
    if option is None:
        raise Http404("No reward option matches the given query.")
    return option


def _confirmation(
    request: HttpRequest,
    portal: Portal,
    option: RewardOption,
    form: RedeemForm,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The confirmation page; ``error`` says why the last attempt failed. The form is
    offered while the member can redeem the option."""
    refusal = ""
    try:
        redemptions.available(option, portal.account)
    except (RedemptionError, InsufficientBalance) as exc:
        refusal = exc.message
    balance = portal.account.points_balance
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/redeem.html",
        {
            "title": gettext("Redeem %(name)s") % {"name": option.name},
            "option": option,
            "form": form,
            "error": error,
            "refusal": refusal if refusal != error else "",
            "can_redeem": not refusal,
            "balance_after": balance - option.points_cost,
            "needs_approval": option.needs_approval(),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@portal_view
@rate_limited("redeem", methods=("POST",))
def redeem(request: HttpRequest, portal: Portal, pk: int) -> HttpResponse:
    """GET: what the member gets, what it costs and what is left, with a "Confirm
    redemption" form. POST: redeem it (rate-limited, scope ``redeem``). The form's
    one-time token is the idempotency key, so sending the form twice redeems once."""
    option = _option(portal, pk)
    if request.method != "POST":
        return _confirmation(request, portal, option, RedeemForm())
    form = RedeemForm(request.POST)
    if not form.is_valid():
        return _confirmation(
            request, portal, option, RedeemForm(), error=form_errors(form), status=400
        )
    key = form.idempotency_key(portal.member)
    replay = Redemption.objects.filter(idempotency_key=key).exists()
    try:
        redemption = redemptions.request_redemption(
            portal.account, option, idempotency_key=key, requested_by=request.user
        )
    except IdempotencyConflict:
        form.renew_token()
        return _confirmation(
            request,
            portal,
            option,
            form,
            error=gettext(
                "This form was already used for another request. Check the details and "
                "confirm again."
            ),
            status=400,
        )
    except (RedemptionError, InsufficientBalance) as exc:
        return _confirmation(request, portal, option, form, error=exc.message, status=400)
    # A replay (the form sent twice) adds no message: the first answer said it already.
    if not replay:
        messages.success(
            request,
            ngettext(
                "You redeemed %(name)s for %(points)d point.",
                "You redeemed %(name)s for %(points)d points.",
                redemption.points,
            )
            % {"name": option.name, "points": redemption.points},
        )
        if redemption.status == RedemptionStatus.PENDING:
            messages.info(
                request,
                gettext("It waits for approval; if it is not approved, your points come back."),
            )
    return HttpResponseRedirect(
        reverse("referral_rewards:portal_redemption", kwargs={"pk": redemption.pk})
    )


@require_safe
@portal_view
def redemption_list(request: HttpRequest, portal: Portal) -> HttpResponse:
    """The member's redemptions in the program shown, newest first (``?status=``)."""
    status = request.GET.get("status", "")
    if status not in RedemptionStatus.values:
        status = ""
    rows = (
        Redemption.objects.filter(account_id=portal.account.pk)
        .select_related("option", "voucher")
        .order_by("-requested_at", "-pk")
    )
    if status:
        rows = rows.filter(status=status)
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/redemptions.html",
        {
            "title": gettext("Your redemptions"),
            "page": paginate(request, rows),
            "query": page_query(request),
            "status": status,
            "statuses": RedemptionStatus.choices,
        },
    )


#: History steps not shown to the member: who on the staff handles it is internal.
HIDDEN_ACTIONS = (RedemptionAction.ASSIGNED,)


@require_safe
@portal_view
def redemption_detail(request: HttpRequest, portal: Portal, pk: int) -> HttpResponse:
    """One redemption: what was asked for, where it stands, its history, the voucher
    it issued, and a form to cancel it while it is not fulfilled."""
    redemption = owned(
        request,
        portal,
        Redemption.objects.select_related("option", "voucher"),
        pk,
    )
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/redemption.html",
        {
            "title": gettext("Redemption of %(name)s") % {"name": redemption.option.name},
            "redemption": redemption,
            "timeline": timeline(
                redemptions.history(redemption), request.user, hidden=HIDDEN_ACTIONS
            ),
            "can_cancel": redemption.status in OPEN_REDEMPTION_STATUSES,
            "cancel_form": CancelForm(),
        },
    )


@require_POST
@portal_view
def cancel_redemption(request: HttpRequest, portal: Portal, pk: int) -> HttpResponse:
    """Cancel one of the member's redemptions that is not fulfilled yet; the points
    come back."""
    redemption = owned(request, portal, Redemption.objects.select_related("option"), pk)
    target = reverse("referral_rewards:portal_redemption", kwargs={"pk": redemption.pk})
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return HttpResponseRedirect(target)
    try:
        redemptions.cancel(redemption, by=request.user, reason=form.cleaned_data["reason"])
    except InvalidTransition as exc:
        # Fulfilled, or handled by staff since the page was shown.
        messages.error(request, exc.message)
        return HttpResponseRedirect(target)
    messages.success(
        request,
        ngettext(
            "Your redemption was cancelled; %(points)d point is back in your balance.",
            "Your redemption was cancelled; %(points)d points are back in your balance.",
            redemption.points,
        )
        % {"points": redemption.points},
    )
    return HttpResponseRedirect(target)


@require_safe
@portal_view
def voucher_list(request: HttpRequest, portal: Portal) -> HttpResponse:
    """The vouchers the member holds in the program shown, newest first."""
    rows = Voucher.objects.filter(account_id=portal.account.pk).order_by("-created_at", "-pk")
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/vouchers.html",
        {
            "title": gettext("Your vouchers"),
            "page": paginate(request, rows),
            "query": page_query(request),
            "now": timezone.now(),
            "issued": VoucherStatus.ISSUED,
        },
    )
