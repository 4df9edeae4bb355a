"""python3-saml (OneLogin, strict, wanting signed and encrypted assertions) signs the demo parent in
through the three services running as real processes (issue 16 item 6).

As an integrator would: the SP's metadata is registered with ``educonnect-bridge sp add`` (run as
a command, before the IdP starts: metadata is read at start), python3-saml reads ÉduConnect's
metadata from its URL, and Claire Martin (``c.martin1``, the demo account) signs in over HTTP.
The SP itself is the tests' Flask app (tests/onelogin_sp.py): the parent's browser talks to it
through its test client and to ÉduConnect over loopback HTTP.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
import requests
from flask import Flask

from tests.live_stack import ROOT, live_stack
from tests.onelogin_sp import BASE as SP
from tests.onelogin_sp import create_sp_app, onelogin_settings, sp_metadata

DEMO_PARENT, DEMO_PASSWORD = "c.martin1", "Ecole-2026!"  # config/demo/educonnect_accounts.toml


def sp_add(env: Mapping[str, str], root: Path) -> None:
    """The SP's metadata (built from the IdP metadata the demo exported: python3-saml needs one to
    start; its own metadata does not depend on it), registered by the documented command."""
    config = Path(env["EDUCONNECT_CONFIG_DIR"])
    # The folder `sp add` writes to by default, named as the repository's config/idp.toml names it:
    # the IdP reads no SP folder unless idp.toml names one (live_stack's idp.toml does not).
    idp_toml = config / "idp.toml"
    idp_toml.write_text('service_providers_dir = "config/service_providers"\n' + idp_toml.read_text())
    settings = onelogin_settings((root / "var" / "metadata" / "idp.xml").read_text(), root, True)
    metadata = root / "sp-onelogin.xml"
    metadata.write_text(sp_metadata(settings))
    added = subprocess.run(
        [sys.executable, "-m", "educonnect_bridge", "sp", "add", str(metadata)],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr


@dataclass(frozen=True)
class Federation:
    idp_url: str
    sp: Flask


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root = tmp_path_factory.mktemp("onelogin-live")
    with live_stack(root, before_serve=lambda env: sp_add(env, root)) as stack:
        published = requests.get(f"{stack.urls['idp']}/saml/metadata", timeout=10)
        assert published.status_code == 200
        settings = onelogin_settings(published.text, root, want_assertions_encrypted=True)
        yield Federation(stack.urls["idp"], create_sp_app(settings))


@dataclass
class Page:
    url: str
    status: int
    location: str | None
    text: str

    def form(self) -> tuple[str, dict[str, Any]]:
        (form,) = lxml.html.fromstring(self.text).xpath("//form[@method='post']")
        fields = {i.get("name"): i.get("value", "") for i in form.xpath(".//input") if i.get("name")}
        return urljoin(self.url, form.get("action") or self.url), fields


class ParentBrowser:
    """ÉduConnect over HTTP (requests, its cookies), python3-saml's SP through its test client."""

    def __init__(self, sp: Flask) -> None:
        self.http = requests.Session()
        self.sp = sp.test_client()

    def go(self, method: str, url: str, data: dict[str, Any] | None = None, referer: str = "") -> Page:
        if url.startswith(SP):
            path = urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")
            answer = self.sp.open(path, base_url=SP, method=method, data=data)
            return Page(
                url, answer.status_code, answer.headers.get("Location"), answer.get_data(as_text=True)
            )
        assert url.startswith("http://127.0.0.1:"), url  # loopback only
        headers = {"Referer": referer} if referer else {}
        reply = self.http.request(method, url, data=data, headers=headers, allow_redirects=False, timeout=10)
        return Page(url, reply.status_code, reply.headers.get("Location"), reply.text)

    def follow(self, page: Page) -> Page:
        for _ in range(10):
            if page.location is None:
                return page
            page = self.go("GET", urljoin(page.url, page.location))
        raise AssertionError(f"too many redirects from {page.url}")

    def submit(self, page: Page, **values: str) -> Page:
        action, fields = page.form()
        same_origin = urlsplit(action).netloc == urlsplit(page.url).netloc
        return self.follow(self.go("POST", action, {**fields, **values}, page.url if same_origin else ""))


def test_python3_saml_signs_the_demo_parent_in_through_the_real_processes(federation: Federation):
    browser = ParentBrowser(federation.sp)
    login = browser.follow(browser.go("GET", f"{SP}/login"))
    assert login.url.startswith(f"{federation.idp_url}/connexion"), login.text[:300]
    post_page = browser.submit(login, identifiant=DEMO_PARENT, mot_de_passe=DEMO_PASSWORD)
    action, fields = post_page.form()
    assert action == f"{SP}/acs", post_page.text[:300]
    assert b"EncryptedAssertion" in base64.b64decode(fields["SAMLResponse"])
    at_sp = browser.submit(post_page)  # python3-saml decrypts, checks both signatures, strict
    assert at_sp.url == f"{SP}/moi" and at_sp.status == 200, at_sp.text
    assert json.loads(at_sp.text)["name_id"] and json.loads(at_sp.text)["session_index"]
