"""Our SAML as tools we did not write read it (issue 16 item 6): Debian's ``xmlsec1`` verifies the
signatures of the Responses and decrypts their assertions; the OASIS SAML 2.0 schemas (pysaml2's
copies, offline) validate every message and every metadata document the three services publish.

The messages are captured from real flows through the three services (``RecordingBrowser``): a
parent signs in at the ENT, logs out at the ENT, signs in again and logs out at ÉduConnect (which
sends the ENT a LogoutRequest), and an ATEN parent starts the parcours de transition. Each test
runs on both crypto backends: in-process (assertions encrypted AES-256-GCM to the ENT and to
ÉduConnect as ATEN's SP) and xmlsec1 (signed, not encrypted: conftest's ``ent-xmlsec1.xml``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import lxml.html
import pytest
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from xmlschema import XMLSchemaValidationError

from federation.keys import key_pair
from tests.browser import Browser, page_text
from tests.conftest import Deployment, Stack
from tests.flows.saml_steps import add_parent, response_page
from tests.flows.test_slo_interop_python3_saml import (
    SP,
    log_out_at_the_ent,
    registered_federation,
    signed_in_at_both,
)
from tests.flows.transition_steps import aten_sign_in, forget_transitions
from tests.onelogin_sp import onelogin_settings
from tests.saml_capture import CapturedMessage, RecordingBrowser
from tests.saml_schemas import validate
from tests.xmlsec1_cli import decrypt, is_verified, signing_certificates, verify

ENT_ID = "https://ent.test/saml/metadata"
IDP_ID = "https://idp.test/saml/metadata"
IDP_SP_ID = "https://idp.test/saml/sp/metadata"  # ÉduConnect as ATEN's SP
ATEN_ID = "https://aten.test/saml/metadata"
# Every message kind each service sends, by its issuer (ATEN does no Single Logout).
MESSAGES = [
    ("AuthnRequest", ENT_ID),
    ("LogoutRequest", ENT_ID),
    ("LogoutResponse", ENT_ID),
    ("Response", IDP_ID),
    ("LogoutRequest", IDP_ID),
    ("LogoutResponse", IDP_ID),
    ("AuthnRequest", IDP_SP_ID),
    ("Response", ATEN_ID),
]
# Whose encryption key an issuer's Responses are encrypted to, and the signer's metadata.
RECIPIENT_KEYS = {IDP_ID: "ent", ATEN_ID: "idp"}
PUBLISHED_METADATA = [ENT_ID, IDP_ID, IDP_SP_ID, ATEN_ID]  # each entityID is its metadata URL
SAML = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "alg": "urn:oasis:names:tc:SAML:metadata:algsupport",
}
BOTH_BACKENDS = pytest.mark.parametrize("backend", ["embedded", "embedded+xmlsec1"], indirect=True)
ENCRYPTING_BACKEND = pytest.mark.parametrize("backend", ["embedded"], indirect=True)


@dataclass(frozen=True)
class Captured:
    stack: Stack
    certs_dir: Path
    messages: list[CapturedMessage]

    def first(self, kind: str, issuer: str) -> CapturedMessage:
        found = [m for m in self.messages if m.kind == kind and m.issuer == issuer]
        assert found, f"no {kind} of {issuer} captured: {[(m.kind, m.issuer) for m in self.messages]}"
        return found[0]

    def metadata(self, entity_id: str) -> bytes:
        answer = Browser(self.stack.apps()).get(entity_id)
        assert answer.status_code == 200, entity_id
        return answer.get_data()


def frames_of(browser: Browser, page) -> list:
    doc = lxml.html.fromstring(page.get_data(as_text=True))
    return [browser.follow(browser.get(urljoin(page.request.url, src))) for src in doc.xpath("//iframe/@src")]


def run_flows(stack: Stack) -> list[CapturedMessage]:
    browser = RecordingBrowser(stack.apps())
    account = add_parent(stack.idp)
    for logout_at in ("https://ent.test", "https://idp.test"):
        landing = browser.follow(browser.submit(response_page(browser, account), form_id="saml-post"))
        assert "Bonjour" in page_text(landing), page_text(landing)
        after = browser.follow(browser.submit(browser.get(f"{logout_at}/deconnexion")))
        assert after.status_code == 200, page_text(after)
    # The last logout, at ÉduConnect, sent the ENT a LogoutRequest in a frame; the ENT answered.
    (frame,) = frames_of(browser, after)
    assert (
        frame.request.url.startswith("https://idp.test/saml/slo?SAMLResponse=") and frame.status_code == 200
    )
    transition = RecordingBrowser(stack.apps())
    try:
        page = aten_sign_in(transition, "mdurand")
        assert page.request.url.startswith("https://idp.test/transition/"), page_text(page)
    finally:
        forget_transitions(stack)
    return browser.captured + transition.captured


@pytest.fixture(scope="module")
def captured(stack: Stack, deployment: Deployment) -> Captured:
    return Captured(stack, deployment.certs_dir, run_flows(stack))


@pytest.fixture(scope="module")
def posted_logout_request(deployment, backend, stack, tmp_path_factory) -> CapturedMessage:
    """ÉduConnect's LogoutRequest by HTTP-POST (signature enveloped, not in the URL): to an SP
    whose metadata lists only an HTTP-POST SingleLogoutService (python3-saml's, registered by
    ``sp add``), when the parent, signed in there and at the ENT, logs out at the ENT. The message
    is what counts here: python3-saml's SLO endpoint reads the Redirect binding only, so it does
    not answer (test_logout_request_by_http_post.py has an SP that does)."""
    root = tmp_path_factory.mktemp("post-slo")
    settings = onelogin_settings(stack.idp.extensions["idp"].saml.metadata, root)
    settings["sp"]["singleLogoutService"]["binding"] = OneLogin_Saml2_Constants.BINDING_HTTP_POST
    federation = registered_federation(deployment, backend, stack, root, settings)
    browser = RecordingBrowser(federation.browser().apps)
    signed_in_at_both(federation, browser)
    progress = log_out_at_the_ent(browser)
    (frame,) = frames_of(browser, progress)
    assert frame.request.url.startswith("https://idp.test/saml/slo/envoi/"), page_text(frame)
    browser.submit(frame, form_id="saml-post")  # the frame posts it to the SP
    (message,) = [m for m in browser.captured if m.kind == "LogoutRequest" and m.issuer == IDP_ID]
    assert message.binding == "post" and message.url == f"{SP}/sls"
    return message


def is_encrypted(message: CapturedMessage) -> bool:
    return bool(message.root.xpath("saml:EncryptedAssertion", namespaces=SAML))


def plaintext_assertion(captured: Captured, message: CapturedMessage, work: Path) -> bytes:
    """The Response's Assertion as its own document: decrypted by xmlsec1 with the SP's key."""
    root = message.root
    if is_encrypted(message):
        key = key_pair(captured.certs_dir, RECIPIENT_KEYS[message.issuer], "encryption").key_file
        decrypted = decrypt(message.xml, key, work)
        assert decrypted.returncode == 0, decrypted.stderr.decode()
        root = etree.fromstring(decrypted.stdout)
    (assertion,) = root.xpath("//saml:Assertion", namespaces=SAML)
    return etree.tostring(assertion)


def verified_by_a_metadata_key(captured: Captured, document: bytes, issuer: str, work: Path) -> bool:
    node_id = etree.fromstring(document).get("ID")
    certificates = signing_certificates(captured.metadata(issuer))
    assert certificates, f"no signing certificate in {issuer}"
    return any(is_verified(verify(document, pem, node_id, work)) for pem in certificates)


def one_byte_changed(document: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and document.count(old) >= 1, old
    return document.replace(old, new, 1)


# --- (c) the OASIS schemas ------------------------------------------------------------------------


@BOTH_BACKENDS
@pytest.mark.parametrize(("kind", "issuer"), MESSAGES)
def test_every_message_of_each_service_is_schema_valid(captured: Captured, kind: str, issuer: str):
    found = [m for m in captured.messages if m.kind == kind and m.issuer == issuer]
    assert found, f"no {kind} of {issuer} captured"
    for message in found:
        validate(message.xml)


@BOTH_BACKENDS
@pytest.mark.parametrize("issuer", RECIPIENT_KEYS)
def test_the_assertion_of_each_response_is_schema_valid(captured: Captured, issuer: str, tmp_path):
    validate(plaintext_assertion(captured, captured.first("Response", issuer), tmp_path))


@BOTH_BACKENDS
@pytest.mark.parametrize("entity_id", PUBLISHED_METADATA)
def test_every_metadata_document_published_is_schema_valid(captured: Captured, entity_id: str):
    metadata = captured.metadata(entity_id)
    assert etree.fromstring(metadata).get("entityID") == entity_id
    validate(metadata)


@BOTH_BACKENDS
def test_the_logout_request_by_http_post_is_schema_valid(posted_logout_request: CapturedMessage):
    validate(posted_logout_request.xml)


def misplaced_issuer(xml: bytes) -> bytes:
    root = etree.fromstring(xml)
    (issuer,) = root.xpath("saml:Issuer", namespaces=SAML)
    root.append(issuer)  # Issuer must come first (SAML core §3.2.2)
    return etree.tostring(root)


def without_version(xml: bytes) -> bytes:
    root = etree.fromstring(xml)
    del root.attrib["Version"]
    return etree.tostring(root)


def misspelled_algorithm_attribute(xml: bytes) -> bytes:
    root = etree.fromstring(xml)
    method = root.xpath("//alg:SigningMethod", namespaces=SAML)[0]
    method.set("Algoritm", method.attrib.pop("Algorithm"))  # checked: the extension's schema is loaded
    return etree.tostring(root)


@ENCRYPTING_BACKEND
def test_the_schema_check_is_live(captured: Captured, tmp_path):
    response = captured.first("Response", IDP_ID)
    validate(response.xml)
    for broken in (misplaced_issuer(response.xml), without_version(response.xml)):
        with pytest.raises(XMLSchemaValidationError):
            validate(broken)
    # xmlsec1's decryption in place leaves an Assertion where only EncryptedData may be.
    key = key_pair(captured.certs_dir, "ent", "encryption").key_file
    with pytest.raises(XMLSchemaValidationError, match="EncryptedData"):
        validate(decrypt(response.xml, key, tmp_path).stdout)
    metadata = captured.metadata(IDP_ID)
    validate(metadata)
    with pytest.raises(XMLSchemaValidationError, match="Algoritm"):
        validate(misspelled_algorithm_attribute(metadata))


# --- (b) xmlsec1 ---------------------------------------------------------------------------------


@BOTH_BACKENDS
@pytest.mark.parametrize("issuer", RECIPIENT_KEYS)
def test_xmlsec1_verifies_the_response_signature_with_the_published_certificate(
    captured: Captured, issuer: str, tmp_path
):
    response = captured.first("Response", issuer)
    assert response.root.xpath("ds:Signature", namespaces=SAML), "the Response itself is signed"
    assert verified_by_a_metadata_key(captured, response.xml, issuer, tmp_path)


@BOTH_BACKENDS
@pytest.mark.parametrize("issuer", RECIPIENT_KEYS)
def test_xmlsec1_verifies_the_assertion_signature_with_the_published_certificate(
    captured: Captured, issuer: str, tmp_path
):
    assertion = plaintext_assertion(captured, captured.first("Response", issuer), tmp_path)
    assert etree.fromstring(assertion).xpath("ds:Signature", namespaces=SAML), "the Assertion is signed"
    assert verified_by_a_metadata_key(captured, assertion, issuer, tmp_path)


@ENCRYPTING_BACKEND
@pytest.mark.parametrize("issuer", RECIPIENT_KEYS)
def test_xmlsec1_decrypts_the_aes256_gcm_assertion_with_the_sp_key_only(
    captured: Captured, issuer: str, tmp_path
):
    response = captured.first("Response", issuer)
    assert is_encrypted(response)
    (method,) = response.root.xpath("//xenc:EncryptedData/xenc:EncryptionMethod/@Algorithm", namespaces=SAML)
    assert method == "http://www.w3.org/2009/xmlenc11#aes256-gcm"
    assertion = etree.fromstring(plaintext_assertion(captured, response, tmp_path))
    assert assertion.xpath("saml:Issuer/text()", namespaces=SAML) == [issuer]
    other_key = key_pair(captured.certs_dir, "aten", "encryption").key_file  # not the recipient
    assert decrypt(response.xml, other_key, tmp_path).returncode != 0


@BOTH_BACKENDS
def test_xmlsec1_refuses_a_response_or_an_assertion_with_a_byte_changed(captured: Captured, tmp_path):
    response = captured.first("Response", IDP_ID)
    changed = one_byte_changed(
        response.xml, b'Destination="https://ent.test/saml/acs"', b'Destination="https://ent.test/saml/acS"'
    )
    assert not verified_by_a_metadata_key(captured, changed, IDP_ID, tmp_path)
    assertion = plaintext_assertion(captured, response, tmp_path)
    changed = one_byte_changed(
        assertion, b'Recipient="https://ent.test/saml/acs"', b'Recipient="https://ent.test/saml/acS"'
    )
    assert not verified_by_a_metadata_key(captured, changed, IDP_ID, tmp_path)
    # And with the right bytes but another service's certificate.
    ent_certificates = signing_certificates(captured.metadata(ENT_ID))
    assert ent_certificates
    for pem in ent_certificates:
        assert not is_verified(verify(response.xml, pem, response.root.get("ID"), tmp_path))


@BOTH_BACKENDS
def test_xmlsec1_verifies_the_logout_request_by_http_post(
    captured: Captured, posted_logout_request: CapturedMessage, tmp_path
):
    request = posted_logout_request
    assert request.root.xpath("ds:Signature", namespaces=SAML), "enveloped in the LogoutRequest"
    assert verified_by_a_metadata_key(captured, request.xml, IDP_ID, tmp_path)
    changed = one_byte_changed(
        request.xml,
        b'Destination="https://sp-onelogin.test/sls"',
        b'Destination="https://sp-onelogin.test/slS"',
    )
    assert not verified_by_a_metadata_key(captured, changed, IDP_ID, tmp_path)


@ENCRYPTING_BACKEND
def test_xmlsec1_refuses_to_decrypt_a_ciphertext_with_a_byte_changed(captured: Captured, tmp_path):
    response = captured.first("Response", IDP_ID)
    root = copy.deepcopy(response.root)
    (cipher,) = root.xpath(
        "saml:EncryptedAssertion/xenc:EncryptedData/xenc:CipherData/xenc:CipherValue", namespaces=SAML
    )
    text = "".join(cipher.text.split())
    middle = len(text) // 2
    cipher.text = text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]
    key = key_pair(captured.certs_dir, "ent", "encryption").key_file
    assert decrypt(etree.tostring(root), key, tmp_path).returncode != 0  # the GCM tag no longer matches
    assert decrypt(response.xml, key, tmp_path).returncode == 0
