from django.contrib import admin

from .models import ShopOrder


@admin.register(ShopOrder)
class ShopOrderAdmin(admin.ModelAdmin):
    """Read-only: orders are placed and refunded in the shop, which sends the events."""

    list_display = ["number", "customer", "product", "subtotal", "discount", "total", "status"]
    list_filter = ["status"]
    search_fields = ["number", "customer__username", "voucher_code"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
