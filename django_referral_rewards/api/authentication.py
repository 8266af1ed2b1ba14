"""Authentication of hosts that send events from another process, with the keys of
``REFERRAL_REWARDS_API_HOST_KEYS``: ``Authorization: Bearer <key>``, or a
``Referral-Rewards-Signature`` header (see :mod:`django_referral_rewards.signing`) so
the key never travels."""

from __future__ import annotations

import dataclasses
import hmac
from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from ..conf import app_settings
from ..exceptions import SignatureInvalid
from ..signing import SIGNATURE_HEADER, verify


@dataclasses.dataclass(frozen=True)
class HostClient:
    """The authenticated sender of a host event: ``name`` is its key's name in
    ``REFERRAL_REWARDS_API_HOST_KEYS``. Stands in for ``request.user``."""

    name: str
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    pk: None = None

    def __str__(self) -> str:
        return f"host {self.name}"


class HostKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates a request by a host key (a bearer token) or by a signature made
    with one. A request with neither is anonymous (and refused by the event
    endpoints' permission); a wrong key or signature is a 401."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[HostClient, str] | None:
        keys = app_settings.API_HOST_KEYS
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature is not None:
            try:
                secret = verify(list(keys.values()), signature, request.body)
            except SignatureInvalid as exc:
                raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from None
            return self._client(keys, secret)
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give the host key as 'Bearer <key>'.")
        given = header[1].decode("latin-1")
        for secret in keys.values():
            if hmac.compare_digest(secret.encode(), given.encode()):
                return self._client(keys, secret)
        raise exceptions.AuthenticationFailed("Unknown host key.", code="invalid_host_key")

    @staticmethod
    def _client(keys: dict[str, str], secret: str) -> tuple[HostClient, str]:
        name = next(name for name, key in keys.items() if key == secret)
        return HostClient(name), name

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
