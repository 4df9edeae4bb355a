"""A new password ends what the old one opened (issue 18): the account's OpenID Connect access
tokens and unredeemed codes issued before it are refused, by a recovery link as in « Mon compte »;
another account's tokens, and what this account obtains afterwards, still work. The provider
issues no refresh token, so none can outlive the password."""

from __future__ import annotations

import pytest

from tests.browser import Browser, page_text
from tests.flows.saml_steps import PASSWORD, add_parent
from tests.flows.self_service_steps import (
    ask_recovery,
    give_confirmed_address,
    links_in,
    new_address,
    new_client_address,
    the_one_mail_to,
)
from tests.oidc.conftest import CONFIDENTIAL, POST_CLIENT, make_rp
from tests.oidc.rp import ISSUER, json_body

NEW_PASSWORD = "Vacances-2027!"


@pytest.fixture(scope="module")
def op(deployment, oidc_backend, oidc_clients, smtp):
    """The provider of tests/oidc/conftest.py, mailing through a real SMTP server."""
    from idp import create_app

    settings = deployment.settings(
        "idp",
        oidc_backend.database_url,
        oidc_backend.redis_url,
        oidc_clients_dir=str(oidc_clients.directory),
        mail=smtp.mail_settings(),
    )
    return create_app(settings)


def change_in_my_account(op, rp) -> None:
    """« Mon compte » in the browser that signed in to the client (its IdP session is kept)."""
    browser = Browser({ISSUER: op}, clients={ISSUER: rp.browser})
    page = browser.get(f"{ISSUER}/mon-compte")
    done = browser.follow(
        browser.submit(
            page,
            form_id="changer-mot-de-passe",
            mot_de_passe_actuel=PASSWORD,
            mot_de_passe=NEW_PASSWORD,
            confirmation=NEW_PASSWORD,
        )
    )
    assert "Votre mot de passe est modifié." in page_text(done)


def change_by_recovery(op, smtp, account) -> None:
    """« Identifiant ou mot de passe oublié ? » from another browser, the link of the message."""
    address = new_address()
    give_confirmed_address(op, account, address)
    client = op.test_client()
    client.environ_base["REMOTE_ADDR"] = new_client_address()  # its own recovery budget
    browser = Browser({ISSUER: op}, clients={ISSUER: client})
    ask_recovery(browser, address)
    (link,) = links_in(the_one_mail_to(smtp, address))
    form = browser.get(link)
    done = browser.follow(
        browser.submit(
            form, form_id="nouveau-mot-de-passe", mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD
        )
    )
    assert "Votre mot de passe est modifié." in page_text(done)


@pytest.mark.parametrize("path", ["mon compte", "lien de récupération"])
def test_a_new_password_revokes_the_tokens_and_codes_issued_before_it(op, oidc_clients, smtp, path):
    parent, other = add_parent(op), add_parent(op)
    rp = make_rp(op, oidc_clients, CONFIDENTIAL)
    old = rp.tokens(parent)
    assert rp.userinfo(old["access_token"]).status_code == 200
    # A code of the same account issued before the change, redeemed after it.
    second = make_rp(op, oidc_clients, POST_CLIENT)
    request = second.request()
    pending_code = second.sign_in(parent, request)["code"]
    other_rp = make_rp(op, oidc_clients, CONFIDENTIAL)
    others = other_rp.tokens(other)

    if path == "mon compte":
        change_in_my_account(op, rp)
    else:
        change_by_recovery(op, smtp, parent)

    refused = rp.userinfo(old["access_token"])
    assert refused.status_code == 401 and "invalid_token" in refused.headers["WWW-Authenticate"]
    late = second.token_request(pending_code, request.verifier)
    assert late.status_code == 400 and json_body(late)["error"] == "invalid_grant"
    # Another account is untouched.
    assert other_rp.userinfo(others["access_token"]).status_code == 200
    if path == "mon compte":  # the browser that changed it is still signed in: a new code, a new token
        assert rp.userinfo(rp.tokens(parent)["access_token"]).status_code == 200
    # What the account obtains after the change works: a new sign-in with the new password.
    fresh_rp = make_rp(op, oidc_clients, CONFIDENTIAL)
    request = fresh_rp.request()
    answer = fresh_rp.callback(
        fresh_rp.follow_to_client(
            fresh_rp.log_in(fresh_rp.follow_to_client(fresh_rp.authorize(request)), parent, NEW_PASSWORD)
        )
    )
    fresh = json_body(fresh_rp.token_request(answer["code"], request.verifier))
    assert fresh_rp.userinfo(fresh["access_token"]).status_code == 200


def test_no_refresh_token_is_issued_or_accepted(op, rp, parent):
    """Nothing of the old password's sign-in outlives its access token (ten minutes)."""
    tokens = rp.tokens(parent)
    assert "refresh_token" not in tokens
    assert json_body(rp.op.test_client().get("/.well-known/openid-configuration", base_url=ISSUER))[
        "grant_types_supported"
    ] == ["authorization_code"]
    response = rp.token_request("", None, grant_type="refresh_token", refresh_token=tokens["access_token"])
    assert response.status_code == 400 and json_body(response)["error"] == "unsupported_grant_type"
