"""Flow A of DESIGN §2 end to end through the Flask test clients, strict production settings."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser import Browser, page_text
from tests.flows.children_steps import ent_parent
from tests.flows.saml_steps import PASSWORD, add_parent, sign_in, start_login


@pytest.fixture
def parent(stack):
    return add_parent(stack.idp)


@pytest.fixture
def browser(stack):
    return Browser({"https://ent.test": stack.ent, "https://idp.test": stack.idp})


def test_portal_offers_the_two_paths(browser):
    portal = browser.get("https://ent.test/")
    assert "Je dispose d'un compte Educonnect" in page_text(portal)
    assert "Je n'ai pas de compte Educonnect" in page_text(portal)
    to_idp = browser.get("https://ent.test/connexion/sans-compte")
    assert to_idp.status_code == 302 and to_idp.headers["Location"].startswith("https://idp.test/saml/sso?")


def test_parent_signs_in_and_lands_on_the_ent(browser, parent):
    after_login = sign_in(browser, parent.identifier)
    post_page = browser.follow(after_login)
    assert post_page.status_code == 200, page_text(post_page)
    assert "script-src 'self'" in post_page.headers["Content-Security-Policy"]
    assert "https://ent.test/saml/acs" in post_page.headers["Content-Security-Policy"]
    assert "<script>" not in post_page.get_data(as_text=True)  # no inline script in the POST page
    landing = browser.follow(browser.submit(post_page, form_id="saml-post"))
    text = page_text(landing)
    assert "Bonjour Claire Martin" in text
    released = ent_parent(browser, browser.apps["https://ent.test"])["attributes"]
    assert released["FrEduCtId"] == [parent.id]  # released to this SP, kept by the ENT
    assert {"FrEduCtDateConnexion", "FrEduUrlRetour"} <= set(released)
    assert "FrEduCt" not in text  # raw attributes are not for parents (issue 13)


def test_second_sign_in_reuses_the_idp_session(browser, parent):
    browser.follow(browser.submit(browser.follow(sign_in(browser, parent.identifier)), form_id="saml-post"))
    again = browser.follow(browser.get("https://ent.test/connexion/educonnect"))
    # No second password prompt: the SSO request itself answers with the signed Response.
    assert again.status_code == 200 and again.request.path == "/saml/sso"
    assert 'name="SAMLResponse"' in again.get_data(as_text=True)


@pytest.mark.parametrize("identifier_kind", ["unknown", "wrong-password"])
def test_wrong_credentials_give_one_message(browser, parent, identifier_kind):
    identifier = "x.inconnu99" if identifier_kind == "unknown" else parent.identifier
    page = sign_in(browser, identifier, password="Mauvais-mot-2026")
    text = page_text(page)
    assert page.status_code == 200
    assert "L'identifiant ou le mot de passe est incorrect." in text
    assert identifier in page.get_data(as_text=True)  # what was typed is kept
    assert "Mauvais-mot-2026" not in page.get_data(as_text=True)


def test_login_rotates_the_idp_session_id(browser, parent):
    login_page = start_login(browser)
    jar = browser.clients["https://idp.test"]
    before = jar.get_cookie("idp_session", domain="idp.test").value
    browser.submit(login_page, identifiant=parent.identifier, mot_de_passe=PASSWORD)
    after = jar.get_cookie("idp_session", domain="idp.test").value
    assert before != after


def test_cookies_are_secure_httponly_samesite_and_named_per_service(browser, parent):
    sign_in(browser, parent.identifier)
    for base, name in (("https://idp.test", "idp_session"), ("https://ent.test", "ent_session")):
        cookie = browser.clients[base].get_cookie(name, domain=base.removeprefix("https://"))
        assert cookie is not None and cookie.secure and cookie.http_only and cookie.same_site == "None"


def test_login_form_without_csrf_token_is_refused(browser, parent):
    start_login(browser)
    page = browser.post(
        "https://idp.test/connexion", {"identifiant": parent.identifier, "mot_de_passe": PASSWORD}
    )
    assert page.status_code == 400
    assert "Le formulaire a expiré" in page_text(page)


def test_authn_request_is_signed_with_rsa_sha256(browser):
    to_idp = browser.get("https://ent.test/connexion/educonnect")
    query = parse_qs(urlsplit(to_idp.headers["Location"]).query)
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    assert query["Signature"][0]


@pytest.mark.parametrize("change", ["suspended", "deleted"])
def test_a_live_session_of_a_suspended_or_deleted_account_is_not_answered(browser, stack, parent, change):
    from sqlalchemy import delete, update

    from idp.storage.models import AccountRow

    browser.follow(browser.submit(browser.follow(sign_in(browser, parent.identifier)), form_id="saml-post"))
    sessions = stack.idp.extensions["idp"].accounts._sessions
    with sessions.begin() as db:
        rows = AccountRow.id == parent.id
        db.execute(
            update(AccountRow).where(rows).values(status="bloque")
            if change == "suspended"
            else delete(AccountRow).where(rows)
        )
    again = browser.follow(browser.get("https://ent.test/connexion/educonnect"))
    assert again.request.path == "/connexion" and "Identifiant" in page_text(again)
    assert "SAMLResponse" not in again.get_data(as_text=True)
