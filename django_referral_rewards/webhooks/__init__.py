"""Outbound webhooks: what a delivery's JSON says (:mod:`.payloads`). The models are
``WebhookEndpoint``, ``WebhookDelivery`` and ``WebhookAttempt``; the outbox and the
delivery live in :mod:`django_referral_rewards.services.webhooks`."""
