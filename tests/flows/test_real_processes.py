"""The three services as real processes on loopback ports; a parent signs in over real HTTP."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from saml2.pack import http_redirect_message
from saml2.sigver import RSACrypto, import_rsa_key_from_file
from saml2.xmldsig import SIG_RSA_SHA256

from federation.saml import MAX_REDIRECT_MESSAGE_CHARS
from federation.server import GLIBC_MALLOC_TUNABLES, MAX_REQUEST_LINE_BYTES
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


# ---- long HTTP-Redirect URLs reach the application (issue 16 item 4) ---------------------------


def _signed_redirect_url(live: LiveStack, padding_chars: int) -> str:
    """A genuine AuthnRequest of the ENT, signed (HTTP-Redirect, RSA-SHA256) with the ENT's key,
    made long by a Scoping IDPList of random ProviderIDs (random: DEFLATE cannot shrink them)."""
    (key_file,) = live.root.rglob("ent-signing.key")
    ent, idp = live.urls["ent"], live.urls["idp"]
    entries = "".join(
        f'<samlp:IDPEntry ProviderID="https://{secrets.token_hex(24)}.test/saml/metadata"/>'
        for _ in range(padding_chars // 80)
    )
    xml = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="_{secrets.token_hex(16)}" Version="2.0" '
        f'IssueInstant="{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}" Destination="{idp}/saml/sso" '
        f'AssertionConsumerServiceURL="{ent}/saml/acs" '
        'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
        f"<saml:Issuer>{ent}/saml/metadata</saml:Issuer>"
        f"<samlp:Scoping><samlp:IDPList>{entries}</samlp:IDPList></samlp:Scoping></samlp:AuthnRequest>"
    )
    info = http_redirect_message(
        xml,
        f"{idp}/saml/sso",
        relay_state="etat",
        sigalg=SIG_RSA_SHA256,
        sign=True,
        backend=RSACrypto(import_rsa_key_from_file(str(key_file))),
    )
    return str(dict(info["headers"])["Location"])


def _open(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    assert url.startswith("http://127.0.0.1:")  # loopback only
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - URL checked just above
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def test_a_12k_redirect_binding_url_reaches_the_application(live: LiveStack) -> None:
    """gunicorn's default request line (4094 bytes) answered 414 to such a request."""
    url = _signed_redirect_url(live, padding_chars=20_000)
    assert 11_000 < len(url) < 13_000, len(url)
    status, html = _open(url)  # accepted: on to the login page
    assert status == 200, html[:300]
    assert "Identifiant" in html


def test_a_redirect_url_above_the_application_cap_gets_its_french_page(live: LiveStack) -> None:
    url = _signed_redirect_url(live, padding_chars=36_000)
    saml_request = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["SAMLRequest"][0]
    assert len(saml_request) > MAX_REDIRECT_MESSAGE_CHARS
    status, html = _open(url)
    assert status == 400
    assert "Demande de connexion refusée" in html  # the application's page, not gunicorn's


def test_a_long_same_origin_referer_reaches_the_application(live: LiveStack) -> None:
    """« Recommencer » on the refusal page of such a URL sends it whole (Referrer-Policy same-origin)."""
    referer = _signed_redirect_url(live, padding_chars=36_000)
    status, html = _open(live.urls["idp"] + "/connexion", {"Referer": referer})
    assert status == 200, html[:300]


def test_request_lines_beyond_the_bound_are_still_refused_by_gunicorn(live: LiveStack) -> None:
    status, body = _open(live.urls["idp"] + "/saml/sso?SAMLRequest=" + "A" * (MAX_REQUEST_LINE_BYTES + 10))
    assert status == 414
    assert "Demande de connexion refusée" not in body  # gunicorn's answer: never read by the app
