"""Shared field options."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

money_field_kwargs: dict[str, Any] = {"max_digits": 14, "decimal_places": 4}
currency_validator = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code, e.g. USD."))
