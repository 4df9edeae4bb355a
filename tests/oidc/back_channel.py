"""The ENT's server-to-server calls to ÉduConnect, routed to the IdP's Flask test client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask

from sp_ent.oidc.http_client import HttpAnswer


@dataclass
class AppsHttpClient:
    apps: dict[str, Flask]  # base URL -> app
    calls: list[str] = field(default_factory=list)

    def _route(self, url: str) -> tuple[Flask, str, str]:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.apps[base], base, path

    def get(self, url: str, headers: Mapping[str, str]) -> HttpAnswer:
        app, base, path = self._route(url)
        self.calls.append(f"GET {path}")
        response = app.test_client().get(path, base_url=base, headers=dict(headers))
        return HttpAnswer(response.status_code, response.get_data())

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> HttpAnswer:
        app, base, path = self._route(url)
        self.calls.append(f"POST {path}")
        response = app.test_client().post(path, base_url=base, data=dict(data), headers=dict(headers))
        return HttpAnswer(response.status_code, response.get_data())


@dataclass
class AppsLogoutPoster:
    """ÉduConnect's back-channel logout calls, routed to the clients' Flask test clients."""

    apps: dict[str, Flask] = field(default_factory=dict)  # base URL -> app, filled once built
    statuses: list[int] = field(default_factory=list)

    def post(self, url: str, form: Mapping[str, str]) -> int:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        response = self.apps[base].test_client().post(parts.path, base_url=base, data=dict(form))
        self.statuses.append(response.status_code)
        return response.status_code
