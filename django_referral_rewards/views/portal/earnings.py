"""The member's commission: what they earned, asking for a payout, and following and
cancelling their payouts."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from ...enums import PayoutAction, PayoutStatus, Unit
from ...exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    InvalidTransition,
    PayoutError,
)
from ...models import LedgerEntry, Payout
from ...ratelimit import rate_limited
from ...services import payouts
from .base import Portal, portal_view, render_portal
from .forms import CancelForm, PayoutRequestForm
from .pages import form_errors, owned, page_query, paginate, timeline

#: The query parameter of the payouts' pagination (``page`` pages the ledger).
PAYOUT_PAGE = "payouts"
#: History steps not shown to the member: the payout backend's attempts (their notes
#: hold the provider's technical errors); the status shows where the payout stands.
HIDDEN_ACTIONS = (PayoutAction.SUBMITTED, PayoutAction.FAILED)


@require_safe
@portal_view
def earnings(request: HttpRequest, portal: Portal) -> HttpResponse:
    """The commission balance, what may be paid out now, the commission ledger and the
    member's payouts."""
    account = portal.account
    program = portal.program
    entries = LedgerEntry.objects.filter(account_id=account.pk, unit=Unit.COMMISSION).order_by(
        "-created_at", "-pk"
    )
    payout_rows = Payout.objects.filter(account_id=account.pk).order_by("-requested_at", "-pk")
    available = payouts.available(account)
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/earnings.html",
        {
            "title": gettext("Your earnings"),
            "balance": program.from_minor(account.commission_balance),
            "available": available,
            "minimum": program.payout_minimum,
            "can_request": available > 0 and available >= program.payout_minimum,
            "entries": paginate(request, entries),
            "entries_query": page_query(request),
            "payouts": paginate(request, payout_rows, param=PAYOUT_PAGE),
            "payouts_query": page_query(request, param=PAYOUT_PAGE),
            "payouts_param": PAYOUT_PAGE,
        },
    )


def _payout_form_page(
    request: HttpRequest, portal: Portal, form: PayoutRequestForm, *, status: int = 200
) -> HttpResponse:
    program = portal.program
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/request_payout.html",
        {
            "title": gettext("Request a payout"),
            "form": form,
            "available": payouts.available(portal.account),
            "minimum": program.payout_minimum,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@portal_view
@rate_limited("payout", methods=("POST",))
def request_payout(request: HttpRequest, portal: Portal) -> HttpResponse:
    """GET: the payout form. POST: ask for the payout (rate-limited, scope
    ``payout``). A refusal (below the minimum, more than available) is an error on
    the amount and nothing is written; the form's one-time token makes a double
    submission ask once."""
    program = portal.program
    if request.method != "POST":
        available = payouts.available(portal.account)
        initial = {"amount": available} if available >= program.payout_minimum else {}
        form = PayoutRequestForm(program=program, initial=initial)
        return _payout_form_page(request, portal, form)
    form = PayoutRequestForm(request.POST, program=program)
    if not form.is_valid():
        return _payout_form_page(request, portal, form, status=400)
    data = form.cleaned_data
    try:
        payout = payouts.request_payout(
            portal.account,
            amount=data["amount"],
            method=data["method"],
            destination=data["destination"],
            idempotency_key=form.idempotency_key(portal.member),
            requested_by=request.user,
        )
    except IdempotencyConflict:
        form.renew_token()
        form.add_error(
            None,
            gettext(
                "This form was already used for another payout request. Check the details "
                "and send it again."
            ),
        )
        return _payout_form_page(request, portal, form, status=400)
    except (PayoutError, InsufficientBalance, InvalidAmount) as exc:
        form.add_error("amount", exc.message)
        return _payout_form_page(request, portal, form, status=400)
    messages.success(
        request,
        gettext("You asked for a payout of %(amount)s by %(method)s. It waits for approval.")
        % {
            "amount": payouts.money(program, payout.amount),
            "method": payout.get_method_display().lower(),
        },
    )
    return HttpResponseRedirect(reverse("referral_rewards:portal_payout", kwargs={"pk": payout.pk}))


@require_safe
@portal_view
def payout_detail(request: HttpRequest, portal: Portal, pk: int) -> HttpResponse:
    """One payout: amount, method, where it stands, its history, and a form to cancel
    it while it waits for approval."""
    payout = owned(request, portal, Payout.objects.all(), pk)
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/payout.html",
        {
            "title": gettext("Payout #%(pk)s") % {"pk": payout.pk},
            "payout": payout,
            "timeline": timeline(payouts.history(payout), request.user, hidden=HIDDEN_ACTIONS),
            "can_cancel": payout.status == PayoutStatus.PENDING,
            "cancel_form": CancelForm(),
        },
    )


@require_POST
@portal_view
def cancel_payout(request: HttpRequest, portal: Portal, pk: int) -> HttpResponse:
    """Cancel one of the member's payouts while it waits for approval; the amount goes
    back to the commission balance. Once approved only staff may cancel it (it may be
    in a bank batch already), even when the member is staff themselves."""
    payout = owned(request, portal, Payout.objects.all(), pk)
    target = reverse("referral_rewards:portal_payout", kwargs={"pk": payout.pk})
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return HttpResponseRedirect(target)
    if payout.status != PayoutStatus.PENDING:
        messages.error(
            request,
            gettext("This payout is %(status)s; it can no longer be cancelled here.")
            % {"status": payout.get_status_display().lower()},
        )
        return HttpResponseRedirect(target)
    try:
        payouts.cancel_payout(
            payout, by=request.user, reason=form.cleaned_data["reason"], as_member=True
        )
    except InvalidTransition as exc:  # approved or cancelled since it was read
        messages.error(request, exc.message)
        return HttpResponseRedirect(target)
    messages.success(
        request,
        gettext("Your payout was cancelled; %(amount)s is back in your commission balance.")
        % {"amount": payouts.money(portal.program, payout.amount)},
    )
    return HttpResponseRedirect(target)
