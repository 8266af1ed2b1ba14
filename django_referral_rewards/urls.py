"""URLs. Include them in the host's URLconf::

    path("", include("django_referral_rewards.urls")),

``/r/CODE/`` is the share link, ``codes/validate/`` the public code check and
``portal/...`` the member portal (log-in required) with the staff fulfilment queue.
"""

from django.urls import path

from .views.codes import validate_code
from .views.landing import landing
from .views.portal import base as portal_base
from .views.portal import dashboard as portal_dashboard

app_name = "referral_rewards"

urlpatterns = [
    path("r/<str:code>/", landing, name="landing"),
    path("codes/validate/", validate_code, name="validate_code"),
    # --- member portal ----------------------------------------------------------------
    path("portal/", portal_dashboard.dashboard, name="portal"),
    path("portal/program/", portal_base.choose_program, name="portal_program"),
    # codes, QR codes and cards
    # rewards, redemptions, vouchers, earnings, payouts, referrals, leaderboard
    # staff fulfilment queue
]
