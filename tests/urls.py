from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_referral_rewards.urls")),
    path("signup/", lambda request: HttpResponse("signup page"), name="signup"),
    path("", lambda request: HttpResponse("home"), name="home"),
]

if settings.HAS_API:
    from tests.api.views import CreditView

    urlpatterns.insert(1, path("api/rewards/", include("django_referral_rewards.api.urls")))
    urlpatterns.insert(2, path("test-api/credit/", CreditView.as_view(), name="test_api_credit"))
