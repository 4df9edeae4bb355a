"""``demo --protocol oidc`` for real: three processes on loopback ports, a parent over real HTTP.

The ENT's back channel (discovery, JWKS, token, userinfo) goes through urllib here, as in
production, not through a test client.
"""

from __future__ import annotations

import http.cookiejar
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator

import lxml.html
import pytest

from tests.live_stack import ROOT, _write_config, free_port, wait_until_ready


@pytest.fixture(scope="module")
def oidc_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("oidc-demo")
    ports = {"ent": free_port(), "idp": free_port(), "aten": free_port()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    config = _write_config(root, urls)
    with (config / "ent.toml").open("a") as fh:
        fh.write(f'\n[oidc]\nissuer = "{urls["idp"]}"\nclient_id = "ent-demo"\n')
    env = {**os.environ, "EDUCONNECT_CONFIG_DIR": str(config), "EDUCONNECT_MODE": "demo"}
    for key in ("DATABASE_URL", "REDIS_URL", "ENT_PROTOCOL"):
        env.pop(key, None)
    cli = [sys.executable, "-m", "educonnect_bridge"]
    prepared = subprocess.run(
        [*cli, "demo", "--no-serve", "--protocol", "oidc"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert prepared.returncode == 0, prepared.stderr
    assert "client OpenID Connect de démonstration : ent-demo" in prepared.stdout
    secret_file = root / "var" / "ent-oidc-client.secret"
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    assert secret_file.read_text().strip() not in (config / "oidc_clients" / "ent-demo.toml").read_text()
    procs = []
    try:
        for name, port in ports.items():
            procs.append(
                subprocess.Popen(
                    [*cli, "serve", name, "--port", str(port)],
                    env={**env, "ENT_PROTOCOL": "oidc"},
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for url in urls.values():
            wait_until_ready(url)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


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
    with opener.open(oidc_demo["ent"] + "/deconnexion", timeout=10) as portal:
        assert portal.url == oidc_demo["ent"] + "/"  # back from ÉduConnect's end_session
    with opener.open(oidc_demo["ent"] + "/connexion/educonnect", timeout=10) as again:
        assert again.url.startswith(oidc_demo["idp"] + "/connexion")  # ÉduConnect session ended
