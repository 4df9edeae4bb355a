"""federation.saml_sp: the one SP client of the ENT and of ÉduConnect toward ATEN, with real keys.

What goes out: a signed AuthnRequest on HTTP-Redirect (RSA-SHA256), Scoping or a NameIDPolicy when
asked; which partner: the only IdP, or the named one, or the start stops.
"""

from __future__ import annotations

import base64
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from federation.errors import ConfigurationError
from federation.saml_sp import SpRole, sp_metadata
from idp.saml_sp_aten import AtenClient
from sp_ent.saml_sp import ent_saml_client

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "md": "urn:oasis:names:tc:SAML:2.0:metadata"}
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


def sent_request(url: str) -> tuple[dict[str, str], etree._Element]:
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15)
    return query, etree.fromstring(xml)


@pytest.fixture(scope="module")
def ent_settings(deployment):
    return deployment.settings("ent", "sqlite://", None)


def test_the_ent_sends_a_signed_request_to_its_only_idp(ent_settings):
    client = ent_saml_client(ent_settings)
    outgoing = client.authn_request()
    assert outgoing.url.startswith("https://idp.test/saml/sso?")
    query, request = sent_request(outgoing.url)
    assert query["SigAlg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" and query["Signature"]
    assert request.get("ID") == outgoing.request_id
    assert request.get("AssertionConsumerServiceURL") == "https://ent.test/saml/acs"
    assert not request.xpath("samlp:Scoping", namespaces=NS)


def test_a_scoped_request_names_the_upstream_idp(ent_settings):
    outgoing = ent_saml_client(ent_settings).authn_request(scoped_idp="https://aten.test/saml/metadata")
    _, request = sent_request(outgoing.url)
    entries = request.xpath("samlp:Scoping/samlp:IDPList/samlp:IDPEntry/@ProviderID", namespaces=NS)
    assert entries == ["https://aten.test/saml/metadata"]


def test_educonnect_asks_aten_for_a_persistent_nameid(deployment):
    aten = AtenClient(deployment.settings("idp", "sqlite://", None))
    request_id, url = aten.authn_request()
    assert url.startswith("https://aten.test/saml/sso?")
    _, request = sent_request(url)
    assert request.get("ID") == request_id
    assert request.get("AssertionConsumerServiceURL") == "https://idp.test/saml/sp/acs"
    assert request.xpath("samlp:NameIDPolicy/@Format", namespaces=NS) == [PERSISTENT]


def test_a_named_partner_missing_from_the_metadata_stops_the_start(deployment):
    settings = deployment.settings(
        "idp", "sqlite://", None, aten_entity_id="https://autre-aten.test/saml/metadata"
    )
    with pytest.raises(ConfigurationError, match=r"idp\.peer_metadata.*autre-aten"):
        AtenClient(settings)


def test_without_a_named_partner_exactly_one_idp_is_expected(deployment):
    two_idps = [deployment.metadata_dir / "idp.xml", deployment.metadata_dir / "aten.xml"]
    settings = deployment.settings("ent", "sqlite://", None, peer_metadata=[str(p) for p in two_idps])
    with pytest.raises(ConfigurationError, match="un seul IdP attendu, trouvé 2"):
        ent_saml_client(settings)


def test_role_metadata_names_the_acs_and_wants_signed_assertions(ent_settings):
    role = SpRole(entity_id="https://sp.test/saml/metadata", acs_url="https://sp.test/acs", name="SP de test")
    root = etree.fromstring(sp_metadata(ent_settings, role).encode())
    assert root.get("entityID") == "https://sp.test/saml/metadata"
    (descriptor,) = root.xpath("md:SPSSODescriptor", namespaces=NS)
    assert (
        descriptor.get("AuthnRequestsSigned") == "true" and descriptor.get("WantAssertionsSigned") == "true"
    )
    assert descriptor.xpath("md:AssertionConsumerService/@Location", namespaces=NS) == ["https://sp.test/acs"]
