"""The three services as real processes on loopback ports; a parent signs in over real HTTP."""

from __future__ import annotations

import http.cookiejar
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("stack")
    config = root / "config"
    (config / "demo").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "demo" / "educonnect_accounts.toml", config / "demo")
    ports = {"ent": free_port(), "idp": free_port(), "aten": free_port()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    (config / "idp.toml").write_text(
        f'base_url = "{urls["idp"]}"\n[[service_providers]]\nmetadata = "var/metadata/ent.xml"\n'
    )
    (config / "ent.toml").write_text(
        f'base_url = "{urls["ent"]}"\npeer_metadata = ["var/metadata/idp.xml"]\n'
    )
    (config / "aten.toml").write_text(f'base_url = "{urls["aten"]}"\n')
    env = {**os.environ, "EDUCONNECT_CONFIG_DIR": str(config), "EDUCONNECT_MODE": "demo"}
    for key in ("DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    cli = [sys.executable, "-m", "federation.cli"]
    subprocess.run([*cli, "demo", "--no-serve"], env=env, check=True, cwd=ROOT, capture_output=True)
    procs = [
        subprocess.Popen(
            [*cli, "serve", name, "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, port in ports.items()
    ]
    try:
        for url in urls.values():
            wait_until_ready(url)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


def http_get(url: str):
    assert url.startswith("http://127.0.0.1:")  # loopback only
    return urllib.request.urlopen(url, timeout=5)  # noqa: S310 - URL checked just above


def wait_until_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with http_get(f"{url}/readyz") as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {timeout} s")


def submit(opener: urllib.request.OpenerDirector, page_url: str, html: str, **values: str):
    doc = lxml.html.fromstring(html)
    form = doc.xpath("//form")[0]
    data = {i.get("name"): i.get("value", "") for i in form.xpath(".//input") if i.get("name")}
    data.update(values)
    target = urllib.parse.urljoin(page_url, form.get("action"))
    return opener.open(target, data=urllib.parse.urlencode(data).encode(), timeout=10)


def test_parent_signs_in_over_real_http(running_stack):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(running_stack["ent"] + "/", timeout=10) as portal:
        assert "Je dispose d'un compte Educonnect" in portal.read().decode()
    with opener.open(running_stack["ent"] + "/connexion/educonnect", timeout=10) as login:
        assert login.url.startswith(running_stack["idp"] + "/connexion")
        login_html = login.read().decode()
    with submit(opener, login.url, login_html, identifiant="c.martin1", mot_de_passe="Ecole-2026!") as post:
        assert post.url == running_stack["idp"] + "/saml/reponse"
        post_html = post.read().decode()
    with submit(opener, post.url, post_html) as landing:
        assert landing.url == running_stack["ent"] + "/accueil"
        assert "Bonjour Claire Martin" in landing.read().decode()


def test_each_service_reports_ready_and_serves_metadata(running_stack):
    for url in running_stack.values():
        with http_get(url + "/readyz") as ready:
            assert ready.status == 200
        with http_get(url + "/saml/metadata") as metadata:
            assert b"EntityDescriptor" in metadata.read()
