"""python3-saml (OneLogin, strict) wanting signed *and encrypted* assertions (issue 16 item 6).

Its metadata then publishes its certificate for encryption too; ``sp add`` registers it from that
alone, ÉduConnect encrypts the assertion to it (AES-256-GCM, RSA-OAEP) and python3-saml, which
refuses an unencrypted assertion in this mode, decrypts it with its own code (python-xmlsec) and
checks both signatures. A byte changed in the ciphertext is refused by python3-saml: its checks
are live. In-process crypto only: the IdP on xmlsec1 does not encrypt (conftest).
"""

from __future__ import annotations

import base64

import lxml.html
import pytest
from lxml import etree

from tests.flows.saml_steps import PASSWORD, add_parent
from tests.flows.test_slo_interop_python3_saml import IDP, SP, Federation, registered_federation
from tests.onelogin_sp import onelogin_settings, sp_metadata

pytestmark = pytest.mark.parametrize("backend", ["embedded", "postgres+redis"], indirect=True)


@pytest.fixture(scope="module")
def encrypting_federation(deployment, backend, stack, tmp_path_factory) -> Federation:
    root = tmp_path_factory.mktemp("onelogin-encrypted")
    settings = onelogin_settings(
        stack.idp.extensions["idp"].saml.metadata, root, want_assertions_encrypted=True
    )
    assert 'use="encryption"' in sp_metadata(settings)
    return registered_federation(deployment, backend, stack, root, settings)


def response_post_page(federation: Federation, browser):
    account = add_parent(federation.idp)
    login_page = browser.follow(browser.get(f"{SP}/login"))
    assert login_page.request.url == f"{IDP}/connexion"
    return browser.follow(browser.submit(login_page, identifiant=account.identifier, mot_de_passe=PASSWORD))


NS = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion", "xenc": "http://www.w3.org/2001/04/xmlenc#"}
DATA_CIPHER = "saml:EncryptedAssertion/xenc:EncryptedData/xenc:CipherData/xenc:CipherValue"


def posted_response(page) -> bytes:
    (value,) = lxml.html.fromstring(page.get_data(as_text=True)).xpath('//input[@name="SAMLResponse"]/@value')
    return base64.b64decode(value)


def test_python3_saml_decrypts_and_accepts_our_encrypted_assertion(encrypting_federation: Federation):
    browser = encrypting_federation.browser()
    post_page = response_post_page(encrypting_federation, browser)
    response = etree.fromstring(posted_response(post_page))
    assert response.xpath(
        "saml:EncryptedAssertion/xenc:EncryptedData/xenc:EncryptionMethod/@Algorithm", namespaces=NS
    ) == ["http://www.w3.org/2009/xmlenc11#aes256-gcm"]
    assert not response.xpath("//saml:Assertion", namespaces=NS)
    at_sp = browser.follow(browser.submit(post_page, form_id="saml-post"))
    assert at_sp.status_code == 200, at_sp.get_data(as_text=True)
    assert at_sp.get_json()["name_id"] and at_sp.get_json()["session_index"]


def test_python3_saml_refuses_our_encrypted_assertion_with_a_byte_changed(encrypting_federation: Federation):
    browser = encrypting_federation.browser()
    post_page = response_post_page(encrypting_federation, browser)
    response = etree.fromstring(posted_response(post_page))
    (cipher,) = response.xpath(DATA_CIPHER, namespaces=NS)
    text = "".join(cipher.text.split())
    i = len(text) // 2
    cipher.text = text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]
    changed = base64.b64encode(etree.tostring(response)).decode()
    refused = browser.post(f"{SP}/acs", data={"SAMLResponse": changed})
    assert refused.status_code == 400, refused.get_data(as_text=True)
    assert "failed to decrypt" in refused.get_json()["reason"]  # the GCM tag no longer matches
