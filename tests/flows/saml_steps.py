"""Steps of flow A shared by the flow tests (a parent, a browser, crafted AuthnRequests)."""

from __future__ import annotations

import base64
import secrets

from saml2 import BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.xmldsig import SIG_RSA_SHA256

from idp.domain.accounts import Account
from idp.domain.passwords import hash_password
from idp.storage.sql_accounts import new_account_id
from tests.browser import Browser, page_text

PASSWORD = "Ecole-2026!"
SSO_URL = "https://idp.test/saml/sso"


def add_parent(idp_app, given_name: str = "Claire", family_name: str = "Martin") -> Account:
    account = Account(
        id=new_account_id(),
        identifier=f"{given_name[0].lower()}.{family_name.lower()}{secrets.randbelow(10**8)}",
        password_hash=hash_password(PASSWORD),
        given_name=given_name,
        family_name=family_name,
    )
    idp_app.extensions["idp"].accounts.add(account)
    return account


def start_login(browser: Browser):
    to_idp = browser.get("https://ent.test/connexion/educonnect")
    assert to_idp.status_code == 302
    assert to_idp.headers["Location"].startswith(SSO_URL + "?")
    return browser.follow(to_idp)


def sign_in(browser: Browser, identifier: str, password: str = PASSWORD):
    login_page = start_login(browser)
    assert login_page.request.path == "/connexion", page_text(login_page)
    return browser.submit(login_page, identifiant=identifier, mot_de_passe=password)


def response_page(browser: Browser, account: Account):
    """The IdP's HTTP-POST page carrying a signed Response for this browser's pending request."""
    page = browser.follow(sign_in(browser, account.identifier))
    assert page.request.path == "/saml/reponse", page_text(page)
    return page


def saml_response_xml(post_page) -> str:
    import lxml.html

    doc = lxml.html.fromstring(post_page.get_data(as_text=True))
    (value,) = doc.xpath('//input[@name="SAMLResponse"]/@value')
    return base64.b64decode(value).decode()


def crafted_request_url(
    client: Saml2Client, sign: bool = True, sigalg: str = SIG_RSA_SHA256, **request_args: object
) -> str:
    """An AuthnRequest built by ``client`` with chosen fields, sent by HTTP-Redirect."""
    _, request = client.create_authn_request(SSO_URL, **request_args)
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(request), SSO_URL, sign=sign, sigalg=sigalg)
    return dict(info["headers"])["Location"]


def readable_response_xml(stack, post_page) -> str:
    """The Response as the ENT reads it: the assertion decrypted with the ENT's key if encrypted."""
    xml = saml_response_xml(post_page)
    if "EncryptedAssertion" not in xml:
        return xml
    return stack.ent.extensions["ent"].saml.client.sec.decrypt_keys(xml)
