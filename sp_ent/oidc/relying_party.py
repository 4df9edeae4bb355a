"""The ENT's code flow with ÉduConnect over its back channel (``core`` says what is accepted).

The provider's metadata and JWKS are fetched at first use and kept for the process; an ID token
signed with a key not in the cached JWKS triggers one refresh (key rollover).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from federation.errors import ProtocolError
from sp_ent.errors import ProviderUnavailable, UnknownSigningKey
from sp_ent.oidc import core
from sp_ent.oidc.core import AuthenticatedParent, PendingAuthorization, Tokens
from sp_ent.oidc.http_client import HttpClient
from sp_ent.oidc.settings import RelyingPartyConfig

JSON = {"Accept": "application/json"}


class OidcRelyingParty:
    """Built once per process by ``create_app``; ``clock`` gives the seconds since the epoch."""

    def __init__(
        self, config: RelyingPartyConfig, http: HttpClient, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.http = http
        self.clock = clock
        self._metadata: dict[str, Any] | None = None
        self._jwks: KeySet | None = None

    # --- the provider ----------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            answer = self.http.get(self.config.issuer + core.DISCOVERY_PATH, JSON)
            if answer.status != 200:
                raise ProviderUnavailable(f"discovery answered {answer.status}")
            self._metadata = core.checked_discovery(answer.json(), self.config.issuer)
        return self._metadata

    def keys(self, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            answer = self.http.get(self._endpoint("jwks_uri"), JSON)
            if answer.status != 200:
                raise ProviderUnavailable(f"jwks answered {answer.status}")
            try:
                self._jwks = KeySet.import_key_set(answer.json())  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError) as exc:
                raise ProtocolError(f"unreadable JWKS: {exc}") from exc
        return self._jwks

    def _endpoint(self, name: str) -> str:
        return core.endpoint(self.metadata(), name, self.config.issuer)

    # --- the flow --------------------------------------------------------------------------------
    def authorization_url(self, pending: PendingAuthorization, idp_hint: str | None = None) -> str:
        return core.authorization_url(
            self.config, self._endpoint("authorization_endpoint"), pending, idp_hint
        )

    def complete(self, args: Mapping[str, str], pending: PendingAuthorization) -> AuthenticatedParent:
        """The callback: the code exchanged, the ID token verified, the userinfo claims read."""
        code = core.authorization_code(args, self.config.issuer)
        form, headers = core.token_request(self.config, code, pending)
        answer = self.http.post(self._endpoint("token_endpoint"), form, headers)
        tokens = core.checked_tokens(answer.status, answer.json())
        claims = self._verified_claims(tokens, pending.nonce)
        return core.authenticated_parent(claims, self._userinfo(tokens.access_token), tokens.id_token)

    def logout_token_claims(self, logout_token: str) -> dict[str, Any]:
        """A back-channel logout token, verified (one JWKS refresh on an unknown ``kid``)."""
        try:
            return core.verified_logout_token_claims(self.config, logout_token, self.keys(), self.clock())
        except UnknownSigningKey:
            keys = self.keys(refresh=True)
            return core.verified_logout_token_claims(self.config, logout_token, keys, self.clock())

    def end_session_url(self, id_token: str) -> str | None:
        return core.end_session_url(self.config, self.metadata(), id_token)

    def _verified_claims(self, tokens: Tokens, nonce: str) -> dict[str, Any]:
        try:
            return core.verified_id_token_claims(self.config, tokens, self.keys(), nonce, self.clock())
        except UnknownSigningKey:
            keys = self.keys(refresh=True)
            return core.verified_id_token_claims(self.config, tokens, keys, nonce, self.clock())

    def _userinfo(self, access_token: str) -> dict[str, Any]:
        answer = self.http.get(
            self._endpoint("userinfo_endpoint"), {"Authorization": f"Bearer {access_token}", **JSON}
        )
        if answer.status != 200:
            raise ProtocolError(f"userinfo answered {answer.status}")
        return answer.json()
