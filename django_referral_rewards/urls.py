"""URLs. Include them in the host's URLconf::

path("", include("django_referral_rewards.urls")),
"""

from django.urls import path

from .views.codes import validate_code
from .views.landing import landing

app_name = "referral_rewards"

urlpatterns = [
    path("r/<str:code>/", landing, name="landing"),
    path("codes/validate/", validate_code, name="validate_code"),
]
