"""OpenID Connect Front-Channel Logout 1.0 and Back-Channel Logout 1.0 of ÉduConnect's clients.

When an IdP session ends (idp.single_logout), each client that received an ID token of it is
told: its ``frontchannel_logout_uri`` with ``iss`` and ``sid`` is loaded in a hidden frame of the
logout page (Front-Channel §2-3), and a signed ``logout_token`` is POSTed to its
``backchannel_logout_uri`` (Back-Channel §2.4-2.5: ``iss``, ``aud``, ``iat``, ``exp``, ``jti``,
``events``, ``sid``, never a ``nonce``; ``typ`` ``logout+jwt``). Back-channel calls run at the
same time, each with :data:`TIMEOUT_SECONDS`: a client that does not answer delays the logout by
that much at most, and the logout counts as partial.
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from authlib.common.urls import add_params_to_uri
from joserfc import jwt

from idp.oidc.provider import OidcProvider

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL_SECONDS = 120
TIMEOUT_SECONDS = 3


class LogoutPoster(Protocol):
    """The back channel to the clients: POST a form, the HTTP status (0: no answer in time)."""

    def post(self, url: str, form: Mapping[str, str]) -> int: ...


class UrllibLogoutPoster:
    def post(self, url: str, form: Mapping[str, str]) -> int:
        if urlsplit(url).scheme not in ("https", "http"):
            return 0
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            url,
            data=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, TimeoutError, OSError):
            return 0


class ClientLogout:
    """``idp.single_logout.ClientNotifier`` for the registered OpenID Connect clients."""

    def __init__(
        self,
        provider: OidcProvider,
        poster: LogoutPoster,
        clock: Callable[[], float],
        new_jti: Callable[[], str] = lambda: secrets.token_urlsafe(16),
    ) -> None:
        self.provider = provider
        self.poster = poster
        self.clock = clock
        self.new_jti = new_jti

    def front_channel_url(self, client_id: str, sid: str) -> str | None:
        client = self.provider.client(client_id)
        if client is None or not client.frontchannel_logout_uri:
            return None
        return add_params_to_uri(client.frontchannel_logout_uri, {"iss": self.provider.issuer, "sid": sid})

    def back_channel(self, participants: list[tuple[str, str, str]]) -> bool:
        calls = []
        for client_id, _, sid in participants:
            client = self.provider.client(client_id)
            if client is not None and client.backchannel_logout_uri:
                calls.append((client.backchannel_logout_uri, self.logout_token(client_id, sid)))
        if not calls:
            return True
        with ThreadPoolExecutor(max_workers=min(8, len(calls))) as pool:
            statuses = list(
                pool.map(lambda call: self.poster.post(call[0], {"logout_token": call[1]}), calls)
            )
        return all(status == 200 for status in statuses)

    def logout_token(self, client_id: str, sid: str) -> str:
        """Back-Channel Logout §2.4, signed like the client's ID tokens."""
        client = self.provider.client(client_id)
        if client is None:
            raise ValueError(f"unknown client {client_id}")
        key = self.provider.keys.for_algorithm(client.id_token_signed_response_alg)
        now = int(self.clock())
        claims = {
            "iss": self.provider.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_TTL_SECONDS,
            "jti": self.new_jti(),
            "events": {BACKCHANNEL_EVENT: {}},
            "sid": sid,
        }
        header = {"alg": client.id_token_signed_response_alg, "kid": key.kid, "typ": "logout+jwt"}
        return jwt.encode(header, claims, key)
