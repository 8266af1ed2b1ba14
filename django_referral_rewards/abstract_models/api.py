"""What the REST API keeps: the first answer to each idempotent request."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AbstractIdempotencyRecord(models.Model):
    """The first answer to a mutating API request sent with an ``Idempotency-Key``
    header. A request with the same key from the same client (``scope``: a user or a
    host key) gets this answer back and does nothing again; the same key with another
    request (another path, method or body, told by ``fingerprint``) is refused. Written
    in the same transaction as the request's own changes, so it exists exactly when
    they do. Deleted by ``rewards_purge`` after
    ``REFERRAL_REWARDS_API_IDEMPOTENCY_RETENTION_HOURS``."""

    scope = models.CharField(_("client"), max_length=64)
    key = models.CharField(_("idempotency key"), max_length=255)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=500)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"), default=0)
    response = models.JSONField(_("response body"), encoder=DjangoJSONEncoder, null=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="referral_rew_idem_scope_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="referral_rew_idem_created")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"
