"""federation.response_template against pysaml2's object model (issue 17 item 3).

For many generated inputs (XML-special characters, Unicode, several values, every attribute of
DESIGN §4, random subsets and orders; the Assertion encrypted and not) ÉduConnect's Response is
built both ways — ``build_response`` (the lxml template) and ``build_response_with_pysaml2`` (the
reference) — and the two documents must be equal after exclusive c14n, IDs, instants and the
signature and cipher values aside; an encrypted Assertion is compared once decrypted with the
ENT's key. Every document built by the template validates against the OASIS schemas.
"""

from __future__ import annotations

import base64
import datetime as dt
import random

import pytest
from lxml import etree

from federation.errors import ConfigurationError, ProtocolError
from federation.saml_backend import check_crypto_backend
from federation.saml_idp import AuthenticationRequest, IdentityProviderCore, PostForm
from federation.xml_security import InProcessXmlSecBackend, parse_xml
from idp.saml_idp import SamlIdentityProvider
from tests.conftest import Deployment
from tests.saml_schemas import validate

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xs": "http://www.w3.org/2001/XMLSchema",
}
# IDs and instants differ from one build to the next; so do the values computed from them.
VARYING_ATTRIBUTES = {"ID", "IssueInstant", "NotBefore", "NotOnOrAfter", "SessionIndex", "URI", "Id"}
VARYING_TEXT = {"DigestValue", "SignatureValue", "CipherValue"}
ENT = "https://ent.test/saml/metadata"
ACS = "https://ent.test/saml/acs"
# DESIGN §4, by FriendlyName, each with values of its own shape.
ATTRIBUTES = (
    "sn",
    "givenName",
    "FrEduCtId",
    "FrEduCtPersonAffiliation",
    "FrEduCtDateConnexion",
    "FrEduUrlRetour",
    "FrEduCtRefId",
    "FrEduVecteur",
)
AWKWARD = [
    "<",
    ">",
    "&",
    '"',
    "'",
    "]]>",
    "&amp;",
    "<!--",
    "-->",
    "é",
    "Œ",
    "ß",
    "日本",
    "😀",
    " ",
    "\t",
    "|",
]


def idp_for(deployment: Deployment, metadata: str) -> SamlIdentityProvider:
    settings = deployment.settings("idp", "sqlite://", None, service_providers=[{"metadata": metadata}])
    idp = SamlIdentityProvider(settings)
    check_crypto_backend(idp.server, settings)
    return idp


@pytest.fixture(scope="module")
def encrypting(deployment: Deployment) -> SamlIdentityProvider:
    return idp_for(deployment, str(deployment.metadata("ent.xml")))


@pytest.fixture(scope="module")
def signing_only(deployment: Deployment) -> SamlIdentityProvider:
    # The same ENT registered from its signing-only metadata (as bench scenario (s) does).
    return idp_for(deployment, str(deployment.metadata("ent.xml", "xmlsec1")))


def awkward_text(rng: random.Random) -> str:
    parts = [rng.choice(AWKWARD) if rng.random() < 0.5 else rng.choice("abcXYZ019.-_") for _ in range(12)]
    return "".join(parts).strip() or "x"


def generated_attributes(rng: random.Random) -> dict[str, list[str]]:
    names = rng.sample(ATTRIBUTES, rng.randint(0, len(ATTRIBUTES)))
    return {name: [awkward_text(rng) for _ in range(rng.randint(1, 4))] for name in names}


def generated_request(rng: random.Random) -> AuthenticationRequest:
    return AuthenticationRequest(
        # An xs:ID, as the AuthnRequest's (SAML core §1.3.4): NCName characters, Unicode too.
        request_id="_" + "".join(rng.choice("abcXYZ019.-_éŒß") for _ in range(rng.randint(1, 40))),
        sp_entity_id=ENT,
        acs_url=ACS,
        relay_state=rng.choice([None, awkward_text(rng)]),
    )


def document(form: PostForm) -> etree._Element:
    return parse_xml(base64.b64decode(form.fields["SAMLResponse"]))


def normalised(element: etree._Element) -> bytes:
    """Exclusive c14n of a copy with fixed prefixes (pysaml2 writes ns0, ns1…), varying values blanked."""

    def rebuilt(source: etree._Element, parent: etree._Element | None) -> etree._Element:
        qname = etree.QName(source)
        target = etree.Element(qname, nsmap=NS) if parent is None else etree.SubElement(parent, qname)
        for name, value in source.attrib.items():
            target.set(name, "*" if etree.QName(name).localname in VARYING_ATTRIBUTES else value)
        target.text = "*" if qname.localname in VARYING_TEXT else source.text
        for child in source:
            rebuilt(child, target)
        return target

    return etree.tostring(rebuilt(element, None), method="c14n", exclusive=True)


def plaintext_assertion(root: etree._Element, deployment: Deployment) -> etree._Element:
    backend = InProcessXmlSecBackend()
    decrypted = parse_xml(
        backend.decrypt(etree.tostring(root), str(deployment.certs_dir / "ent-encryption.key"))
    )
    assertion = decrypted.find("saml:EncryptedAssertion/saml:Assertion", NS)
    assert assertion is not None
    return assertion


def both_ways(idp: SamlIdentityProvider, seed: int) -> tuple[PostForm, PostForm]:
    rng = random.Random(seed)
    request = generated_request(rng)
    subject = awkward_text(rng)
    attributes = generated_attributes(rng)
    authn_instant = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randint(0, 10**7))
    return (
        idp.build_response(request, subject, attributes, authn_instant),
        idp.build_response_with_pysaml2(request, subject, attributes, authn_instant),
    )


@pytest.mark.parametrize("seed", range(40))
def test_the_template_builds_what_pysaml2_builds(signing_only: SamlIdentityProvider, seed: int):
    template, reference = both_ways(signing_only, seed)
    assert (template.action, template.fields.keys()) == (reference.action, reference.fields.keys())
    assert template.fields.get("RelayState") == reference.fields.get("RelayState")
    assert normalised(document(template)) == normalised(document(reference))
    assert template.session_index and template.session_index != reference.session_index
    validate(base64.b64decode(template.fields["SAMLResponse"]))


@pytest.mark.parametrize("seed", range(40, 70))
def test_the_template_builds_what_pysaml2_builds_encrypted(
    encrypting: SamlIdentityProvider, deployment: Deployment, seed: int
):
    template, reference = both_ways(encrypting, seed)
    ours, theirs = document(template), document(reference)
    assert ours.find("saml:Assertion", NS) is None and ours.find("saml:EncryptedAssertion", NS) is not None
    assert normalised(ours) == normalised(theirs)  # envelope and EncryptedData skeleton
    assert normalised(plaintext_assertion(ours, deployment)) == normalised(
        plaintext_assertion(theirs, deployment)
    )
    validate(etree.tostring(ours))
    validate(etree.tostring(plaintext_assertion(ours, deployment)))


def test_every_attribute_of_design_4_goes_out_with_its_name_and_format(signing_only: SamlIdentityProvider):
    values = {name: [f"{name} <&> é", "deux"] for name in ATTRIBUTES}
    request = AuthenticationRequest("_r", ENT, ACS, None)
    form = signing_only.build_response(request, "s", values, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    found = document(form).findall(".//saml:Attribute", NS)
    assert sorted(a.get("FriendlyName") for a in found) == sorted(ATTRIBUTES)
    for attribute in found:
        assert [v.text for v in attribute] == [f"{attribute.get('FriendlyName')} <&> é", "deux"]
        oid = attribute.get("Name", "").startswith("urn:oid:")
        assert attribute.get("NameFormat", "").endswith(":uri" if oid else ":basic")


def test_markup_in_a_value_stays_text(signing_only: SamlIdentityProvider):
    hostile = '</saml:AttributeValue><saml:Attribute Name="x"/><saml:AttributeValue>'
    request = AuthenticationRequest("_r", ENT, ACS, None)
    form = signing_only.build_response(
        request, hostile, {"sn": [hostile]}, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    root = document(form)
    assert [a.get("FriendlyName") for a in root.findall(".//saml:Attribute", NS)] == ["sn"]
    assert root.findtext(".//saml:AttributeValue", namespaces=NS) == hostile
    assert root.findtext(".//saml:NameID", namespaces=NS) == hostile


def test_a_value_that_is_not_xml_is_refused(signing_only: SamlIdentityProvider):
    request = AuthenticationRequest("_r", ENT, ACS, None)
    with pytest.raises(ProtocolError):
        signing_only.build_response(request, "s", {"sn": ["a\x00b"]}, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_an_attribute_outside_the_maps_is_refused(signing_only: SamlIdentityProvider):
    request = AuthenticationRequest("_r", ENT, ACS, None)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    # Past the per-SP release of idp.saml_idp (which would drop it), as pysaml2's converters refuse it.
    with pytest.raises(ConfigurationError, match="absent de federation/attributemaps"):
        IdentityProviderCore.build_response(signing_only, request, "s", {"notAnAttribute": ["v"]}, at)
    with pytest.raises(ConfigurationError, match="absent de federation/attributemaps"):
        signing_only.build_response_with_pysaml2(request, "s", {"notAnAttribute": ["v"]}, at)


def test_the_reference_builder_is_not_used_at_run_time(encrypting: SamlIdentityProvider, monkeypatch):
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pysaml2 built the Response")

    monkeypatch.setattr(encrypting.server, "create_authn_response", refuse)
    request = AuthenticationRequest("_r", ENT, ACS, None)
    encrypting.build_response(request, "s", {"sn": ["v"]}, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_pysaml2_policy_still_decides(signing_only: SamlIdentityProvider, monkeypatch):
    policy = signing_only.server.config.getattr("policy", "idp")
    monkeypatch.setattr(policy, "restrict", lambda ava, sp: {k: v for k, v in ava.items() if k == "sn"})
    request = AuthenticationRequest("_r", ENT, ACS, None)
    form = signing_only.build_response(
        request, "s", {"sn": ["a"], "givenName": ["b"]}, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    assert [a.get("FriendlyName") for a in document(form).findall(".//saml:Attribute", NS)] == ["sn"]
