"""URLs of the example project: the shop's pages, the package's share link
(``/r/CODE/``) and portal, its REST API (``/api/rewards/``) and the admin."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("", include("example_project.shop.urls")),
    path("", include("django_referral_rewards.urls")),
    path("api/rewards/", include("django_referral_rewards.api.urls")),
    path("admin/", admin.site.urls),
]
