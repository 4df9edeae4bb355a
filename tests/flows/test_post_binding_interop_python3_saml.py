"""An AuthnRequest by HTTP-POST from an SP we did not write: OneLogin's python3-saml signs it
enveloped with its own code (issue 16 item 4), ÉduConnect answers, python3-saml accepts."""

from __future__ import annotations

from tests.browser import page_text
from tests.flows.saml_steps import PASSWORD, add_parent
from tests.flows.test_slo_interop_python3_saml import IDP, SP, Federation, federation

__all__ = ["federation"]  # the module fixture: python3-saml's SP registered by `sp add`


def test_python3_saml_request_by_http_post_is_answered_and_accepted(federation: Federation) -> None:
    browser = federation.browser()
    account = add_parent(federation.idp)
    form_page = browser.get(f"{SP}/login-post")
    assert 'name="SAMLRequest"' in form_page.get_data(as_text=True)
    to_login = browser.submit(form_page, form_id="saml-post")
    assert to_login.status_code == 302, page_text(to_login)
    login_page = browser.follow(to_login)
    assert login_page.request.url == f"{IDP}/connexion", page_text(login_page)
    post_page = browser.follow(
        browser.submit(login_page, identifiant=account.identifier, mot_de_passe=PASSWORD)
    )
    at_sp = browser.follow(browser.submit(post_page, form_id="saml-post"))
    assert at_sp.status_code == 200, at_sp.get_data(as_text=True)
    assert at_sp.get_json()["name_id"]
