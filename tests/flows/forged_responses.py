"""Hand-made ATEN Responses for the negative tests of ÉduConnect's SP side (issue 3 item 6).

A well-formed Response is produced by ATEN's own pysaml2 Server, unsigned; a test then bends one
field (audience, destination, recipient, times, number of assertions) and signs Assertion and
Response with python-xmlsec, using ATEN's key or an attacker's. The control test signs an
unbent Response with ATEN's key and expects it accepted, so a refusal means the bent field.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import xmlsec
from lxml import etree
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
SP_ENTITY_ID = "https://idp.test/saml/sp/metadata"
ACS_URL = "https://idp.test/saml/sp/acs"


@dataclass(frozen=True)
class Signer:
    key_file: Path
    cert_file: Path


def pending_request_id(authn_request_url: str) -> str:
    """The ID of the AuthnRequest ÉduConnect sent to ATEN (HTTP-Redirect, deflated)."""
    encoded = parse_qs(urlsplit(authn_request_url).query)["SAMLRequest"][0]
    xml = zlib.decompress(base64.b64decode(encoded), -15).decode()
    match = re.search(r'\bID="([^"]+)"', xml)
    assert match
    return match.group(1)


def unsigned_response(aten_server, in_response_to: str):
    name_id = NameID(
        format=NAMEID_FORMAT_PERSISTENT,
        name_qualifier="https://aten.test/saml/metadata",
        sp_name_qualifier=SP_ENTITY_ID,
        text="forged-subject-0001",
    )
    response = aten_server.create_authn_response(
        {"sn": ["Durand"], "givenName": ["Marie"], "FrEduVecteur": ["1|DURAND|Marie|100001|0861001W"]},
        in_response_to=in_response_to,
        destination=ACS_URL,
        sp_entity_id=SP_ENTITY_ID,
        name_id=name_id,
        sign_response=False,
        sign_assertion=False,
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
    )
    return etree.fromstring(str(response).encode())


def set_times(root, issued_at: dt.datetime, lifetime: dt.timedelta = dt.timedelta(minutes=5)) -> None:
    """Move the whole message in time: IssueInstant / NotBefore = issued_at, NotOnOrAfter after it."""

    def stamp(value: dt.datetime) -> str:
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    for node in root.xpath("/samlp:Response | //saml:Assertion | //saml:AuthnStatement", namespaces=NS):
        node.set(
            "IssueInstant"
            if node.tag.endswith("}Response") or node.tag.endswith("}Assertion")
            else "AuthnInstant",
            stamp(issued_at),
        )
    for node in root.xpath("//saml:Conditions", namespaces=NS):
        node.set("NotBefore", stamp(issued_at))
    for node in root.xpath("//saml:Conditions | //saml:SubjectConfirmationData", namespaces=NS):
        node.set("NotOnOrAfter", stamp(issued_at + lifetime))


def set_audience(root, audience: str) -> None:
    for node in root.xpath("//saml:Audience", namespaces=NS):
        node.text = audience


def set_destination(root, destination: str) -> None:
    root.set("Destination", destination)


def set_recipient(root, recipient: str) -> None:
    for node in root.xpath("//saml:SubjectConfirmationData", namespaces=NS):
        node.set("Recipient", recipient)


def duplicate_assertion(root) -> None:
    (assertion,) = root.xpath("saml:Assertion", namespaces=NS)
    twin = etree.fromstring(etree.tostring(assertion))
    twin.set("ID", assertion.get("ID") + "-bis")
    for name in twin.xpath("//saml:NameID", namespaces=NS):
        name.text = "someone-else"
    root.append(twin)


def _sign(element, signer: Signer) -> None:
    """Enveloped RSA-SHA256 signature, exclusive c14n, placed after the Issuer (schema order)."""
    signature = xmlsec.template.create(
        element, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256, ns="ds"
    )
    issuer = element.find("saml:Issuer", NS)
    issuer.addnext(signature)
    ref = xmlsec.template.add_reference(
        signature, xmlsec.constants.TransformSha256, uri="#" + element.get("ID")
    )
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    xmlsec.tree.add_ids(element, ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_file(str(signer.key_file), xmlsec.constants.KeyDataFormatPem)
    ctx.sign(signature)


def signed_form(
    root, signer: Signer, sign_assertions: bool = True, sign_response: bool = True
) -> dict[str, str]:
    if sign_assertions:
        for assertion in root.xpath("saml:Assertion", namespaces=NS):
            _sign(assertion, signer)
    if sign_response:
        _sign(root, signer)
    return {"SAMLResponse": base64.b64encode(etree.tostring(root)).decode()}
