"""Django admin for everything. Balances and the ledger are read-only; changes go
through actions that call services."""

from . import (  # noqa: F401
    api,
    codes,
    fraud,
    ledger,
    loyalty,
    orders,
    payouts,
    professional,
    redemptions,
    referrals,
    rewards,
    rules,
    vouchers,
    webhooks,
)
