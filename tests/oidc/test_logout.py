"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) with registered URIs only."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import lxml.html
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.browser import page_text
from tests.oidc.conftest import POST_CLIENT, make_rp
from tests.oidc.rp import ISSUER

REGISTERED = "https://lycee.test/au-revoir"


def logout(rp, **params: str):
    return rp.browser.get(f"/oidc/logout?{urlencode(params)}", base_url=ISSUER)


def is_signed_in(rp) -> bool:
    return "code" in rp.callback(rp.authorize(rp.request(prompt="none")))


def test_logout_redirects_to_the_registered_uri_with_state(rp, parent):
    tokens = rp.tokens(parent)
    response = logout(rp, id_token_hint=tokens["id_token"], post_logout_redirect_uri=REGISTERED, state="bye")
    assert response.status_code == 302 and response.headers["Location"] == f"{REGISTERED}?state=bye"
    assert not is_signed_in(rp)


def test_unregistered_post_logout_redirect_uri_is_refused(rp, parent):
    tokens = rp.tokens(parent)
    response = logout(
        rp, id_token_hint=tokens["id_token"], post_logout_redirect_uri="https://attaquant.test/"
    )
    assert response.status_code == 400 and "Location" not in response.headers
    assert "Demande de connexion refusée" in page_text(response)
    assert is_signed_in(rp)  # a refused request changes nothing


def test_uri_registered_for_another_client_is_refused(rp, parent, op, oidc_clients):
    tokens = rp.tokens(parent)
    other = oidc_clients.registrations[POST_CLIENT].redirect_uri.replace("/oidc/retour", "/au-revoir")
    response = logout(rp, id_token_hint=tokens["id_token"], post_logout_redirect_uri=other)
    assert response.status_code == 400 and "Location" not in response.headers


def test_id_token_hint_not_signed_by_the_idp_is_refused(rp, parent):
    rp.tokens(parent)
    now = int(time.time())
    forged = jwt.encode(
        {"alg": "RS256"},
        {"iss": ISSUER, "aud": rp.client_id, "sub": "x", "iat": now, "exp": now + 60},
        RSAKey.generate_key(2048),
    )
    response = logout(rp, id_token_hint=forged, post_logout_redirect_uri=REGISTERED)
    assert response.status_code == 400 and "Location" not in response.headers
    assert is_signed_in(rp)


def test_client_id_must_be_the_audience_of_the_hint(rp, parent, op, oidc_clients):
    tokens = rp.tokens(parent)
    response = logout(rp, id_token_hint=tokens["id_token"], client_id=POST_CLIENT)
    assert response.status_code == 400


def test_logout_without_hint_asks_the_parent_and_does_not_redirect(rp, parent):
    rp.tokens(parent)
    page = logout(rp, client_id=rp.client_id, post_logout_redirect_uri=REGISTERED)
    assert page.status_code == 200 and "Se déconnecter d'ÉduConnect ?" in page_text(page)
    assert is_signed_in(rp)  # nothing happened yet
    doc = lxml.html.fromstring(page.get_data(as_text=True))
    fields = {i.get("name"): i.get("value") for i in doc.xpath("//form//input") if i.get("name")}
    confirmed = rp.browser.post(
        "/oidc/logout",
        base_url=ISSUER,
        data={**fields, "confirmer": "1"},
        headers={"Referer": f"{ISSUER}/oidc/logout"},
    )
    assert confirmed.status_code == 200 and "Location" not in confirmed.headers
    assert "Vous êtes déconnecté" in page_text(confirmed)
    assert not is_signed_in(rp)


def test_confirmation_without_csrf_token_is_refused(rp, parent):
    rp.tokens(parent)
    response = rp.browser.post(
        "/oidc/logout", base_url=ISSUER, data={"client_id": rp.client_id, "confirmer": "1"}
    )
    assert response.status_code == 400 and "Le formulaire a expiré" in page_text(response)
    assert is_signed_in(rp)


def test_post_logout_with_hint_from_the_rp_is_accepted(rp, parent, op):
    tokens = rp.tokens(parent)
    response = rp.browser.post(
        "/oidc/logout",
        base_url=ISSUER,
        data={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": REGISTERED},
    )
    assert response.status_code == 302 and response.headers["Location"] == REGISTERED
    assert not is_signed_in(rp)


def test_hint_of_an_expired_id_token_is_still_accepted(rp, parent, op, oidc_clients):
    """RP-Initiated Logout §2: the OP SHOULD accept ID tokens past their exp."""
    provider = op.extensions["idp"].oidc
    real_clock = provider.clock
    provider.clock = lambda: real_clock() - 7200  # an ID token issued two hours ago
    try:
        tokens = make_rp(op, oidc_clients, rp.client_id).tokens(parent)
    finally:
        provider.clock = real_clock
    rp.tokens(parent)
    response = logout(rp, id_token_hint=tokens["id_token"], post_logout_redirect_uri=REGISTERED)
    assert response.status_code == 302
