"""The conformance suite's Config OP plan (oidcc-config-certification-test-plan), and key rollover."""

from __future__ import annotations

import shutil

import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from idp import create_app
from idp.oidc.keys import generate_next_keys, rotate_keys
from tests.oidc.conftest import CONFIDENTIAL, ES256_CLIENT, make_rp
from tests.oidc.rp import ISSUER


def test_oidcc_discovery_endpoint_verification(op):
    response = op.test_client().get("/.well-known/openid-configuration", base_url=ISSUER)
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.json
    OpenIDProviderMetadata(document).validate()  # every REQUIRED member, RS256 included
    assert document["issuer"] == ISSUER
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert document[endpoint].startswith(ISSUER + "/")
    assert document["response_types_supported"] == ["code"]
    assert document["grant_types_supported"] == ["authorization_code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["subject_types_supported"] == ["pairwise"]
    assert set(document["id_token_signing_alg_values_supported"]) == {"RS256", "ES256"}
    assert set(document["token_endpoint_auth_methods_supported"]) >= {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    }
    assert {"FrEduCtId", "FrEduVecteur", "given_name", "family_name"} <= set(document["claims_supported"])
    assert document["end_session_endpoint"] == f"{ISSUER}/oidc/logout"


def test_jwks_publishes_rs256_and_es256_public_keys_with_kid(op):
    jwks = op.test_client().get("/oidc/jwks", base_url=ISSUER).json
    by_alg = {key["alg"]: key for key in jwks["keys"]}
    assert set(by_alg) == {"RS256", "ES256"}
    assert by_alg["RS256"]["kty"] == "RSA" and by_alg["ES256"]["crv"] == "P-256"
    for key in jwks["keys"]:
        assert key["kid"] and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)  # never a private member
    KeySet.import_key_set(jwks)


def test_oidcc_idtoken_rs256(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, CONFIDENTIAL)
    tokens = rp.tokens(parent)
    claims = rp.verify_id_token(tokens["id_token"], tokens["_request"].nonce, algorithms=("RS256",))
    assert claims["_header"]["alg"] == "RS256"


def test_oidcc_idtoken_signature(op, oidc_clients, parent):
    """The signature verifies with the published key only: a tampered payload is refused."""
    rp = make_rp(op, oidc_clients, CONFIDENTIAL)
    id_token = rp.tokens(parent)["id_token"]
    header, payload, signature = id_token.split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
    with pytest.raises((BadSignatureError, ValueError)):
        jwt.decode(tampered, rp.jwks(), algorithms=["RS256"])


def test_es256_client_gets_es256_id_tokens(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, ES256_CLIENT)
    tokens = rp.tokens(parent)
    claims = rp.verify_id_token(tokens["id_token"], tokens["_request"].nonce, algorithms=("ES256",))
    assert claims["_header"]["alg"] == "ES256"
    with pytest.raises(Exception, match="algorithm"):
        jwt.decode(tokens["id_token"], rp.jwks(), algorithms=["RS256"])


def test_oidcc_userinfo_rs256_is_not_offered(op):
    document = op.test_client().get("/.well-known/openid-configuration", base_url=ISSUER).json
    assert "userinfo_signing_alg_values_supported" not in document


@pytest.fixture
def rollover_certs(deployment, tmp_path):
    certs = tmp_path / "certs"
    shutil.copytree(deployment.certs_dir, certs)
    return certs


def _idp(deployment, oidc_backend, oidc_clients, certs):
    return create_app(
        deployment.settings(
            "idp",
            oidc_backend.database_url,
            oidc_backend.redis_url,
            oidc_clients_dir=str(oidc_clients.directory),
            certs_dir=str(certs),
        )
    )


def test_next_key_is_published_before_it_signs_then_rotation(
    deployment, oidc_backend, oidc_clients, rollover_certs, parent
):
    before = _idp(deployment, oidc_backend, oidc_clients, rollover_certs)
    current_kids = {k["kid"] for k in make_rp(before, oidc_clients, CONFIDENTIAL).jwks().as_dict()["keys"]}
    generate_next_keys(rollover_certs)
    published = _idp(deployment, oidc_backend, oidc_clients, rollover_certs)
    rp = make_rp(published, oidc_clients, CONFIDENTIAL)
    kids = {k["kid"] for k in rp.jwks().as_dict()["keys"]}
    next_kids = kids - current_kids
    assert len(kids) == 4 and len(next_kids) == 2  # RS256 and ES256 next keys announced
    tokens = rp.tokens(parent)
    assert rp.verify_id_token(tokens["id_token"], tokens["_request"].nonce)["_header"]["kid"] in current_kids

    assert rotate_keys(rollover_certs) == ["RS256", "ES256"]
    rotated = _idp(deployment, oidc_backend, oidc_clients, rollover_certs)
    rp = make_rp(rotated, oidc_clients, CONFIDENTIAL)
    assert {k["kid"] for k in rp.jwks().as_dict()["keys"]} == kids  # the old keys stay published
    new_tokens = rp.tokens(parent)
    assert (
        rp.verify_id_token(new_tokens["id_token"], new_tokens["_request"].nonce)["_header"]["kid"]
        in next_kids
    )
    # An ID token signed before the rotation still verifies against the published JWKS.
    rp.verify_id_token(tokens["id_token"], tokens["_request"].nonce)
