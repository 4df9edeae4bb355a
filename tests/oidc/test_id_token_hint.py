"""``id_token_hint`` on the authorization endpoint (OIDC Core §3.1.2.1, issue 14 item 6).

The hint must be an ID token of ours (signature, ``iss``) issued to the requesting client, whose
pairwise ``sub`` is the signed-in parent's: otherwise ``prompt=none`` answers ``login_required``
and any other request asks to sign in. An expired hint of the right parent is accepted
(idp/oidc/id_token_hint.py says why).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.flows.saml_steps import add_parent
from tests.oidc.conftest import POST_CLIENT, SECTOR_CLIENT, make_rp
from tests.oidc.rp import ISSUER, json_body


def our_key(op) -> Any:
    return op.extensions["idp"].oidc.keys.for_algorithm("RS256")


def minted(op, key: Any = None, kid: str | None = None, **claims: Any) -> str:
    """An ID token as ours would be, with chosen claims (and key, to forge the signature)."""
    signing = our_key(op)
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "ent-lycee", "sub": "x", "iat": now, "exp": now + 3600, **claims}
    return jwt.encode({"alg": "RS256", "kid": kid or signing.kid}, body, key or signing)


def signed_in_hint(rp, parent) -> tuple[str, str]:
    """Sign the parent in on ``rp``'s browser: their ID token for this client and its ``sub``."""
    tokens = rp.tokens(parent)
    sub = rp.verify_id_token(tokens["id_token"], tokens["_request"].nonce)["sub"]
    return tokens["id_token"], sub


def test_the_hint_of_the_signed_in_parent_is_answered_silently(rp, parent):
    hint, _ = signed_in_hint(rp, parent)
    answer = rp.callback(rp.authorize(rp.request(prompt="none", id_token_hint=hint)))
    assert "code" in answer, answer


def test_an_expired_hint_of_the_signed_in_parent_is_accepted(rp, parent, op):
    _, sub = signed_in_hint(rp, parent)
    past = int(time.time()) - 7200
    hint = minted(op, sub=sub, iat=past, exp=past + 3600)
    answer = rp.callback(rp.authorize(rp.request(prompt="none", id_token_hint=hint)))
    assert "code" in answer, answer


def bad_hints(op, oidc_clients, rp, parent) -> dict[str, str]:
    """Each way a hint can fail to name the signed-in parent of ``rp``'s browser."""
    _, sub = signed_in_hint(rp, parent)
    other_parent = make_rp(op, oidc_clients, rp.client_id)
    other_parent_hint, _ = signed_in_hint(other_parent, add_parent(op, "Paul", "Durand"))
    other_client_hint, _ = signed_in_hint(make_rp(op, oidc_clients, POST_CLIENT), parent)
    forger = RSAKey.generate_key(2048)
    return {
        "another parent": other_parent_hint,
        "not a JWT": "not.a.jwt",
        "issued to another client": other_client_hint,
        "another client's audience, same sub": minted(op, sub=sub, aud=POST_CLIENT),
        "wrong signature": minted(op, key=forger, sub=sub),
        "unknown key": minted(op, key=forger, kid="cle-inconnue", sub=sub),
        "wrong iss": minted(op, sub=sub, iss="https://autre-idp.test"),
        "no sub": minted(op, sub=""),
        "too long": minted(op, sub=sub, remplissage="x" * 9000),
    }


BAD_HINTS = [
    "another parent",
    "not a JWT",
    "issued to another client",
    "another client's audience, same sub",
    "wrong signature",
    "unknown key",
    "wrong iss",
    "no sub",
    "too long",
]


@pytest.mark.parametrize("kind", BAD_HINTS)
def test_a_bad_hint_with_prompt_none_is_login_required(rp, parent, op, oidc_clients, kind):
    hint = bad_hints(op, oidc_clients, rp, parent)[kind]
    request = rp.request(prompt="none", id_token_hint=hint)
    answer = rp.callback(rp.authorize(request))
    assert answer["error"] == "login_required" and answer["state"] == request.state
    assert "code" not in answer


@pytest.mark.parametrize("kind", ["another parent", "not a JWT", "wrong signature"])
def test_a_bad_hint_without_prompt_asks_to_sign_in_then_answers_who_signed_in(
    rp, parent, op, oidc_clients, kind
):
    hint = bad_hints(op, oidc_clients, rp, parent)[kind]
    request = rp.request(id_token_hint=hint)
    login_page = rp.follow_to_client(rp.authorize(request))
    assert login_page.status_code == 200 and login_page.request.path == "/connexion"
    # The parent proved who they are for this very request: answered, the client compares ``sub``.
    answer = rp.callback(rp.follow_to_client(rp.log_in(login_page, parent)))
    assert "code" in answer and answer["state"] == request.state
    tokens = json_body(rp.token_request(answer["code"], request.verifier))
    assert rp.verify_id_token(tokens["id_token"], request.nonce)["sub"]


def test_a_client_sharing_a_sector_still_needs_its_own_hint(op, oidc_clients, parent):
    """ent-migre's ``sub`` is the SAML NameID: a hint issued to ent-lycee never stands for it."""
    rp = make_rp(op, oidc_clients, SECTOR_CLIENT)
    _, sub = signed_in_hint(rp, parent)
    own = minted(op, sub=sub, aud=SECTOR_CLIENT)
    assert "code" in rp.callback(rp.authorize(rp.request(prompt="none", id_token_hint=own)))
    foreign = minted(op, sub=sub, aud="ent-lycee")
    answer = rp.callback(rp.authorize(rp.request(prompt="none", id_token_hint=foreign)))
    assert answer["error"] == "login_required"
