"""The metadata the services publish, as a federation operator checks it (issue 16 item 2).

Every document validates against the OASIS SAML 2.0 metadata schema (pysaml2's copies, with the
algorithm-support schema for the extension; nothing is downloaded), its signature is accepted by
Debian's ``xmlsec1 --verify`` with the service's metadata-signing certificate (and refused with
another one or once tampered), ``validUntil`` / ``cacheDuration`` / ``Organization`` /
``ContactPerson`` come from settings, and the algorithm list is exactly what the services accept.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
import xmlschema
from lxml import etree
from saml2.xmldsig import SIG_RSA_SHA1, SIG_RSA_SHA224, SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512

from federation.errors import ConfigurationError
from federation.keys import metadata_signing_pair
from federation.saml import build_config, metadata_xml, publication
from federation.saml_metadata import PublishedMetadata
from federation.settings import CRYPTO_BACKENDS
from idp.saml_idp import idp_services
from sp_ent.saml_sp import ent_saml_client
from tests.browser import Browser, page_text
from tests.conftest import Deployment
from tests.flows.saml_steps import add_parent, crafted_request_url, response_page, saml_response_xml
from tests.saml_schemas import saml_schema as oasis_metadata_schema

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
ALG = "urn:oasis:names:tc:SAML:metadata:algsupport"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XMLSEC1 = "/usr/bin/xmlsec1"  # Debian's xmlsec1
DOCUMENTS = {"idp.xml": "idp", "idp-sp.xml": "idp", "ent.xml": "ent", "aten.xml": "aten"}


@pytest.fixture(scope="module")
def metadata_schema() -> xmlschema.XMLSchema:
    return oasis_metadata_schema()


@pytest.mark.parametrize("backend", CRYPTO_BACKENDS)
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_metadata_validates_against_the_oasis_schema(deployment, metadata_schema, name, backend):
    document = deployment.metadata(name, backend)
    metadata_schema.validate(str(document))
    root = etree.parse(str(document)).getroot()
    assert root.find(f"{{{DS}}}Signature") is not None
    assert root.find(f"{{{MD}}}Extensions/{{{ALG}}}SigningMethod") is not None  # checked, not skipped


def test_the_schema_check_reaches_the_algorithm_extension(deployment, metadata_schema):
    """Control: a SigningMethod without its required Algorithm is refused, so the extension is
    validated by its schema (md:Extensions is lax: an unknown namespace would pass unchecked)."""
    broken = (
        deployment.metadata("idp.xml").read_text().replace("SigningMethod Algorithm=", "SigningMethod Alg=")
    )
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        metadata_schema.validate(broken)


def xmlsec1_verify(document: Path, certificate: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            XMLSEC1,
            "--verify",
            "--pubkey-cert-pem",
            str(certificate),
            "--id-attr:ID",
            f"{MD}:EntityDescriptor",
            str(document),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("backend", CRYPTO_BACKENDS)
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_xmlsec1_accepts_the_metadata_signature(deployment, name, backend):
    certificate = metadata_signing_pair(deployment.certs_dir, DOCUMENTS[name]).cert_file
    result = xmlsec1_verify(deployment.metadata(name, backend), certificate)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stderr


def test_xmlsec1_refuses_another_key_and_a_tampered_document(deployment, tmp_path):
    document = deployment.metadata("idp.xml")
    other = metadata_signing_pair(deployment.certs_dir, "ent").cert_file
    assert xmlsec1_verify(document, other).returncode != 0
    # The signing key of SAML messages is not the metadata-signing key.
    assert xmlsec1_verify(document, deployment.certs_dir / "idp-signing.crt").returncode != 0
    tampered = tmp_path / "idp.xml"
    tampered.write_text(
        document.read_text().replace("https://idp.test/saml/sso", "https://evil.test/saml/sso")
    )
    assert (
        xmlsec1_verify(tampered, metadata_signing_pair(deployment.certs_dir, "idp").cert_file).returncode != 0
    )


FIXED = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)
ABOUT = {
    "valid_days": 3,
    "cache_duration_hours": 2,
    "organization_name": "Ministère de l'Éducation nationale",
    "organization_display_name": "ÉduConnect",
    "organization_url": "https://www.education.gouv.fr/",
    "technical_contact": {"name": "Pôle technique", "email": "tech@idp.test"},
    "support_contact": {"name": "Assistance ÉduConnect", "email": "mailto:aide@idp.test"},
}


def idp_metadata(deployment: Deployment, now: dt.datetime, **about: object) -> etree._Element:
    settings = deployment.settings(
        "idp", "sqlite://", None, peer_metadata=[], service_providers=[], metadata={**ABOUT, **about}
    )
    return etree.fromstring(
        metadata_xml(build_config(settings, idp_services(settings)), settings, now).encode()
    )


def test_valid_until_cache_duration_organization_and_contacts_come_from_settings(deployment):
    root = idp_metadata(deployment, FIXED)
    assert root.get("validUntil") == "2026-09-04T08:00:00Z"
    assert root.get("cacheDuration") == "PT7200S"
    organization = root.find(f"{{{MD}}}Organization")
    assert [e.text for e in organization] == [
        "Ministère de l'Éducation nationale",
        "ÉduConnect",
        "https://www.education.gouv.fr/",
    ]
    contacts = {
        c.get("contactType"): (c.findtext(f"{{{MD}}}GivenName"), c.findtext(f"{{{MD}}}EmailAddress"))
        for c in root.findall(f"{{{MD}}}ContactPerson")
    }
    assert contacts == {
        "technical": ("Pôle technique", "mailto:tech@idp.test"),
        "support": ("Assistance ÉduConnect", "mailto:aide@idp.test"),
    }


def test_a_contact_without_an_address_is_refused_at_start(deployment):
    with pytest.raises(ConfigurationError, match=r"support_contact\.email"):
        deployment.settings("idp", "sqlite://", None, metadata={"support_contact": {"email": "personne"}})


def test_served_metadata_is_signed_again_once_its_cache_duration_is_over(deployment):
    settings = deployment.settings(
        "idp", "sqlite://", None, peer_metadata=[], service_providers=[], metadata=ABOUT
    )
    now = [FIXED]
    served = PublishedMetadata(
        build_config(settings, idp_services(settings)), publication(settings), lambda: now[0]
    )
    first = served.document()
    now[0] = FIXED + dt.timedelta(hours=1, minutes=59)
    assert served.document() == first  # built once, not per request
    now[0] = FIXED + dt.timedelta(hours=2)
    again = etree.fromstring(served.document().encode())
    assert again.get("validUntil") == "2026-09-04T10:00:00Z"


def test_an_ent_refuses_idp_metadata_past_its_valid_until(deployment, tmp_path):
    stale = tmp_path / "idp.xml"
    stale.write_bytes(
        etree.tostring(idp_metadata(deployment, dt.datetime.now(dt.UTC) - dt.timedelta(days=4)))
    )
    ent_settings = deployment.settings("ent", "sqlite://", None, peer_metadata=[str(stale)])
    with pytest.raises(ConfigurationError, match="validUntil"):
        ent_saml_client(ent_settings)
    fresh = tmp_path / "idp-fresh.xml"
    fresh.write_bytes(etree.tostring(idp_metadata(deployment, dt.datetime.now(dt.UTC))))
    client = ent_saml_client(deployment.settings("ent", "sqlite://", None, peer_metadata=[str(fresh)]))
    assert client.idp_entity_id == "https://idp.test/saml/metadata"  # control


def test_aten_refuses_sp_metadata_past_its_valid_until(deployment, tmp_path):
    from aten_adapter.saml_idp import AtenIdentityProvider
    from idp.saml_sp_aten import aten_sp_role

    settings = deployment.settings("idp", "sqlite://", None, peer_metadata=[], service_providers=[])
    role = aten_sp_role(settings)
    config = build_config(settings, role.services(), entity_id=role.entity_id, name=role.name)
    stale = tmp_path / "idp-sp.xml"
    stale.write_text(metadata_xml(config, settings, dt.datetime.now(dt.UTC) - dt.timedelta(days=11)))
    with pytest.raises(ConfigurationError, match=r"https://idp\.test/saml/sp/metadata .* validUntil"):
        AtenIdentityProvider(
            deployment.settings("aten", "sqlite://", None, peer_metadata=[str(stale)]), "ATEN"
        )
    stale.write_text(metadata_xml(config, settings))
    aten = AtenIdentityProvider(
        deployment.settings("aten", "sqlite://", None, peer_metadata=[str(stale)]), "ATEN"
    )
    assert aten.service_providers == {"https://idp.test/saml/sp/metadata"}  # control


def advertised(document: str, tag: str) -> list[str]:
    root = etree.fromstring(document.encode())
    return [e.get("Algorithm") for e in root.find(f"{{{MD}}}Extensions").iter(f"{{{ALG}}}{tag}")]


# Every RSA SigAlg pysaml2 can sign an HTTP-Redirect message with.
REDIRECT_SIGALGS = (SIG_RSA_SHA1, SIG_RSA_SHA224, SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512)


def test_the_idp_accepts_exactly_the_redirect_sigalgs_its_metadata_advertises(stack):
    """What the ENT reads in ÉduConnect's metadata is what ÉduConnect accepts: an SP picking any
    advertised algorithm signs in, one picking another (RSA-SHA1, RSA-SHA224) is refused."""
    offered = advertised(stack.idp.extensions["idp"].saml.metadata, "SigningMethod")
    client = stack.ent.extensions["ent"].saml.client
    accepted = []
    for sigalg in REDIRECT_SIGALGS:
        browser = Browser(stack.apps())
        page = browser.follow(browser.get(crafted_request_url(client, sigalg=sigalg)))
        if page.status_code == 200 and page.request.path == "/connexion":
            accepted.append(sigalg)
        else:
            assert "Demande de connexion refusée" in page_text(page)
    assert accepted == [alg for alg in offered if alg in REDIRECT_SIGALGS]
    assert SIG_RSA_SHA1 not in offered and accepted


def test_what_the_idp_emits_is_what_the_metadata_advertises(stack):
    """The Response's signatures use advertised algorithms (the first: the preferred one), and an
    encrypted assertion uses algorithms the ENT's encryption key advertises."""
    browser = Browser(stack.apps())
    xml = saml_response_xml(response_page(browser, add_parent(stack.idp)))
    root = etree.fromstring(xml.encode())
    idp_document = stack.idp.extensions["idp"].saml.metadata
    methods = {e.get("Algorithm") for e in root.iter(f"{{{DS}}}SignatureMethod")}
    digests = {e.get("Algorithm") for e in root.iter(f"{{{DS}}}DigestMethod")}
    assert methods == {advertised(idp_document, "SigningMethod")[0]}
    assert digests == {advertised(idp_document, "DigestMethod")[0]}
    ent_document = etree.fromstring(stack.ent.extensions["ent"].saml.metadata.encode())
    for_encryption = {
        e.get("Algorithm")
        for e in ent_document.iterfind(
            f".//{{{MD}}}KeyDescriptor[@use='encryption']/{{{MD}}}EncryptionMethod"
        )
    }
    used = {e.get("Algorithm") for e in root.iter(f"{{{XENC}}}EncryptionMethod")}
    if stack.backend.crypto == "xmlsec1":
        assert not for_encryption and not used  # signing key only: assertions come unencrypted
    else:
        assert used and used <= for_encryption
