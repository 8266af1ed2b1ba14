"""member endpoints (being written)."""

urlpatterns: list = []
