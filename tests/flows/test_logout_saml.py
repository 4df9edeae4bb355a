"""« Se déconnecter » with SAML (DESIGN §2 E, issue 14): a POST with a CSRF token everywhere, then
SAML Single Logout between the ENT and ÉduConnect (SAML core §3.7, profiles §4.4)."""

from __future__ import annotations

import pytest

from tests.browser import Browser, page_text
from tests.flows.children_steps import attribute_of
from tests.flows.saml_steps import add_parent, response_page, start_login

ENT = "https://ent.test"
IDP = "https://idp.test"


@pytest.fixture
def parent(stack):
    return add_parent(stack.idp)


@pytest.fixture
def browser(stack):
    return Browser({ENT: stack.ent, IDP: stack.idp})


def signed_in_at_the_ent(browser: Browser, account):
    landing = browser.follow(browser.submit(response_page(browser, account), form_id="saml-post"))
    assert "Bonjour" in page_text(landing), page_text(landing)
    return landing


@pytest.mark.parametrize("base", [ENT, IDP])
def test_a_get_on_a_logout_url_shows_the_button_and_ends_nothing(browser, parent, base):
    signed_in_at_the_ent(browser, parent)
    page = browser.get(f"{base}/deconnexion")
    assert page.status_code == 200
    assert attribute_of(
        page, '//form[@method="post"][.//button[normalize-space()="Se déconnecter"]]/@action'
    ) == ["/deconnexion"]
    assert browser.get(f"{ENT}/accueil").status_code == 200  # still signed in at the ENT
    again = browser.follow(browser.get(f"{ENT}/connexion/educonnect"))
    assert 'name="SAMLResponse"' in again.get_data(as_text=True)  # and at ÉduConnect


@pytest.mark.parametrize("base", [ENT, IDP])
def test_a_logout_post_without_the_csrf_token_is_refused(browser, parent, base):
    """Another site's page cannot sign the parent out (issue 14, item 4)."""
    signed_in_at_the_ent(browser, parent)
    refused = browser.post(f"{base}/deconnexion", data={}, referer=f"{base}/deconnexion")
    assert refused.status_code == 400 and "Se déconnecter" not in page_text(refused)
    assert browser.get(f"{ENT}/accueil").status_code == 200
    again = browser.follow(browser.get(f"{ENT}/connexion/educonnect"))
    assert 'name="SAMLResponse"' in again.get_data(as_text=True)


def test_every_signed_in_page_says_se_deconnecter_only(browser, parent):
    landing = signed_in_at_the_ent(browser, parent)
    text = page_text(landing)
    assert "Se déconnecter" in text
    assert "Quitter les Services en ligne" not in text and "Se déconnecter d'ÉduConnect" not in text
    account_page = browser.get(f"{IDP}/compte")
    assert attribute_of(account_page, '//form[.//button[normalize-space()="Se déconnecter"]]/@action') == [
        "/deconnexion"
    ]


def log_out_at_the_ent(browser: Browser):
    confirm = browser.get(f"{ENT}/deconnexion")
    to_idp = browser.submit(confirm)
    assert to_idp.status_code == 302 and to_idp.headers["Location"].startswith(f"{IDP}/saml/slo?SAMLRequest=")
    return to_idp


def test_logout_at_the_ent_ends_the_educonnect_session(browser, parent):
    """Issue 14: « Je dispose d'un compte Educonnect » right after logout asks for the password."""
    signed_in_at_the_ent(browser, parent)
    after = browser.follow(log_out_at_the_ent(browser))
    assert after.request.url.startswith(f"{ENT}/saml/slo?SAMLResponse="), after.request.url
    assert "déconnecté des Services en ligne et d'ÉduConnect" in page_text(after)
    assert "Se connecter à nouveau" in page_text(after)
    assert browser.get(f"{ENT}/accueil").headers["Location"] == "/"
    assert start_login(browser).request.path == "/connexion"  # the password again
