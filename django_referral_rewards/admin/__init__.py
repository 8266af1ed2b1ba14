"""Django admin for everything. Balances and the ledger are read-only; changes go
through actions that call services."""

from . import codes, ledger, referrals, rewards  # noqa: F401
