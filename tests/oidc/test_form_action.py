"""CSP ``form-action`` on ÉduConnect's pages while an OpenID Connect authorization waits for the
parent: exactly the registered redirect URI of that request's client, never another address.

(The browser's side, a form whose answer redirects to the client, is tests/browser_e2e/
test_oidc_journeys.py.)"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from idp.oidc.views import csp_source
from tests.oidc.rp import AUTHORIZE, ISSUER


def form_action(response) -> str:
    match = re.search(r"form-action ([^;]*);", response.headers["Content-Security-Policy"])
    assert match, response.headers["Content-Security-Policy"]
    return match.group(1)


def test_the_login_page_of_a_pending_request_may_lead_to_its_redirect_uri(rp):
    login_page = rp.follow_to_client(rp.authorize(rp.request()))
    assert login_page.request.path == "/connexion"
    assert form_action(login_page) == f"'self' {rp.redirect_uri.split('?')[0]}"


def test_without_a_pending_request_forms_stay_on_the_idp(rp):
    assert form_action(rp.get(f"{ISSUER}/connexion")) == "'self'"


@pytest.mark.parametrize(
    "redirect_uri", ["https://evil.test/oidc/retour", "https://*.test/", "*", "https://rp.test/a b"]
)
def test_an_unregistered_redirect_uri_in_the_session_allows_nothing(rp, redirect_uri):
    request = rp.request(redirect_uri=redirect_uri)
    with rp.session() as session:  # as if the session had been tampered with
        session["next_url"] = f"{AUTHORIZE}?{urlencode(request.params)}"
    assert form_action(rp.get(f"{ISSUER}/connexion")) == "'self'"


def test_an_unknown_client_or_another_path_allows_nothing(rp):
    params = rp.request().params
    for next_url in (
        f"{AUTHORIZE}?{urlencode({**params, 'client_id': 'inconnu'})}",
        f"/compte?{urlencode(params)}",
        f"{AUTHORIZE}?{urlencode(params)}&client_id={params['client_id']}",  # duplicated
    ):
        with rp.session() as session:
            session["next_url"] = next_url
        assert form_action(rp.get(f"{ISSUER}/connexion")) == "'self'", next_url


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://ent.test/oidc/retour", "https://ent.test/oidc/retour"),
        ("https://ent.test:8443/cb?x=1#f", "https://ent.test:8443/cb"),
        ("http://127.0.0.1:8000/oidc/retour", "http://127.0.0.1:8000/oidc/retour"),
        ("https://ent.test/a;script-src *", None),
        ("https://ent.test/a,b", None),
        ("https://ent.test/a b", None),
        ("javascript:alert(1)", None),
        ("https://user@ent.test/", None),
    ],
)
def test_only_a_plain_http_url_becomes_a_csp_source(url, source):
    assert csp_source(url) == source
