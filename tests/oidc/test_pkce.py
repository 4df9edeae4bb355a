"""PKCE (RFC 7636) is required for every client, confidential ones included, and S256 only."""

from __future__ import annotations

import secrets
import time

import pytest

from idp.oidc.grant_store import IssuedCode
from tests.oidc.conftest import CONFIDENTIAL, PUBLIC_CLIENT, make_rp
from tests.oidc.rp import s256

CLIENTS = [CONFIDENTIAL, PUBLIC_CLIENT]


@pytest.fixture(params=CLIENTS)
def any_rp(request, op, oidc_clients):
    return make_rp(op, oidc_clients, request.param)


def test_public_client_signs_in_with_pkce(op, oidc_clients, parent):
    rp = make_rp(op, oidc_clients, PUBLIC_CLIENT)
    tokens = rp.tokens(parent)
    assert rp.userinfo(tokens["access_token"]).status_code == 200


def test_authorization_request_without_code_challenge_is_refused(any_rp):
    request = any_rp.request(code_challenge=None, code_challenge_method=None)
    answer = any_rp.callback(any_rp.authorize(request))
    assert answer["error"] == "invalid_request" and answer["state"] == request.state


@pytest.mark.parametrize("method", ["plain", None])  # absent means plain (RFC 7636 §4.3)
def test_plain_code_challenge_is_refused(any_rp, method):
    request = any_rp.request(code_challenge_method=method)
    request.params["code_challenge"] = request.verifier  # what a plain challenge is
    answer = any_rp.callback(any_rp.authorize(request))
    assert answer["error"] == "invalid_request"


def test_missing_code_verifier_is_refused(any_rp, parent):
    request = any_rp.request()
    answer = any_rp.sign_in(parent, request)
    response = any_rp.token_request(answer["code"], verifier=None)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert "id_token" not in response.json


def test_wrong_code_verifier_is_refused_and_burns_the_code(any_rp, parent):
    request = any_rp.request()
    answer = any_rp.sign_in(parent, request)
    wrong = any_rp.token_request(answer["code"], secrets.token_urlsafe(48))
    assert wrong.status_code == 400 and wrong.json["error"] == "invalid_grant"
    retry = any_rp.token_request(answer["code"], request.verifier)
    assert retry.status_code == 400  # no second guess with the same code


def _code_without_challenge(op, client_id: str, redirect_uri: str, account_id: str) -> str:
    """A code as an older or buggy issuer could have stored it: no challenge at all."""
    code = secrets.token_urlsafe(32)
    op.extensions["idp"].oidc.grants.save_code(
        code,
        IssuedCode(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope="openid",
            account_id=account_id,
            auth_time=int(time.time()),
            nonce=None,
            code_challenge=None,
            code_challenge_method=None,
        ),
    )
    return code


def test_code_verifier_without_a_challenge_is_refused(any_rp, op, parent):
    code = _code_without_challenge(op, any_rp.client_id, any_rp.redirect_uri, parent.id)
    response = any_rp.token_request(code, secrets.token_urlsafe(48))
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_code_issued_without_a_challenge_is_never_exchanged(any_rp, op, parent):
    code = _code_without_challenge(op, any_rp.client_id, any_rp.redirect_uri, parent.id)
    response = any_rp.token_request(code, verifier=None)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_challenge_of_the_wrong_format_is_refused(any_rp):
    request = any_rp.request(code_challenge="trop-court")
    assert any_rp.callback(any_rp.authorize(request))["error"] == "invalid_request"


def test_verifier_matching_another_requests_challenge_is_refused(any_rp, parent):
    request = any_rp.request()
    other_verifier = secrets.token_urlsafe(48)
    assert s256(other_verifier) != request.params["code_challenge"]
    answer = any_rp.sign_in(parent, request)
    assert any_rp.token_request(answer["code"], other_verifier).json["error"] == "invalid_grant"
