"""Sign-in with an OpenID Connect RP we did not write: pyoidc (``oic``), issue 16 item 6.

The three services run as real processes (``make demo``'s ``demo --no-serve``, then ``serve``);
pyoidc is registered with ``educonnect-bridge oidc client add`` before the IdP starts and learns
the rest from discovery. It signs the demo parent Claire Martin in with the authorization code
flow (PKCE S256, ``client_secret_basic``), and its own checks pass on our ID token (signature by
a key of the JWKS, ``iss``, ``aud``, ``exp``, ``nonce``, ``at_hash``) and on the userinfo answer.
The negatives show those checks are live: a byte changed in the ID token, another nonce, another
audience are each refused by pyoidc.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest
from jwkest import BadSignature
from oic.oic import Client
from oic.oic.message import AccessTokenResponse, IdToken, OpenIDSchema, verify_id_token

from tests.live_stack import live_stack
from tests.pyoidc_rp import (
    CLIENT_ID,
    authorization_response,
    discovered_client,
    register_client,
    sign_in_with_browser,
    start_authorization,
)

DEMO_PARENT, DEMO_PASSWORD = "c.martin1", "Ecole-2026!"  # config/demo/educonnect_accounts.toml


@dataclass(frozen=True)
class Op:
    issuer: str
    secret: str


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Op]:
    secrets: list[str] = []

    def register(env: Mapping[str, str]) -> None:
        secrets.append(register_client(env))

    with live_stack(tmp_path_factory.mktemp("pyoidc"), before_serve=register) as stack:
        yield Op(stack.urls["idp"], secrets[0])


@dataclass(frozen=True)
class SignedIn:
    client: Client
    token: AccessTokenResponse
    request_args: dict


@pytest.fixture(scope="module")
def signed_in(op: Op) -> SignedIn:
    client = discovered_client(op.issuer, op.secret)
    start = start_authorization(client)
    location = sign_in_with_browser(start.url, DEMO_PARENT, DEMO_PASSWORD)
    answer = authorization_response(client, location)
    assert answer["state"] == start.state
    token = client.do_access_token_request(
        state=start.state,
        request_args={"code": answer["code"], "code_verifier": start.code_verifier},
        authn_method="client_secret_basic",
    )
    assert isinstance(token, AccessTokenResponse), token.to_dict()
    return SignedIn(client, token, start.request_args)


def test_pyoidc_reads_our_discovery_and_jwks(op: Op):
    client = discovered_client(op.issuer, op.secret)
    assert client.provider_info["issuer"] == op.issuer
    assert client.keyjar.get_signing_key("RSA", owner=op.issuer)  # fetched from jwks_uri by pyoidc
    assert "S256" in client.provider_info["code_challenge_methods_supported"]


def test_pyoidc_signs_the_demo_parent_in_and_its_checks_pass(signed_in: SignedIn, op: Op):
    id_token = signed_in.token["id_token"]  # verified by pyoidc: signature, iss, aud, exp
    assert isinstance(id_token, IdToken)
    assert id_token["iss"] == op.issuer and id_token["aud"] == [CLIENT_ID]
    signed_in.client.verify_id_token(id_token, signed_in.request_args)  # nonce, max_age
    assert id_token["nonce"] == signed_in.request_args["nonce"]
    assert "at_hash" in id_token
    rechecked = verify_id_token(  # at_hash against the access token, with pyoidc's own check
        {"id_token": signed_in.token["id_token_jwt"], "access_token": signed_in.token["access_token"]},
        check_hash=True,
        keyjar=signed_in.client.keyjar,
        iss=op.issuer,
        client_id=CLIENT_ID,
    )
    assert rechecked["sub"] == id_token["sub"]


def test_pyoidc_reads_userinfo_of_the_same_subject(signed_in: SignedIn):
    state = next(iter(signed_in.client.grant))
    info = signed_in.client.do_user_info_request(state=state)
    assert isinstance(info, OpenIDSchema), info
    assert info["sub"] == signed_in.token["id_token"]["sub"]
    assert (info["given_name"], info["family_name"]) == ("Claire", "Martin")
    assert info["FrEduCtId"]


def tampered(jwt: str) -> str:
    header, payload, signature = jwt.split(".")
    i = len(payload) // 2
    return ".".join([header, payload[:i] + ("A" if payload[i] != "A" else "B") + payload[i + 1 :], signature])


def test_pyoidc_refuses_our_id_token_with_a_byte_changed(signed_in: SignedIn, op: Op):
    with pytest.raises(BadSignature):
        verify_id_token(
            {"id_token": tampered(signed_in.token["id_token_jwt"])},
            keyjar=signed_in.client.keyjar,
            iss=op.issuer,
            client_id=CLIENT_ID,
        )


def test_pyoidc_refuses_our_id_token_for_another_nonce_or_audience(signed_in: SignedIn, op: Op):
    with pytest.raises(Exception, match="nonce mismatch"):
        signed_in.client.verify_id_token(signed_in.token["id_token"], {"nonce": "un-autre-nonce"})
    with pytest.raises(Exception, match="not in aud"):
        verify_id_token(
            {"id_token": signed_in.token["id_token_jwt"]},
            keyjar=signed_in.client.keyjar,
            iss=op.issuer,
            client_id="un-autre-client",
        )
