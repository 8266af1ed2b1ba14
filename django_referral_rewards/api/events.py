"""events endpoints (being written)."""

urlpatterns: list = []
