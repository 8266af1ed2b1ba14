"""public endpoints (being written)."""

urlpatterns: list = []
