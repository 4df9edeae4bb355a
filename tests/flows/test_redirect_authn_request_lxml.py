"""The HTTP-Redirect AuthnRequest read with lxml once its query-string signature is checked
(issue 17 item 3): what pysaml2's object model read and checked, the same answer, and the DESIGN §5
refusals against this path (the older ones are in test_saml_protocol_rules.py).

Each crafted message is signed by the ENT's real key (redirect binding, RSA-SHA256): a refusal
below is the IdP's reading of a correctly signed message, not a signature failure.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from saml2 import BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.xmldsig import SIG_RSA_SHA256

from federation.errors import ProtocolError
from federation.saml_idp import _RequestFields, check_same_issuer
from tests.browser import Browser, page_text
from tests.flows.saml_steps import crafted_request_url

SSO_URL = "https://idp.test/saml/sso"
ENT = "https://ent.test/saml/metadata"
ATEN = "https://aten.test/saml/metadata"


@pytest.fixture
def browser(stack):
    return Browser({"https://ent.test": stack.ent, "https://idp.test": stack.idp})


@pytest.fixture
def ent_client(stack) -> Saml2Client:
    return stack.ent.extensions["ent"].saml.client


@pytest.fixture
def idp(stack):
    """The IdP core (the reference below calls its checks directly). On main, since the merge of
    the SP registry (issue 16), the services hold a LiveRegistry whose ``current().saml`` it is."""
    saml = stack.idp.extensions["idp"].saml
    return saml.current().saml if hasattr(saml, "current") else saml


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def instant(offset_seconds: int = 0) -> str:
    return (now() + dt.timedelta(seconds=offset_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_xml(
    request_id: str = "_r1", extra: str = "", children: str = "", **attributes: str | None
) -> str:
    attrs: dict[str, str | None] = {
        "ID": request_id,
        "Version": "2.0",
        "IssueInstant": instant(),
        "Destination": SSO_URL,
        **attributes,
    }
    rendered = " ".join(f'{k}="{v}"' for k, v in attrs.items() if v is not None)
    return (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" {rendered} {extra}>'
        f"<saml:Issuer>{ENT}</saml:Issuer>{children}</samlp:AuthnRequest>"
    )


def signed_args(client: Saml2Client, xml: str, relay_state: str | None = "etat") -> dict[str, str]:
    info = client.apply_binding(
        BINDING_HTTP_REDIRECT, xml, SSO_URL, relay_state=relay_state or "", sign=True, sigalg=SIG_RSA_SHA256
    )
    query = parse_qs(urlsplit(dict(info["headers"])["Location"]).query)
    return {k: v[0] for k, v in query.items()}


def by_pysaml2(idp, args: dict[str, str]):
    """The reference: pysaml2's parse and object model, then the same checks after it."""
    parsed = idp.server.parse_authn_request(
        args["SAMLRequest"],
        BINDING_HTTP_REDIRECT,
        relay_state=args.get("RelayState"),
        sigalg=args["SigAlg"],
        signature=args["Signature"],
    )
    check_same_issuer(parsed.message, ENT, "AuthnRequest")
    return idp._checked_request(
        _RequestFields.from_pysaml2(parsed.message), ENT, args.get("RelayState"), now(), BINDING_HTTP_REDIRECT
    )


VARIANTS: dict[str, dict[str, str | None]] = {
    "minimal": {},
    "every field": {
        "children": '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" '
        'AllowCreate="true"/><samlp:Scoping><samlp:IDPList>'
        f'<samlp:IDPEntry ProviderID="{ATEN}"/><samlp:IDPEntry ProviderID="https://autre.test"/>'
        "</samlp:IDPList></samlp:Scoping>",
        "ForceAuthn": "true",
        "AssertionConsumerServiceURL": "https://ent.test/saml/acs",
        "ProtocolBinding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
    },
    "force 1, index 0": {"ForceAuthn": "1", "AssertionConsumerServiceIndex": "0"},
    "index 1": {"AssertionConsumerServiceIndex": "1"},
    "index 2": {"AssertionConsumerServiceIndex": "2"},
    "no destination": {"Destination": None, "ForceAuthn": "false"},
    "empty policy": {"children": "<samlp:NameIDPolicy/>"},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_lxml_reading_is_what_pysaml2_read(idp, ent_client, variant):
    fields: dict[str, Any] = dict(VARIANTS[variant])
    children = fields.pop("children", None) or ""
    args = signed_args(
        ent_client, request_xml(f"_v{sorted(VARIANTS).index(variant)}", children=children, **fields)
    )
    assert outcome(idp.parse_redirect_request, args) == outcome(lambda a, _: by_pysaml2(idp, a), args)


def outcome(parse, args: dict[str, str]) -> object:
    """The request read, or the refusal (both readings must refuse the same messages)."""
    try:
        return parse(args, now())
    except ProtocolError:
        return "refused"


def test_the_parcours_de_transition_is_read_from_scoping(idp, ent_client):
    children = (
        f'<samlp:Scoping><samlp:IDPList><samlp:IDPEntry ProviderID="{ATEN}"/></samlp:IDPList></samlp:Scoping>'
    )
    request = idp.parse_redirect_request(signed_args(ent_client, request_xml(children=children)), now())
    assert request.requested_idps == (ATEN,) and request.relay_state == "etat"


REFUSED = {
    "not a schema boolean": request_xml(ForceAuthn="maybe"),
    "no ID": request_xml(ID=None),
    "an ID that is no NCName": request_xml(request_id="1-starts-with-a-digit"),
    "no IssueInstant": request_xml(IssueInstant=None),
    "Version 1.1": request_xml(Version="1.1"),
    "another IdP's Destination": request_xml(Destination="https://evil.test/saml/sso"),
    "an unknown element": request_xml(children="<samlp:Extras/>"),
    "a foreign ACS": request_xml(AssertionConsumerServiceURL="https://evil.test/acs"),
    "an unknown ACS index": request_xml(AssertionConsumerServiceIndex="7"),
    "a transient NameID": request_xml(
        children='<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"/>'
    ),
    "an expired IssueInstant": request_xml(IssueInstant=instant(-3600)),
    "an enveloped signature that does not verify": request_xml(
        children='<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        '<ds:Reference URI="#_r1"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        "<ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        "<ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>"
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_correctly_signed_request_is_still_refused_for(idp, ent_client, case):
    with pytest.raises(ProtocolError):
        idp.parse_redirect_request(signed_args(ent_client, REFUSED[case]), now())


def test_the_signature_of_another_request_is_refused(idp, ent_client):
    first, second = (signed_args(ent_client, request_xml(f"_r{i}")) for i in (1, 2))
    with pytest.raises(ProtocolError, match="signature"):
        idp.parse_redirect_request({**second, "Signature": first["Signature"]}, now())


def test_a_relay_state_changed_after_signing_is_refused(idp, ent_client):
    args = signed_args(ent_client, request_xml())
    with pytest.raises(ProtocolError, match="signature"):
        idp.parse_redirect_request({**args, "RelayState": "autre"}, now())
    with pytest.raises(ProtocolError, match="signature"):
        idp.parse_redirect_request({k: v for k, v in args.items() if k != "RelayState"}, now())


def test_a_schema_invalid_request_gets_the_error_page_without_redirect(browser, ent_client):
    args = signed_args(ent_client, request_xml(ForceAuthn="maybe"))
    response = browser.get(f"{SSO_URL}?{urlencode(args)}")
    assert response.status_code == 400 and "Location" not in response.headers
    assert "Demande de connexion refusée" in page_text(response)


def test_a_pysaml2_request_with_its_enveloped_signature_too_goes_through(browser, ent_client):
    url = crafted_request_url(ent_client)  # pysaml2 signs the XML and the query string
    assert browser.get(url).status_code == 302  # to the login page: read, checked, pending


def test_an_enveloped_signature_is_checked_when_present(idp, ent_client):
    request_id, signed = ent_client.create_authn_request(SSO_URL, sign=True)
    assert "SignatureValue" in signed
    args = signed_args(ent_client, signed)
    assert idp.parse_redirect_request(args, now()).request_id == request_id
    # One character of the XML signature's value changed, then the query string signed again.
    tampered = re.sub(
        r"(SignatureValue>)(.)", lambda m: m[1] + ("B" if m[2] == "A" else "A"), signed, count=1
    )
    assert tampered != signed
    with pytest.raises(ProtocolError, match="XML signature"):
        idp.parse_redirect_request(signed_args(ent_client, tampered), now())
