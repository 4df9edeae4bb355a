"""A tiny browser over Flask test clients: routes each URL to the service of its host.

Each service keeps its own cookie jar (as a browser would per host). Pages are read with
lxml.html, forms are submitted with their hidden fields, exactly as a parent's browser would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.html
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse


@dataclass
class Browser:
    apps: dict[str, Flask]  # base URL -> app
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)

    def _client(self, url: str) -> tuple[FlaskClient, str, str]:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        if base not in self.apps:
            raise AssertionError(f"no service at {base} (url {url})")
        if base not in self.clients:
            self.clients[base] = self.apps[base].test_client()
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.clients[base], base, path

    def get(self, url: str) -> TestResponse:
        client, base, path = self._client(url)
        self.history.append(f"GET {url}")
        response = client.get(path, base_url=base)
        return response

    def post(self, url: str, data: dict[str, str], referer: str | None = None) -> TestResponse:
        client, base, path = self._client(url)
        self.history.append(f"POST {url}")
        headers = {"Referer": referer} if referer else {}
        response = client.post(path, base_url=base, data=data, headers=headers)
        return response

    def follow(self, response: TestResponse, max_hops: int = 10) -> TestResponse:
        """Follow redirects (across services) until a page is shown."""
        for _ in range(max_hops):
            if response.status_code not in (301, 302, 303, 307):
                return response
            response = self.get(urljoin(response.request.url, response.headers["Location"]))
        raise AssertionError("too many redirects: " + " → ".join(self.history[-max_hops:]))

    def submit(self, page: TestResponse, form_id: str | None = None, **values: str) -> TestResponse:
        """Fill a form of ``page`` (hidden fields kept) and submit it to its action."""
        doc = lxml.html.fromstring(page.get_data(as_text=True))
        forms = doc.xpath(f'//form[@id="{form_id}"]' if form_id else "//form")
        assert forms, f"no form on {page.request.url}: {page_text(page)[:300]}"
        form = forms[0]
        data = {i.get("name"): i.get("value", "") for i in form.xpath(".//input") if i.get("name")}
        data.update(values)
        target = urljoin(page.request.url, form.get("action") or page.request.url)
        # Referrer-Policy same-origin: the Referer goes along only inside one service.
        same_origin = urlsplit(target).netloc == urlsplit(page.request.url).netloc
        return self.post(target, data, referer=page.request.url if same_origin else None)


def page_text(response: TestResponse) -> str:
    return " ".join(lxml.html.fromstring(response.get_data(as_text=True)).text_content().split())
