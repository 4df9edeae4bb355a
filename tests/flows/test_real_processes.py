"""The three services as real processes on loopback ports; a parent signs in over real HTTP."""

from __future__ import annotations

import http.cookiejar
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest

from federation.server import GLIBC_MALLOC_TUNABLES
from tests.live_stack import LiveStack, http_get, live_stack


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack


@pytest.fixture(scope="module")
def running_stack(live: LiveStack) -> dict[str, str]:
    return live.urls


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


def test_parent_creates_an_account_through_aten_over_real_http(running_stack):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(running_stack["ent"] + "/connexion/sans-compte", timeout=10) as aten_login:
        assert aten_login.url.startswith(running_stack["aten"] + "/connexion")
        html = aten_login.read().decode()
    with submit(opener, aten_login.url, html, identifiant="elegoff", mot_de_passe="Aten-LeGoff-86") as to_idp:
        to_idp_html = to_idp.read().decode()
    with submit(opener, to_idp.url, to_idp_html) as confirmed:
        assert confirmed.url == running_stack["idp"] + "/transition/compte"
        assert "Choisir mon mot de passe" in confirmed.read().decode()
    with opener.open(running_stack["idp"] + "/transition/mot-de-passe", timeout=10) as form:
        form_html = form.read().decode()
        assert "e.legoff1" in form_html
    with submit(
        opener, form.url, form_html, mot_de_passe="Rentree-2026!", confirmation="Rentree-2026!"
    ) as done:
        assert "Votre compte est créé." in done.read().decode()


def test_each_service_reports_ready_and_serves_metadata(running_stack):
    for url in running_stack.values():
        with http_get(url + "/readyz") as ready:
            assert ready.status == 200
        with http_get(url + "/saml/metadata") as metadata:
            assert b"EntityDescriptor" in metadata.read()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().partition("=")[::2] for entry in raw if entry)


def test_served_processes_run_with_the_malloc_tunables(live: LiveStack) -> None:
    """`serve` started itself again (same pid) with glibc's malloc tuned for argon2id, and its
    gunicorn workers inherit it (the tests run without GLIBC_TUNABLES)."""
    for pid in live.pids.values():
        workers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        assert workers
        for process in [pid, *map(int, workers)]:
            # /proc/PID/environ is the memory exec filled in; glibc 2.36 cuts it after the first
            # tunable while parsing (its own copy keeps them all).
            seen = _environ(process).get("GLIBC_TUNABLES", "")
            assert seen and GLIBC_MALLOC_TUNABLES.startswith(seen)
