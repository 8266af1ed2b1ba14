"""The host's side of django-referral-rewards: what a real shop writes.

* Sign-up: the code remembered from a share link (``/r/CODE/`` or ``?ref=CODE``)
  prefills the form; the user is created and ``customer_signed_up`` sent (with the
  request, for the fraud checks) in one transaction, so a code that turns out unusable
  creates nobody.
* Checkout: the voucher is applied (``apply_voucher``) and the order reported
  (``order_completed``) in the transaction that saves the shop's order.
* Refund: ``order_refunded`` takes back what the order earned and releases its voucher.
* My rewards is the package's member portal (``referral_rewards:portal``), shown in the
  shop's layout by ``templates/referral_rewards/base.html``; staff fulfil redemptions in
  its fulfilment queue. After signing up, the new customer lands on it.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from django_referral_rewards.enums import ReferralStatus
from django_referral_rewards.exceptions import CodeError, VoucherError
from django_referral_rewards.services import attribution, events, vouchers

from . import catalog
from .forms import CheckoutForm, SignUpForm
from .models import ShopOrder


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        messages.info(request, f"You are signed in as {request.user.get_username()}.")
        return redirect("referral_rewards:portal")
    if request.method == "POST":
        form = SignUpForm(request.POST)
        if form.is_valid():
            code = form.cleaned_data["referral_code"]
            try:
                with transaction.atomic():
                    user = form.save()
                    # With no typed code the package still looks at the remembered one.
                    referral = events.customer_signed_up(user, code=code or None, request=request)
            except CodeError as exc:
                form.add_error("referral_code", exc.message)
            else:
                login(request, user)
                # A referral the fraud checks blocked comes back rejected: the sign-up
                # stands, the code does not apply (and the shop does not say why).
                if referral is not None and referral.status != ReferralStatus.REJECTED:
                    messages.success(request, "Welcome! Your friend's referral code is applied.")
                else:
                    messages.success(request, "Welcome to the example shop!")
                return redirect("referral_rewards:portal")
    else:
        form = SignUpForm(initial={"referral_code": attribution.remembered_code(request) or ""})
    return render(request, "shop/signup.html", {"form": form})


@login_required
def shop(request: HttpRequest) -> HttpResponse:
    form = CheckoutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        order = place_order(request, form)
        if order is not None:
            return redirect("shop:shop")
    orders = ShopOrder.objects.filter(customer=request.user)
    return render(
        request,
        "shop/shop.html",
        {"form": form, "products": catalog.PRODUCTS.values(), "orders": orders},
    )


def place_order(request: HttpRequest, form: CheckoutForm) -> ShopOrder | None:
    product = catalog.PRODUCTS[form.cleaned_data["product"]]
    voucher_code = form.cleaned_data["voucher_code"]
    order = ShopOrder(customer=request.user, product=product.name, subtotal=product.price)
    try:
        with transaction.atomic():
            discount = Decimal("0.00")
            if voucher_code:
                discount = vouchers.apply_voucher(
                    voucher_code,
                    user=request.user,
                    order_id=order.number,
                    order_amount=product.price,
                )
            order.voucher_code = voucher_code
            order.discount = discount
            order.total = product.price - discount
            order.save()
            # The amount the customer paid: commissions are a share of it.
            outcome = events.order_completed(request.user, order.number, order.total)
    except VoucherError as exc:
        form.add_error("voucher_code", exc.message)
        return None
    text = f"Order {order.number} placed: {product.name}, ${order.total}"
    if order.discount:
        text += f" (voucher discount ${order.discount})"
    # outcome.grants holds the referrer's rewards too; tell the customer about theirs.
    mine = [grant for grant in outcome.grants if grant.account_id == outcome.order.account_id]
    if mine:
        text += ". You earned: " + ", ".join(grant.reason for grant in mine)
    messages.success(request, text + ".")
    return order


@login_required
@require_POST
def refund(request: HttpRequest, pk: int) -> HttpResponse:
    with transaction.atomic():
        order = get_object_or_404(
            ShopOrder.objects.select_for_update(), pk=pk, customer=request.user
        )
        if order.status != ShopOrder.Status.COMPLETED:
            messages.info(request, f"Order {order.number} is already refunded.")
            return redirect("shop:shop")
        outcome = events.order_refunded(request.user, order.number)
        order.status = ShopOrder.Status.REFUNDED
        order.save(update_fields=["status"])
    text = f"Order {order.number} refunded (${order.total})."
    taken = len(outcome.voided) + len(outcome.reversed)
    if taken:
        text += f" {taken} reward(s) it earned were taken back."
    if outcome.vouchers_released:
        text += " Its voucher can be used again."
    messages.success(request, text)
    return redirect("shop:shop")
