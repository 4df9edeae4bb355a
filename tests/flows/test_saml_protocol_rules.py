"""Negative tests of the protocol rules of DESIGN §5 that flow A touches (issue 2)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from saml2 import BINDING_HTTP_ARTIFACT
from saml2.client import Saml2Client
from saml2.xmldsig import SIG_RSA_SHA1

from federation.saml import build_config
from sp_ent import create_app as create_ent
from sp_ent.saml_sp import sp_services
from tests.browser import Browser, page_text
from tests.flows.saml_steps import (
    add_parent,
    crafted_request_url,
    readable_response_xml,
    response_page,
    saml_response_xml,
)
from tests.settable_clock import SettableClock


@pytest.fixture
def browser(stack):
    return Browser({"https://ent.test": stack.ent, "https://idp.test": stack.idp})


@pytest.fixture
def ent_client(stack) -> Saml2Client:
    return stack.ent.extensions["ent"].saml.client


def assert_refused_without_redirect(response, title: str):
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert title in page_text(response)
    assert "Traceback" not in response.get_data(as_text=True)


def test_unsigned_authn_request_is_refused(browser, ent_client):
    url = crafted_request_url(ent_client, sign=False)
    assert "Signature=" not in url
    assert_refused_without_redirect(browser.get(url), "Demande de connexion refusée")


def test_authn_request_with_tampered_signature_is_refused(browser, ent_client):
    url = crafted_request_url(ent_client)
    query = parse_qs(urlsplit(url).query)
    query["RelayState"] = ["autre-etat"]  # covered by the redirect-binding signature
    tampered = url.split("?")[0] + "?" + urlencode({k: v[0] for k, v in query.items()})
    assert_refused_without_redirect(browser.get(tampered), "Demande de connexion refusée")


def test_authn_request_signed_with_sha1_is_refused(browser, ent_client):
    url = crafted_request_url(ent_client, sigalg=SIG_RSA_SHA1)
    assert_refused_without_redirect(browser.get(url), "Demande de connexion refusée")


def test_acs_url_not_in_metadata_is_refused(browser, ent_client):
    url = crafted_request_url(ent_client, assertion_consumer_service_url="https://evil.test/saml/acs")
    assert_refused_without_redirect(browser.get(url), "Demande de connexion refusée")


def test_acs_url_differing_only_by_a_trailing_slash_is_refused(browser, ent_client):
    url = crafted_request_url(ent_client, assertion_consumer_service_url="https://ent.test/saml/acs/")
    assert_refused_without_redirect(browser.get(url), "Demande de connexion refusée")


def test_binding_not_in_metadata_is_refused(browser, ent_client):
    url = crafted_request_url(ent_client, binding=BINDING_HTTP_ARTIFACT)
    assert_refused_without_redirect(browser.get(url), "Demande de connexion refusée")


def test_unknown_issuer_gets_an_error_page(browser, deployment, stack):
    evil_settings = deployment.settings(
        "ent", stack.backend.database_url, None, base_url="https://evil.test", peer_metadata=[]
    )
    config = build_config(
        evil_settings, sp_services(evil_settings), metadata_files=[deployment.metadata_dir / "idp.xml"]
    )
    evil = Saml2Client(config)
    response = browser.get(crafted_request_url(evil))
    assert_refused_without_redirect(response, "Service inconnu")


NS = {
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
}


def parsed(xml: str):
    from lxml import etree

    return etree.fromstring(xml.encode())


def test_response_and_assertion_are_signed_with_sha256_only(browser, stack):
    xml = readable_response_xml(stack, response_page(browser, add_parent(stack.idp)))
    root = parsed(xml)
    assert len(root.xpath("/samlp:Response/ds:Signature", namespaces=NS)) == 1
    assert len(root.xpath("//saml:Assertion/ds:Signature", namespaces=NS)) == 1
    assert set(root.xpath("//ds:SignatureMethod/@Algorithm", namespaces=NS)) == {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    }
    assert set(root.xpath("//ds:DigestMethod/@Algorithm", namespaces=NS)) == {
        "http://www.w3.org/2001/04/xmlenc#sha256"
    }
    assert set(root.xpath("//ds:CanonicalizationMethod/@Algorithm", namespaces=NS)) == {
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    }
    # No SHA-1 anywhere an algorithm is named (base64 values may spell "sha1" by chance).
    algorithms = root.xpath("//@Algorithm")
    assert algorithms and not [a for a in algorithms if "sha1" in a.lower()]


def test_nameid_is_persistent_pairwise_and_stable(browser, stack):
    account = add_parent(stack.idp)
    root = parsed(readable_response_xml(stack, response_page(browser, account)))
    (name_id,) = root.xpath("//saml:Assertion/saml:Subject/saml:NameID", namespaces=NS)
    assert name_id.get("Format") == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    assert name_id.get("SPNameQualifier") == "https://ent.test/saml/metadata"
    subjects = stack.idp.extensions["idp"].subjects
    assert subjects.ensure_pairwise_subject(account.id, "https://ent.test/saml/metadata") == name_id.text
    assert (
        subjects.ensure_pairwise_subject(account.id, "https://other-ent.test/saml/metadata") != name_id.text
    )
    assert account.id not in name_id.text


def test_unknown_in_response_to_is_refused(stack):
    """A Response for another browser's request is refused: InResponseTo is not pending here."""
    victim = Browser({"https://ent.test": stack.ent, "https://idp.test": stack.idp})
    post_page = response_page(victim, add_parent(stack.idp))
    attacker = Browser({"https://ent.test": stack.ent, "https://idp.test": stack.idp})
    attacker.get("https://ent.test/connexion/educonnect")  # a pending request of its own
    refused = attacker.submit(post_page, form_id="saml-post")
    assert_refused_without_redirect(refused, "Demande de connexion refusée")


def test_response_without_any_pending_request_is_refused(stack):
    victim = Browser({"https://ent.test": stack.ent, "https://idp.test": stack.idp})
    post_page = response_page(victim, add_parent(stack.idp))
    stranger = Browser({"https://ent.test": stack.ent, "https://idp.test": stack.idp})
    refused = stranger.submit(post_page, form_id="saml-post")
    assert refused.status_code == 400
    assert "Votre session a expiré" in page_text(refused)


@pytest.fixture(scope="module")
def ent_clock() -> SettableClock:
    return SettableClock()


@pytest.fixture(scope="module")
def clocked_ent(deployment, backend, ent_clock):
    """The stack's ENT (same keys and metadata) reading the time from ``ent_clock``."""
    settings = deployment.settings(
        "ent", backend.database_url, backend.redis_url, crypto_backend=backend.crypto
    )
    return create_ent(settings, clock=ent_clock)


@pytest.fixture
def clocked_browser(stack, clocked_ent, ent_clock):
    ent_clock.reset()
    return Browser({"https://ent.test": clocked_ent, "https://idp.test": stack.idp})


def test_response_to_an_expired_request_is_refused(clocked_browser, clocked_ent, ent_clock, stack):
    """The Response itself is fresh and signed: only the ENT's pending request has expired."""
    post_page = response_page(clocked_browser, add_parent(stack.idp))
    ent_clock.advance(clocked_ent.extensions["ent"].settings.pending_request_ttl_seconds)
    refused = clocked_browser.submit(post_page, form_id="saml-post")
    assert refused.status_code == 400
    assert "Votre session a expiré" in page_text(refused)


def test_response_to_a_request_just_before_its_expiry_is_accepted(
    clocked_browser, clocked_ent, ent_clock, stack
):
    post_page = response_page(clocked_browser, add_parent(stack.idp))
    ent_clock.advance(clocked_ent.extensions["ent"].settings.pending_request_ttl_seconds - 1)
    accepted = clocked_browser.submit(post_page, form_id="saml-post")
    assert accepted.headers["Location"] == "/accueil"


def test_replayed_assertion_is_refused(browser, stack):
    """Second post of one Response while the session still lists its request (a racing worker)."""
    post_page = response_page(browser, add_parent(stack.idp))
    ent = browser.clients["https://ent.test"]
    sid = ent.get_cookie("ent_session", domain="ent.test").value
    store = stack.ent.extensions["store"]
    session_before = store.get(f"session:{sid}")
    assert browser.follow(browser.submit(post_page, form_id="saml-post")).request.path == "/accueil"
    # The racing worker loaded the session before the first post rotated it.
    store.set(f"session:{sid}", session_before, 600)
    ent.set_cookie("ent_session", sid, domain="ent.test")
    replay = browser.submit(post_page, form_id="saml-post")
    assert replay.status_code == 400
    assert "Connexion déjà utilisée" in page_text(replay)


def test_tampered_response_is_refused(browser, stack):
    import base64

    from lxml import etree

    post_page = response_page(browser, add_parent(stack.idp))
    root = parsed(saml_response_xml(post_page))
    issued = root.get("IssueInstant")  # covered by the Response's signature
    root.set("IssueInstant", issued[:-2] + ("1Z" if issued[-2] != "1" else "2Z"))

    tampered = {"SAMLResponse": base64.b64encode(etree.tostring(root)).decode()}
    refused = browser.post("https://ent.test/saml/acs", tampered)
    assert refused.status_code == 400
    assert "Demande de connexion refusée" in page_text(refused)


def test_assertion_is_encrypted_with_aes_gcm_and_rsa_oaep_for_the_ent(browser, stack):
    xml = saml_response_xml(response_page(browser, add_parent(stack.idp)))
    root = parsed(xml)
    ent_metadata = stack.ent.test_client().get("/saml/metadata", base_url="https://ent.test").get_data(True)
    if stack.backend.crypto == "xmlsec1":
        # Debian's xmlsec1 1.2.37 cannot encrypt with AES-GCM: an ENT on xmlsec1 publishes its
        # signing key only (an IdP on xmlsec1 refuses to start for an SP offering an encryption
        # key, below), so the assertion is signed only (README, crypto_backend).
        assert 'use="signing"' in ent_metadata and 'use="encryption"' not in ent_metadata
        assert root.xpath("/samlp:Response/saml:Assertion", namespaces=NS)
        return
    assert 'use="encryption"' in ent_metadata
    assert not root.xpath("//saml:Assertion", namespaces=NS)
    assert root.xpath("/samlp:Response/saml:EncryptedAssertion", namespaces=NS)
    algorithms = set(root.xpath("//*[local-name()='EncryptionMethod']/@Algorithm"))
    assert "http://www.w3.org/2009/xmlenc11#aes256-gcm" in algorithms
    assert "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" in algorithms
    assert "Claire" not in xml


@pytest.mark.parametrize(
    ("service", "metadata", "sp_entity_id"),
    [
        ("idp", "ent.xml", "https://ent.test/saml/metadata"),  # ÉduConnect toward the ENT
        ("aten", "idp-sp.xml", "https://idp.test/saml/sp/metadata"),  # ATEN toward ÉduConnect
    ],
)
def test_idp_on_xmlsec1_refuses_to_start_for_an_sp_that_publishes_an_encryption_key(
    deployment, service, metadata, sp_entity_id
):
    """No silent downgrade: xmlsec1 cannot encrypt AES-GCM, so no signed-only assertions to such an SP."""
    from aten_adapter import create_app as create_aten
    from federation.errors import ConfigurationError
    from idp import create_app as create_idp
    from tests.conftest import DEMO_LDIF

    with_key = deployment.metadata(metadata, "inprocess")  # exported by a service on inprocess
    assert 'use="encryption"' in with_key.read_text()
    with pytest.raises(ConfigurationError, match=re.escape(sp_entity_id)) as refused:
        if service == "idp":
            create_idp(
                deployment.settings(
                    "idp",
                    "sqlite://",
                    None,
                    crypto_backend="xmlsec1",
                    service_providers=[{"metadata": str(with_key)}],
                )
            )
        else:
            create_aten(
                deployment.settings(
                    "aten",
                    "sqlite://",
                    None,
                    crypto_backend="xmlsec1",
                    peer_metadata=[str(with_key)],
                    directory={"backend": "ldif", "ldif_file": str(DEMO_LDIF)},
                ),
                env={},
            )
    assert "xmlsec1" in str(refused.value) and "clé de chiffrement" in str(refused.value)
