"""URLs of the example project. The package has no URLs of its own yet (the member
portal, the landing link and the API come later); until then there is the admin."""

from django.contrib import admin
from django.urls import path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
]
