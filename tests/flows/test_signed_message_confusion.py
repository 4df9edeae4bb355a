"""Signed requests whose signer is not the one our checks think (review of issue 16).

* Issuer confusion: lxml's ``.text`` stops at a comment while pysaml2 joins the text around it, so
  ``<saml:Issuer>A<!---->.evil.example</saml:Issuer>`` was checked as SP A while pysaml2 verified
  with the keys of SP B = ``A.evil.example`` (and answered to B's ACS with A's attributes).
* Signature wrapping: xmlsec1 verifies the FIRST ds:Signature in document order, so an old
  genuinely signed request hidden in ``samlp:Extensions`` before a fake outer signature passed.

Both crypto backends, both SSO bindings and POST LogoutRequests, at the level of the IdP objects
(no browser): each case also has its accepted twin, so a refusal means the rule, not the setup.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree
from saml2 import BINDING_HTTP_POST
from saml2.pack import http_redirect_message
from saml2.sigver import RSACrypto, import_rsa_key_from_file
from saml2.xmldsig import SIG_RSA_SHA256

from federation.errors import ProtocolError
from federation.saml_logout import IncomingMessage, SingleLogout
from federation.settings import ServiceProvider
from federation.stores.embedded_store import EmbeddedStore
from idp.saml_idp import SamlIdentityProvider
from tests.flows.post_binding import Signer, sign_enveloped

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = 'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
SSO = "https://idp.test/saml/sso"
SLO = "https://idp.test/saml/slo"
A = "https://ent.test/saml/metadata"
B = A + ".evil.example"
# What pysaml2 reads as B and lxml's .text as A (or an element or PI splitting the text likewise).
CONFUSED_ISSUERS = {
    "comment": f"{A}<!---->.evil.example",
    "processing-instruction": f"{A}<?x y?>.evil.example",
    "element": f"{A}<saml:X/>.evil.example",
}
BACKENDS = ("inprocess", "xmlsec1")


def _twin_metadata(ent_metadata: Path, stranger: Signer, target: Path) -> Path:
    """SP B: A's metadata under entity ID B, signed by a stranger's key, its ACS at evil.example."""
    b = etree.fromstring(ent_metadata.read_bytes())
    for sig in b.findall(f"{{{DS}}}Signature"):
        b.remove(sig)
    b.set("entityID", B)
    for kd in list(b.iter(f"{{{MD}}}KeyDescriptor")):
        kd.getparent().remove(kd)
    spsso = b.find(f"{{{MD}}}SPSSODescriptor")
    kd = etree.Element(f"{{{MD}}}KeyDescriptor", use="signing")
    spsso.insert(0, kd)
    x509 = etree.SubElement(etree.SubElement(kd, f"{{{DS}}}KeyInfo"), f"{{{DS}}}X509Data")
    pem = stranger.cert_file.read_text().splitlines()
    etree.SubElement(x509, f"{{{DS}}}X509Certificate").text = "".join(
        line for line in pem if "-----" not in line
    )
    for acs in b.iter(f"{{{MD}}}AssertionConsumerService"):
        acs.set("Location", "https://evil.example/acs")
    target.write_bytes(etree.tostring(b))
    return target


@pytest.fixture(scope="module")
def parties(deployment, tmp_path_factory):
    """Per backend: the IdP with SP A (the ENT) and SP B registered, its SLO side, the signers."""
    root = tmp_path_factory.mktemp("confusion")
    stranger = Signer.stranger(root)
    made = {}
    for crypto in BACKENDS:
        ent_md = deployment.metadata("ent.xml", crypto)
        twin = _twin_metadata(ent_md, stranger, root / f"b-{crypto}.xml")
        settings = deployment.settings(
            "idp",
            "sqlite://",
            None,
            crypto_backend=crypto,
            service_providers=[],
            peer_metadata=[str(deployment.metadata("aten.xml", crypto))],
        )
        idp = SamlIdentityProvider(
            settings,
            [ServiceProvider(ent_md, ("sn", "givenName")), ServiceProvider(twin, ("sn",))],
        )
        slo = SingleLogout(
            idp.server,
            idp.providers,
            peer_type="spsso",
            endpoint_url=SLO,
            skew=dt.timedelta(minutes=3),
            store=EmbeddedStore(root / f"store-{crypto}.sqlite3"),
            replay_ttl_seconds=600,
        )
        made[crypto] = (idp, slo)
    return made, stranger, Signer.of(deployment.certs_dir, "ent")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _authn_request(issuer: str, extensions: str = "") -> etree._Element:
    return etree.fromstring(
        f'<samlp:AuthnRequest {NS} ID="_{uuid.uuid4().hex}" Version="2.0" '
        f'IssueInstant="{_now():%Y-%m-%dT%H:%M:%SZ}" Destination="{SSO}">'
        f"<saml:Issuer>{issuer}</saml:Issuer>{extensions}</samlp:AuthnRequest>"
    )


def _logout_request(issuer: str) -> etree._Element:
    return etree.fromstring(
        f'<samlp:LogoutRequest {NS} ID="_{uuid.uuid4().hex}" Version="2.0" '
        f'IssueInstant="{_now():%Y-%m-%dT%H:%M:%SZ}" Destination="{SLO}">'
        f"<saml:Issuer>{issuer}</saml:Issuer>"
        "<saml:NameID>subject-of-a</saml:NameID><samlp:SessionIndex>s1</samlp:SessionIndex>"
        "</samlp:LogoutRequest>"
    )


def _post(root: etree._Element) -> dict[str, str]:
    return {"SAMLRequest": base64.b64encode(etree.tostring(root)).decode()}


def _posted_logout(encoded: str) -> IncomingMessage:
    return IncomingMessage(binding=BINDING_HTTP_POST, kind="SAMLRequest", encoded=encoded)


def _redirect_args(xml: bytes, signer: Signer) -> dict[str, str]:
    backend = RSACrypto(import_rsa_key_from_file(str(signer.key_file)))
    info = http_redirect_message(
        xml.decode(), SSO, "", "SAMLRequest", sigalg=SIG_RSA_SHA256, sign=True, backend=backend
    )
    location = dict(info["headers"])["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


# --- Issuer confusion (item 1) ----------------------------------------------------------------


@pytest.mark.parametrize("crypto", BACKENDS)
def test_twin_sp_signing_its_own_requests_is_answered_as_itself(parties, crypto):
    """The baseline: B, signing as B, is B (both bindings, and its LogoutRequest is B's)."""
    made, stranger, _ = parties
    idp, slo = made[crypto]
    posted = idp.parse_post_request(_post(sign_enveloped(_authn_request(B), stranger)), _now())
    assert (posted.sp_entity_id, posted.acs_url) == (B, "https://evil.example/acs")
    redirected = idp.parse_redirect_request(
        _redirect_args(etree.tostring(_authn_request(B)), stranger), _now()
    )
    assert redirected.sp_entity_id == B
    encoded = _post(sign_enveloped(_logout_request(B), stranger))["SAMLRequest"]
    verified = slo.parse_request(_posted_logout(encoded), _now())
    assert verified.issuer == B


@pytest.mark.parametrize("crypto", BACKENDS)
@pytest.mark.parametrize("issuer", CONFUSED_ISSUERS.values(), ids=CONFUSED_ISSUERS.keys())
def test_post_authn_request_with_a_split_issuer_is_refused(parties, crypto, issuer):
    made, stranger, _ = parties
    idp, _ = made[crypto]
    with pytest.raises(ProtocolError):
        idp.parse_post_request(_post(sign_enveloped(_authn_request(issuer), stranger)), _now())


@pytest.mark.parametrize("crypto", BACKENDS)
@pytest.mark.parametrize("issuer", CONFUSED_ISSUERS.values(), ids=CONFUSED_ISSUERS.keys())
def test_redirect_authn_request_with_a_split_issuer_is_refused(parties, crypto, issuer):
    made, stranger, _ = parties
    idp, _ = made[crypto]
    with pytest.raises(ProtocolError):
        idp.parse_redirect_request(_redirect_args(etree.tostring(_authn_request(issuer)), stranger), _now())


@pytest.mark.parametrize("crypto", BACKENDS)
@pytest.mark.parametrize("issuer", CONFUSED_ISSUERS.values(), ids=CONFUSED_ISSUERS.keys())
def test_post_logout_request_with_a_split_issuer_is_refused(parties, crypto, issuer):
    made, stranger, _ = parties
    _, slo = made[crypto]
    encoded = _post(sign_enveloped(_logout_request(issuer), stranger))["SAMLRequest"]
    with pytest.raises(ProtocolError):
        slo.parse_request(_posted_logout(encoded), _now())


# --- Signature wrapping (item 2) --------------------------------------------------------------

FAKE_SIGNATURE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#{id}"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
    "<ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    "<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"
)


def _wrapped(new: etree._Element, old_signed: etree._Element) -> etree._Element:
    """``new`` with the old, genuinely signed message in its Extensions, then a fake signature."""
    extensions = etree.SubElement(new, "{urn:oasis:names:tc:SAML:2.0:protocol}Extensions")
    new.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer").addnext(extensions)
    extensions.append(old_signed)
    extensions.addnext(etree.fromstring(FAKE_SIGNATURE.format(id=new.get("ID"))))
    return new


@pytest.mark.parametrize("crypto", BACKENDS)
def test_post_authn_request_wrapping_an_old_signed_one_is_refused(parties, crypto):
    made, _, ent = parties
    idp, _ = made[crypto]
    old = sign_enveloped(_authn_request(A), ent)
    assert idp.parse_post_request(_post(old), _now()).sp_entity_id == A  # genuine on its own
    forged = _wrapped(_authn_request(A), sign_enveloped(_authn_request(A), ent))
    forged.set("ForceAuthn", "true")
    with pytest.raises(ProtocolError):
        idp.parse_post_request(_post(forged), _now())


@pytest.mark.parametrize("crypto", BACKENDS)
def test_post_logout_request_wrapping_an_old_signed_one_is_refused(parties, crypto):
    made, _, ent = parties
    _, slo = made[crypto]
    forged = _wrapped(_logout_request(A), sign_enveloped(_logout_request(A), ent))
    with pytest.raises(ProtocolError):
        slo.parse_request(_posted_logout(_post(forged)["SAMLRequest"]), _now())


# --- Destination (item 5): SAML bindings §3.4.5.2 / §3.5.5.2 require it on signed messages ------


def _without_destination(root: etree._Element) -> etree._Element:
    del root.attrib["Destination"]
    return root


def _elsewhere(root: etree._Element) -> etree._Element:
    root.set("Destination", "https://other-idp.test/saml/sso")
    return root


@pytest.mark.parametrize("crypto", BACKENDS)
@pytest.mark.parametrize("bend", [_without_destination, _elsewhere], ids=["absent", "another-idp"])
def test_authn_request_not_destined_to_our_sso_url_is_refused(parties, crypto, bend):
    made, stranger, _ = parties
    idp, _ = made[crypto]
    with pytest.raises(ProtocolError, match=r"Destination|destined"):
        idp.parse_post_request(_post(sign_enveloped(bend(_authn_request(B)), stranger)), _now())
    redirect = _redirect_args(etree.tostring(bend(_authn_request(B))), stranger)
    with pytest.raises(ProtocolError, match=r"Destination|destined"):
        idp.parse_redirect_request(redirect, _now())
