"""The ENT's back channel to ÉduConnect: discovery, JWKS, token and userinfo requests.

:class:`HttpClient` is what the relying party needs; :class:`UrllibHttpClient` is the production
one (http(s) only, a timeout, a size cap), the tests route the calls to the IdP's Flask app.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from federation.errors import ProtocolError
from sp_ent.errors import ProviderUnavailable

HTTP_TIMEOUT_SECONDS = 5
MAX_RESPONSE_BYTES = 256 * 1024


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except ValueError as exc:
            raise ProtocolError(f"provider answered non-JSON ({self.status})") from exc
        if not isinstance(value, dict):
            raise ProtocolError("provider answered a JSON value that is not an object")
        return value


class HttpClient(Protocol):
    """The back channel to the provider (urllib in production, the IdP's test client in tests)."""

    def get(self, url: str, headers: Mapping[str, str]) -> HttpAnswer: ...

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> HttpAnswer: ...


def _web_url(url: str) -> str:
    """Only http(s) URLs go to urllib (no ``file:`` or custom schemes from a discovery document)."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise ProtocolError(f"refused URL scheme: {url}")
    return url


class UrllibHttpClient:
    def get(self, url: str, headers: Mapping[str, str]) -> HttpAnswer:
        return self._send(urllib.request.Request(_web_url(url), headers=dict(headers)))  # noqa: S310 - http(s) only, _web_url

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> HttpAnswer:
        body = urlencode(data).encode()
        heads = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return self._send(urllib.request.Request(_web_url(url), data=body, headers=heads, method="POST"))  # noqa: S310 - http(s) only, _web_url

    def _send(self, req: urllib.request.Request) -> HttpAnswer:
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - a Request built above
                return HttpAnswer(response.status, response.read(MAX_RESPONSE_BYTES))
        except urllib.error.HTTPError as exc:
            return HttpAnswer(exc.code, exc.read(MAX_RESPONSE_BYTES))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ProviderUnavailable(f"{req.full_url}: {exc}") from exc
