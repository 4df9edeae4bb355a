"""The same authorization request sent again by the same browser (Back, reload, a second tab)
leads the parent on: a fresh code for the same nonce, each code still single-use (issue 13 item 4).
"""

from __future__ import annotations

from tests.oidc.rp import Rp, json_body


def test_reload_before_login_leads_to_the_login_page_again(rp, parent):
    request = rp.request()
    assert rp.follow_to_client(rp.authorize(request)).request.path == "/connexion"
    login_page = rp.follow_to_client(rp.authorize(request))  # reload, or Back to the request
    answer = rp.callback(rp.follow_to_client(rp.log_in(login_page, parent)))
    assert "code" in answer and answer["state"] == request.state


def test_the_same_request_again_when_signed_in_gets_a_fresh_code_for_the_same_nonce(rp, parent):
    request = rp.request()
    first = rp.sign_in(parent, request)
    again = rp.callback(rp.authorize(request))  # Back, reload or a second tab of the same browser
    assert "error" not in again, again
    assert again["state"] == request.state and again["code"] != first["code"]
    tokens = json_body(rp.token_request(again["code"], request.verifier))
    assert rp.verify_id_token(tokens["id_token"], request.nonce)["nonce"] == request.nonce


def test_the_request_posted_again_gets_a_fresh_code_too(rp, parent):
    request = rp.request()
    rp.sign_in(parent, request)
    again = rp.callback(rp.authorize(request, method="POST"))
    assert "code" in again


def test_each_code_of_a_repeated_request_is_still_single_use(rp, parent):
    request = rp.request()
    first = rp.sign_in(parent, request)
    again = rp.callback(rp.authorize(request))
    first_tokens = rp.token_request(first["code"], request.verifier)
    assert first_tokens.status_code == 200
    assert rp.token_request(again["code"], request.verifier).status_code == 200
    replay = rp.token_request(first["code"], request.verifier)
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: the access token obtained with the replayed code is revoked.
    assert rp.userinfo(json_body(first_tokens)["access_token"]).status_code == 401


def test_a_second_browser_with_the_same_request_is_refused_even_signed_in(rp, parent, op):
    request = rp.request()
    rp.sign_in(parent, request)
    other = Rp(op, rp.client_id, rp.redirect_uri, rp.auth_method, rp.secret)
    other.sign_in(parent)  # signed in there too, with its own request
    answer = other.callback(other.authorize(request))
    assert answer["error"] == "invalid_request" and "code" not in answer
