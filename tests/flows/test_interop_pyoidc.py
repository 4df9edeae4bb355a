"""Sign-in with an OpenID Connect RP we did not write: pyoidc (``oic``), issue 16 item 6.

The three services run as real processes (``make demo``'s ``demo --no-serve``, then ``serve``);
pyoidc is registered with ``educonnect-bridge oidc client add`` before the IdP starts and learns
the rest from discovery. It signs the demo parent Claire Martin in with the authorization code
flow (PKCE S256; ``client_secret_basic`` and RS256 ID tokens, the default, or
``client_secret_post`` and ES256), and its own checks pass on our ID token (signature by a key of
the JWKS, ``iss``, ``aud``, ``exp``, ``nonce``, ``at_hash``) and on the userinfo answer.
The negatives show those checks are live: another ``sub`` under our signature, a byte changed in
the signature, another nonce, another audience are each refused by pyoidc.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest
from jwkest import BadSignature
from oic.exception import NotForMe
from oic.oauth2.exception import OtherError
from oic.oic import Client
from oic.oic.message import AccessTokenResponse, AtHashError, IdToken, OpenIDSchema, verify_id_token

from tests.live_stack import live_stack
from tests.pyoidc_rp import (
    Registration,
    authorization_response,
    discovered_client,
    register_client,
    sign_in_with_browser,
    start_authorization,
)

DEMO_PARENT, DEMO_PASSWORD = "c.martin1", "Ecole-2026!"  # config/demo/educonnect_accounts.toml
# The README's default (client_secret_basic, RS256), and the alternatives an ENT may choose.
REGISTRATIONS = [
    Registration("rp-pyoidc"),
    Registration("rp-pyoidc-es256", auth_method="client_secret_post", id_token_alg="ES256"),
]


@dataclass(frozen=True)
class Op:
    issuer: str
    registrations: dict[str, Registration]


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Op]:
    registered: dict[str, Registration] = {}

    def register(env: Mapping[str, str]) -> None:
        for wanted in REGISTRATIONS:
            registered[wanted.client_id] = register_client(env, wanted)

    with live_stack(tmp_path_factory.mktemp("pyoidc"), before_serve=register) as stack:
        yield Op(stack.urls["idp"], registered)


@dataclass(frozen=True)
class SignedIn:
    client: Client
    registration: Registration
    token: AccessTokenResponse
    request_args: dict


@pytest.fixture(scope="module", params=[r.client_id for r in REGISTRATIONS])
def signed_in(op: Op, request: pytest.FixtureRequest) -> SignedIn:
    registration = op.registrations[request.param]
    client = discovered_client(op.issuer, registration)
    start = start_authorization(client)
    location = sign_in_with_browser(start.url, DEMO_PARENT, DEMO_PASSWORD)
    answer = authorization_response(client, location)
    assert answer["state"] == start.state
    token = client.do_access_token_request(
        state=start.state,
        request_args={"code": answer["code"], "code_verifier": start.code_verifier},
        authn_method=registration.auth_method,
    )
    assert isinstance(token, AccessTokenResponse), token.to_dict()
    return SignedIn(client, registration, token, start.request_args)


def test_pyoidc_reads_our_discovery_and_jwks(op: Op):
    client = discovered_client(op.issuer, op.registrations["rp-pyoidc"])
    assert client.provider_info["issuer"] == op.issuer
    for key_type in ("RSA", "EC"):  # fetched from jwks_uri by pyoidc
        assert client.keyjar.get_signing_key(key_type, owner=op.issuer), key_type
    assert "S256" in client.provider_info["code_challenge_methods_supported"]


def test_pyoidc_signs_the_demo_parent_in_and_its_checks_pass(signed_in: SignedIn, op: Op):
    id_token = signed_in.token["id_token"]  # verified by pyoidc: signature, iss, aud, exp
    assert isinstance(id_token, IdToken)
    client_id = signed_in.registration.client_id
    assert id_token["iss"] == op.issuer and id_token["aud"] == [client_id]
    assert (id_token.jws_header or {}).get("alg") == signed_in.registration.id_token_alg
    signed_in.client.verify_id_token(id_token, signed_in.request_args)  # nonce, max_age
    assert id_token["nonce"] == signed_in.request_args["nonce"]
    assert "at_hash" in id_token
    rechecked = verify_id_token(  # at_hash against the access token, with pyoidc's own check
        {"id_token": signed_in.token["id_token_jwt"], "access_token": signed_in.token["access_token"]},
        check_hash=True,
        keyjar=signed_in.client.keyjar,
        iss=op.issuer,
        client_id=client_id,
    )
    assert rechecked["sub"] == id_token["sub"]


def test_pyoidc_reads_userinfo_of_the_same_subject(signed_in: SignedIn):
    state = next(iter(signed_in.client.grant))
    info = signed_in.client.do_user_info_request(state=state)
    assert isinstance(info, OpenIDSchema), info
    assert info["sub"] == signed_in.token["id_token"]["sub"]
    assert (info["given_name"], info["family_name"]) == ("Claire", "Martin")
    assert info["FrEduCtId"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_another_subject(jwt: str) -> str:
    """The same signature over a payload whose ``sub`` has one character changed."""
    header, payload, signature = jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = claims["sub"][:-1] + ("A" if claims["sub"][-1] != "A" else "B")
    return ".".join([header, b64url(json.dumps(claims).encode()), signature])


def with_a_signature_byte_changed(jwt: str) -> str:
    header, payload, signature = jwt.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([header, payload, b64url(bytes(raw))])


@pytest.mark.parametrize("tamper", [with_another_subject, with_a_signature_byte_changed])
def test_pyoidc_refuses_our_id_token_tampered_with(signed_in: SignedIn, op: Op, tamper):
    with pytest.raises(BadSignature):
        verify_id_token(
            {"id_token": tamper(signed_in.token["id_token_jwt"])},
            keyjar=signed_in.client.keyjar,
            iss=op.issuer,
            client_id=signed_in.registration.client_id,
        )


def test_pyoidc_refuses_our_id_token_for_another_nonce_audience_or_access_token(signed_in: SignedIn, op: Op):
    with pytest.raises(OtherError, match="nonce mismatch"):
        signed_in.client.verify_id_token(signed_in.token["id_token"], {"nonce": "un-autre-nonce"})
    with pytest.raises(NotForMe):
        verify_id_token(
            {"id_token": signed_in.token["id_token_jwt"]},
            keyjar=signed_in.client.keyjar,
            iss=op.issuer,
            client_id="un-autre-client",
        )
    with pytest.raises(AtHashError):  # at_hash binds the ID token to its access token
        verify_id_token(
            {"id_token": signed_in.token["id_token_jwt"], "access_token": "un-autre-jeton"},
            check_hash=True,
            keyjar=signed_in.client.keyjar,
            iss=op.issuer,
            client_id=signed_in.registration.client_id,
        )
