"""staff endpoints (being written)."""

urlpatterns: list = []
