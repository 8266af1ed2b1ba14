"""The REST API's kept answers to idempotent requests, for looking into what a client
sent and got (read-only: ``rewards_purge`` removes them after the retention period)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import IdempotencyRecord
from .ledger import ReadOnlyAdminMixin


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "scope", "key", "method", "path", "status_code"]
    list_filter = ["method", "status_code"]
    search_fields = ["key", "scope", "path"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = readonly_fields = (
        "scope",
        "key",
        "method",
        "path",
        "fingerprint",
        "status_code",
        "response_display",
        "created_at",
    )

    @admin.display(description=_("response body"))
    def response_display(self, obj: IdempotencyRecord) -> Any:
        return format_html("<pre>{}</pre>", json.dumps(obj.response, indent=2, ensure_ascii=False))
