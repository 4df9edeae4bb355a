"""``demo --protocol oidc`` for real: three processes on loopback ports, a parent over real HTTP.

The ENT's back channel (discovery, JWKS, token, userinfo) goes through urllib here, as in
production, not through a test client.
"""

from __future__ import annotations

import http.cookiejar
import urllib.parse
import urllib.request
from collections.abc import Iterator

import lxml.html
import pytest

from tests.live_stack import live_stack


@pytest.fixture(scope="module")
def oidc_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with live_stack(tmp_path_factory.mktemp("oidc-demo"), protocol="oidc") as stack:
        assert "client OpenID Connect de démonstration : ent-demo" in stack.demo_output
        secret_file = stack.root / "var" / "ent-oidc-client.secret"
        assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
        client_file = stack.root / "config" / "oidc_clients" / "ent-demo.toml"
        assert secret_file.read_text().strip() not in client_file.read_text()
        yield stack.urls


def test_parent_signs_in_through_oidc_over_real_http(oidc_demo):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(oidc_demo["ent"] + "/connexion/educonnect", timeout=10) as login:
        assert login.url.startswith(oidc_demo["idp"] + "/connexion"), login.url
        html = login.read().decode()
    form = lxml.html.fromstring(html).xpath("//form")[0]
    data = {i.get("name"): i.get("value", "") for i in form.xpath(".//input") if i.get("name")}
    data.update(identifiant="c.martin1", mot_de_passe="Ecole-2026!")
    target = urllib.parse.urljoin(login.url, form.get("action"))
    request = urllib.request.Request(  # noqa: S310 - loopback URL of the test
        target, data=urllib.parse.urlencode(data).encode(), headers={"Referer": login.url}
    )
    with opener.open(request, timeout=10) as landing:
        assert landing.url == oidc_demo["ent"] + "/accueil"
        assert "Bonjour Claire Martin" in landing.read().decode()
    with opener.open(oidc_demo["ent"] + "/deconnexion", timeout=10) as confirm:
        page = lxml.html.fromstring(confirm.read().decode())  # a GET shows the button, ends nothing
    (token,) = page.xpath('//form[@action="/deconnexion"]//input[@name="csrf_token"]/@value')
    logout = urllib.request.Request(  # noqa: S310 - loopback URL of the test
        oidc_demo["ent"] + "/deconnexion",
        data=urllib.parse.urlencode({"csrf_token": token}).encode(),
        headers={"Referer": oidc_demo["ent"] + "/deconnexion"},
    )
    with opener.open(logout, timeout=10) as portal:
        assert portal.url == oidc_demo["ent"] + "/deconnexion/terminee"  # back from end_session
    with opener.open(oidc_demo["ent"] + "/connexion/educonnect", timeout=10) as again:
        assert again.url.startswith(oidc_demo["idp"] + "/connexion")  # ÉduConnect session ended
