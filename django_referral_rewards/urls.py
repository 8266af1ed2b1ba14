"""URLs. Include them in the host's URLconf::

    path("", include("django_referral_rewards.urls")),

``/r/CODE/`` is the share link, ``codes/validate/`` the public code check and
``portal/...`` the member portal (log-in required) with the staff fulfilment queue.
"""

from django.urls import path

from .views.codes import validate_code
from .views.landing import landing
from .views.portal import base as portal_base
from .views.portal import codes as portal_codes
from .views.portal import community as portal_community
from .views.portal import dashboard as portal_dashboard
from .views.portal import earnings as portal_earnings
from .views.portal import fulfilment as portal_fulfilment
from .views.portal import rewards as portal_rewards

app_name = "referral_rewards"

urlpatterns = [
    path("r/<str:code>/", landing, name="landing"),
    path("codes/validate/", validate_code, name="validate_code"),
    # --- member portal ----------------------------------------------------------------
    path("portal/", portal_dashboard.dashboard, name="portal"),
    path("portal/program/", portal_base.choose_program, name="portal_program"),
    # codes, QR codes and cards
    path("portal/codes/", portal_codes.code_list, name="portal_codes"),
    path("portal/codes/generate/", portal_codes.generate_code, name="portal_generate_code"),
    path("portal/codes/<str:code>/qr.<str:format>", portal_codes.code_qr, name="portal_code_qr"),
    path("portal/codes/<str:code>/card.pdf", portal_codes.code_card, name="portal_code_card"),
    # rewards, redemptions, vouchers, earnings, payouts, referrals, leaderboard
    path("portal/referrals/", portal_community.referrals, name="portal_referrals"),
    path("portal/rewards/", portal_rewards.catalog, name="portal_rewards"),
    path("portal/rewards/<int:pk>/redeem/", portal_rewards.redeem, name="portal_redeem"),
    path("portal/redemptions/", portal_rewards.redemption_list, name="portal_redemptions"),
    path(
        "portal/redemptions/<int:pk>/",
        portal_rewards.redemption_detail,
        name="portal_redemption",
    ),
    path(
        "portal/redemptions/<int:pk>/cancel/",
        portal_rewards.cancel_redemption,
        name="portal_cancel_redemption",
    ),
    path("portal/vouchers/", portal_rewards.voucher_list, name="portal_vouchers"),
    path("portal/earnings/", portal_earnings.earnings, name="portal_earnings"),
    path("portal/payouts/request/", portal_earnings.request_payout, name="portal_request_payout"),
    path("portal/payouts/<int:pk>/", portal_earnings.payout_detail, name="portal_payout"),
    path(
        "portal/payouts/<int:pk>/cancel/",
        portal_earnings.cancel_payout,
        name="portal_cancel_payout",
    ),
    path("portal/leaderboard/", portal_community.leaderboard, name="portal_leaderboard"),
    # staff fulfilment queue
    path("portal/fulfilment/", portal_fulfilment.fulfilment_queue, name="fulfilment_queue"),
    path(
        "portal/fulfilment/<int:pk>/",
        portal_fulfilment.fulfilment_detail,
        name="fulfilment_detail",
    ),
]
