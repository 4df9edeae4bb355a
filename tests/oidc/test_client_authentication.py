"""Token endpoint client authentication: client_secret_basic, client_secret_post, private_key_jwt."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.oidc.conftest import CONFIDENTIAL, JWT_CLIENT, POST_CLIENT, PROFILE_CLIENT, PUBLIC_CLIENT, make_rp
from tests.oidc.rp import ISSUER, TOKEN_URL, json_body


def _code(rp, parent):
    request = rp.request()
    return rp.sign_in(parent, request)["code"], request.verifier


def test_oidcc_server_client_secret_post(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, POST_CLIENT)
    tokens = rp.tokens(parent)
    rp.verify_id_token(tokens["id_token"], tokens["_request"].nonce)


def test_private_key_jwt(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, JWT_CLIENT)
    tokens = rp.tokens(parent)
    assert json_body(rp.userinfo(tokens["access_token"]))["given_name"] == "Claire"


@pytest.mark.parametrize("audience", [TOKEN_URL, ISSUER])
def test_private_key_jwt_audience_is_the_token_endpoint_or_the_issuer(op, oidc_clients, parent, audience):
    rp = make_rp(op, oidc_clients, JWT_CLIENT)
    code, verifier = _code(rp, parent)
    response = rp.token_request(code, verifier, client_assertion=rp.client_assertion(aud=audience))
    assert response.status_code == 200


def test_wrong_client_secret_is_refused(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, CONFIDENTIAL)
    code, verifier = _code(rp, parent)
    rp.secret = "pas-le-bon-secret"
    response = rp.token_request(code, verifier)
    assert response.status_code == 401 and json_body(response)["error"] == "invalid_client"


def test_client_may_use_only_its_registered_method(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, CONFIDENTIAL)  # registered for client_secret_basic
    code, verifier = _code(rp, parent)
    rp.auth_method = "client_secret_post"
    response = rp.token_request(code, verifier)
    assert json_body(response)["error"] == "invalid_client"


def test_confidential_client_cannot_skip_authentication(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, CONFIDENTIAL)
    code, verifier = _code(rp, parent)
    rp.auth_method = "none"
    assert json_body(rp.token_request(code, verifier))["error"] == "invalid_client"


def test_public_client_cannot_present_a_secret_it_does_not_have(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, PUBLIC_CLIENT)
    code, verifier = _code(rp, parent)
    rp.auth_method, rp.secret = "client_secret_post", "invente"
    assert json_body(rp.token_request(code, verifier))["error"] == "invalid_client"


def test_code_of_one_client_is_refused_to_another(op, oidc_clients, parent):
    owner = make_rp(op, oidc_clients, CONFIDENTIAL)
    code, verifier = _code(owner, parent)
    thief = make_rp(op, oidc_clients, PROFILE_CLIENT)
    response = thief.token_request(code, verifier, redirect_uri=owner.redirect_uri)
    assert response.status_code == 400 and json_body(response)["error"] == "invalid_grant"


def test_redirect_uri_must_match_the_authorization_request(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, CONFIDENTIAL)
    code, verifier = _code(rp, parent)
    response = rp.token_request(code, verifier, redirect_uri=rp.redirect_uri + "/")
    assert json_body(response)["error"] == "invalid_grant"


def test_private_key_jwt_assertion_is_single_use(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, JWT_CLIENT)
    assertion = rp.client_assertion()
    code, verifier = _code(rp, parent)
    assert rp.token_request(code, verifier, client_assertion=assertion).status_code == 200
    code, verifier = _code(rp, parent)
    replay = rp.token_request(code, verifier, client_assertion=assertion)
    assert replay.status_code in (400, 401) and json_body(replay)["error"] == "invalid_client"


def _forged(rp, key, alg: str, **claims) -> str:
    now = int(time.time())
    body = {
        "iss": rp.client_id,
        "sub": rp.client_id,
        "aud": TOKEN_URL,
        "jti": f"j{now}{alg}",
        "exp": now + 60,
    }
    body.update(claims)
    return jwt.encode({"alg": alg}, body, key, algorithms=[alg])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_made(rp, alg: str, secret: bytes | None) -> str:
    """A JWS built by hand: joserfc itself refuses to make these."""
    now = int(time.time())
    body = {
        "iss": rp.client_id,
        "sub": rp.client_id,
        "aud": TOKEN_URL,
        "jti": f"x{now}{alg}",
        "exp": now + 60,
    }
    signing_input = f"{_b64(json.dumps({'alg': alg}).encode())}.{_b64(json.dumps(body).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{_b64(signature)}"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda rp: _forged(rp, RSAKey.generate_key(2048), "RS256"), id="unregistered-key"),
        pytest.param(
            # Algorithm confusion: the registered public key used as an HMAC secret.
            lambda rp: _hand_made(rp, "HS256", rp.private_key.as_pem(private=False)),
            id="hs256-with-public-key",
        ),
        pytest.param(lambda rp: _hand_made(rp, "none", None), id="alg-none"),
        pytest.param(lambda rp: rp.client_assertion(aud="https://ailleurs.test/token"), id="wrong-audience"),
        pytest.param(lambda rp: rp.client_assertion(exp=int(time.time()) - 3600), id="expired"),
        pytest.param(lambda rp: rp.client_assertion(exp=int(time.time()) + 86400), id="lives-a-day"),
        pytest.param(lambda rp: rp.client_assertion(sub=CONFIDENTIAL), id="iss-differs-from-sub"),
    ],
)
def test_private_key_jwt_refusals(op, oidc_clients, parent, forge):
    rp = make_rp(op, oidc_clients, JWT_CLIENT)
    code, verifier = _code(rp, parent)
    response = rp.token_request(code, verifier, client_assertion=forge(rp))
    assert response.status_code in (400, 401) and json_body(response)["error"] == "invalid_client"
    assert "access_token" not in json_body(response)
