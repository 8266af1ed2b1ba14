"""Customer referrals, loyalty points, rewards and payouts for any Django site."""

__version__ = "0.1.0"
