from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("shop/", views.shop, name="shop"),
    path("orders/<int:pk>/refund/", views.refund, name="refund"),
]
