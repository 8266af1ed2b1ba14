"""URLs of the REST API. Include them under a prefix of your choice::

    path("api/rewards/", include("django_referral_rewards.api.urls")),

``schema/`` serves the OpenAPI 3 schema; ``me/...`` are the signed-in member's
endpoints, ``staff/...`` the staff endpoints, ``events/...`` the host event endpoints,
and ``codes/validate/`` the public code check.
"""

from django.urls import include, path

from . import events, member, public, staff
from .schema import SchemaView

app_name = "referral_rewards_api"

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("", include(public.urlpatterns)),
    path("me/", include(member.urlpatterns)),
    path("staff/", include(staff.urlpatterns)),
    path("events/", include(events.urlpatterns)),
]
