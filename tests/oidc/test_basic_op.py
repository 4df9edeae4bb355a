"""The OpenID conformance suite's Basic OP plan (oidcc-basic-certification-test-plan), mirrored.

Each test is named after the module it mirrors; the variant is client_secret_basic, response_type
code, default response mode. Modules for features the provider does not offer (refresh tokens,
request objects) check that the refusal is the one the suite accepts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest

from idp.session_state import IdpSession
from tests.browser import page_text
from tests.oidc.rp import ISSUER


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_oidcc_server(rp, parent):
    request = rp.request()
    answer = rp.sign_in(parent, request)
    assert answer["state"] == request.state
    assert answer["iss"] == ISSUER  # RFC 9207
    response = rp.token_request(answer["code"], request.verifier)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    tokens = response.json
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    claims = rp.verify_id_token(tokens["id_token"], request.nonce)
    assert claims["auth_time"] <= claims["iat"] < claims["exp"]
    assert claims["at_hash"] == at_hash(tokens["access_token"])
    assert claims["_header"]["kid"] in {k["kid"] for k in rp.jwks().as_dict()["keys"]}


def test_oidcc_response_type_missing(rp):
    request = rp.request(response_type=None)
    answer = rp.callback(rp.authorize(request))
    assert answer["error"] in ("unsupported_response_type", "invalid_request")
    assert answer["state"] == request.state


def test_oidcc_userinfo_get(rp, parent):
    tokens = rp.tokens(parent)
    info = rp.userinfo(tokens["access_token"])
    assert info.status_code == 200
    assert info.json["sub"] == rp.verify_id_token(tokens["id_token"], tokens["_request"].nonce)["sub"]


def test_oidcc_userinfo_post_header(rp, parent):
    tokens = rp.tokens(parent)
    info = rp.userinfo(tokens["access_token"], method="POST")
    assert info.status_code == 200 and info.json["given_name"] == "Claire"


def test_oidcc_userinfo_post_body(rp, parent, op):
    tokens = rp.tokens(parent)
    info = op.test_client().post(
        "/oidc/userinfo", base_url=ISSUER, data={"access_token": tokens["access_token"]}
    )
    assert info.status_code == 200 and info.json["family_name"] == "Martin"


def test_userinfo_without_or_with_a_wrong_token_is_refused(rp, op):
    client = op.test_client()
    missing = client.get("/oidc/userinfo", base_url=ISSUER)
    assert missing.status_code == 401 and "WWW-Authenticate" in missing.headers
    wrong = rp.userinfo("not-a-token")
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_token"


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(rp, parent):
    tokens = rp.tokens(parent, nonce=None)
    claims = rp.verify_id_token(tokens["id_token"], nonce=None)
    assert "nonce" not in claims


def test_oidcc_scope_profile(rp, parent):
    tokens = rp.tokens(parent, scope="openid profile")
    info = rp.userinfo(tokens["access_token"]).json
    assert info["given_name"] == "Claire" and info["family_name"] == "Martin"
    assert "FrEduCtId" not in info  # the ÉduConnect claims need their own scope


@pytest.mark.parametrize(
    "scope", ["openid email", "openid address", "openid phone", "openid email address phone"]
)
def test_oidcc_scope_email_address_phone_all_unsupported_scopes_are_ignored(rp, parent, scope):
    tokens = rp.tokens(parent, scope=scope)
    assert tokens["scope"] == "openid"
    assert set(rp.userinfo(tokens["access_token"]).json) == {"sub"}


def test_oidcc_ensure_other_scope_order_succeeds(rp, parent):
    tokens = rp.tokens(parent, scope="educonnect profile openid")
    assert set(tokens["scope"].split()) == {"openid", "profile", "educonnect"}
    assert rp.userinfo(tokens["access_token"]).json["FrEduCtId"] == parent.id


@pytest.mark.parametrize("display", ["page", "popup"])
def test_oidcc_display_page_and_popup(rp, parent, display):
    assert "id_token" in rp.tokens(parent, display=display)


def test_oidcc_prompt_login(rp, parent):
    first = rp.tokens(parent)
    again = rp.request(prompt="login")
    login_page = rp.follow_to_client(rp.authorize(again))
    assert login_page.request.path == "/connexion"  # a session is not enough with prompt=login
    answer = rp.callback(rp.follow_to_client(rp.log_in(login_page, parent)))
    assert answer["state"] == again.state
    tokens = rp.token_request(answer["code"], again.verifier).json
    second = rp.verify_id_token(tokens["id_token"], again.nonce)
    assert second["auth_time"] >= rp.verify_id_token(first["id_token"], first["_request"].nonce)["auth_time"]


def test_prompt_login_marker_is_bound_to_its_request(rp, parent):
    """The mark that lets the resumed request through after the login cannot serve another one."""
    rp.tokens(parent)
    first = rp.request(prompt="login")
    login_page = rp.follow_to_client(rp.authorize(first))
    with rp.session() as sess:
        marker = sess["next_url"].split("connexion_demandee=")[1]
    assert "code" in rp.callback(rp.follow_to_client(rp.log_in(login_page, parent)))
    later = rp.request(prompt="login")
    later.params["connexion_demandee"] = marker
    assert rp.follow_to_client(rp.authorize(later)).request.path == "/connexion"


def test_oidcc_prompt_none_not_logged_in(rp):
    request = rp.request(prompt="none")
    answer = rp.callback(rp.authorize(request))
    assert answer["error"] == "login_required"
    assert answer["state"] == request.state and answer["iss"] == ISSUER


def test_oidcc_prompt_none_logged_in(rp, parent):
    first = rp.tokens(parent)
    request = rp.request(prompt="none")
    answer = rp.callback(rp.authorize(request))  # no login page: straight back with a code
    tokens = rp.token_request(answer["code"], request.verifier).json
    sub = rp.verify_id_token(tokens["id_token"], request.nonce)["sub"]
    assert sub == rp.verify_id_token(first["id_token"], first["_request"].nonce)["sub"]


def _age_session(rp, seconds: int) -> None:
    with rp.session() as sess:
        state = IdpSession.load(sess)
        assert state.auth_time is not None
        state.auth_time -= dt.timedelta(seconds=seconds)
        state.save(sess)


def test_oidcc_max_age_1(rp, parent):
    rp.tokens(parent)
    _age_session(rp, 5)  # the suite waits; the session is made older instead
    request = rp.request(max_age="1")
    login_page = rp.follow_to_client(rp.authorize(request))
    assert login_page.request.path == "/connexion"
    answer = rp.callback(rp.follow_to_client(rp.log_in(login_page, parent)))
    claims = rp.verify_id_token(
        rp.token_request(answer["code"], request.verifier).json["id_token"], request.nonce
    )
    assert claims["auth_time"] >= claims["iat"] - 5  # the new login, not the aged one


def test_max_age_with_prompt_none_and_an_old_session_is_login_required(rp, parent):
    rp.tokens(parent)
    _age_session(rp, 5)
    answer = rp.callback(rp.authorize(rp.request(max_age="1", prompt="none")))
    assert answer["error"] == "login_required"


def test_oidcc_max_age_10000(rp, parent):
    rp.tokens(parent)
    request = rp.request(max_age="10000")
    answer = rp.callback(rp.authorize(request))
    claims = rp.verify_id_token(
        rp.token_request(answer["code"], request.verifier).json["id_token"], request.nonce
    )
    assert "auth_time" in claims


def test_invalid_max_age_is_refused(rp):
    answer = rp.callback(rp.authorize(rp.request(max_age="-1")))
    assert answer["error"] == "invalid_request"


def test_oidcc_ensure_request_with_unknown_parameter_succeeds(rp, parent):
    assert "id_token" in rp.tokens(parent, extra_param="bonjour")


def test_oidcc_id_token_hint(rp, parent):
    first = rp.tokens(parent)
    request = rp.request(prompt="none", id_token_hint=first["id_token"])
    answer = rp.callback(rp.authorize(request))
    assert "code" in answer


def test_oidcc_login_hint(rp, parent):
    assert "id_token" in rp.tokens(parent, login_hint=parent.identifier)


def test_oidcc_ui_locales(rp, parent):
    assert "id_token" in rp.tokens(parent, ui_locales="fr-FR en")


def test_oidcc_claims_locales(rp, parent):
    assert "id_token" in rp.tokens(parent, claims_locales="fr-FR")


def test_oidcc_ensure_request_with_acr_values_succeeds(rp, parent):
    assert "id_token" in rp.tokens(parent, acr_values="1 2")


def test_oidcc_codereuse(rp, parent):
    request = rp.request()
    answer = rp.sign_in(parent, request)
    first = rp.token_request(answer["code"], request.verifier)
    assert first.status_code == 200
    assert rp.userinfo(first.json["access_token"]).status_code == 200
    second = rp.token_request(answer["code"], request.verifier)
    assert second.status_code == 400 and second.json["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: the tokens issued from the reused code are revoked.
    assert rp.userinfo(first.json["access_token"]).status_code == 401


def test_oidcc_ensure_registered_redirect_uri(rp):
    request = rp.request(redirect_uri="https://attaquant.test/oidc/retour")
    page = rp.authorize(request)
    assert page.status_code == 400 and "Location" not in page.headers
    assert "Demande de connexion refusée" in page_text(page)


def test_oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(rp):
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps({"client_id": rp.client_id}).encode()).rstrip(b"=").decode()
    answer = rp.callback(rp.authorize(rp.request(request=f"{header}.{body}.")))
    assert answer["error"] == "request_not_supported"


def test_oidcc_ensure_request_object_with_redirect_uri(rp):
    answer = rp.callback(rp.authorize(rp.request(request_uri="https://lycee.test/requete.jwt")))
    assert answer["error"] == "request_uri_not_supported"


def test_oidcc_claims_essential(rp, parent):
    claims = json.dumps({"userinfo": {"given_name": {"essential": True}}})
    tokens = rp.tokens(parent, claims=claims)
    assert rp.userinfo(tokens["access_token"]).json["given_name"] == "Claire"


def test_oidcc_refresh_token_is_not_offered(rp, parent, op):
    tokens = rp.tokens(parent, scope="openid offline_access")
    assert "refresh_token" not in tokens
    assert (
        "refresh_token"
        not in op.test_client()
        .get("/.well-known/openid-configuration", base_url=ISSUER)
        .json["grant_types_supported"]
    )


def test_oidcc_ensure_request_with_valid_pkce_succeeds(rp, parent):
    tokens = rp.tokens(parent)
    assert rp.userinfo(tokens["access_token"]).status_code == 200


def test_oidcc_ensure_redirect_uri_in_authorization_request(rp):
    page = rp.authorize(rp.request(redirect_uri=None))
    assert page.status_code == 400 and "Location" not in page.headers
    assert "Demande de connexion refusée" in page_text(page)


def test_oidcc_ensure_post_request_succeeds(rp, parent):
    request = rp.request()
    login_page = rp.follow_to_client(rp.authorize(request, method="POST"))
    answer = rp.callback(rp.follow_to_client(rp.log_in(login_page, parent)))
    assert rp.token_request(answer["code"], request.verifier).status_code == 200
