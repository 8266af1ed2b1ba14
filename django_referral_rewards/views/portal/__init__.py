"""The member portal: server-rendered pages a signed-in member uses to share their
code, follow their referrals, redeem rewards and request payouts, and the staff
fulfilment queue. Every page extends ``referral_rewards/portal/base.html``."""
