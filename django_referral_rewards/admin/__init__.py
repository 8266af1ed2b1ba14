"""Django admin for everything. Balances and the ledger are read-only; changes go
through actions that call services."""

from . import codes, ledger, orders, referrals, rewards, rules, vouchers  # noqa: F401
