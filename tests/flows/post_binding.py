"""AuthnRequests sent by HTTP-POST (SAML bindings §3.5) for the flow tests.

An SP's own request (the one the ENT, or ÉduConnect toward ATEN, sends by HTTP-Redirect and keeps
pending) is taken from its Redirect URL, optionally bent, and signed enveloped (SAML core §5.4)
with python-xmlsec by the SP's key or an attacker's: so a POST-binding request that is accepted
leads to a Response the SP itself accepts.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import xmlsec
from lxml import etree

from federation.keys import KeyPair, generate_key_pair, key_pair

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


@dataclass(frozen=True)
class Signer:
    key_file: Path
    cert_file: Path
    sha1: bool = False  # RSA-SHA1 and SHA-1 digest, which DESIGN §5 refuses

    @classmethod
    def of(cls, certs_dir: Path, service: str) -> Signer:
        pair = key_pair(certs_dir, service, "signing")
        return cls(pair.key_file, pair.cert_file)

    @classmethod
    def stranger(cls, directory: Path) -> Signer:
        """A key pair no metadata knows."""
        pair = KeyPair(key_file=directory / "stranger.key", cert_file=directory / "stranger.crt")
        if not pair.exists():
            generate_key_pair(pair, "stranger signing")
        return cls(pair.key_file, pair.cert_file)


def redirect_request(url: str) -> tuple[etree._Element, str]:
    """The AuthnRequest (unsigned XML, as deflated in the URL) and the RelayState of a Redirect URL."""
    query = parse_qs(urlsplit(url).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    return etree.fromstring(xml), query.get("RelayState", [""])[0]


def sign_enveloped(root: etree._Element, signer: Signer) -> etree._Element:
    """Sign ``root`` (an AuthnRequest with an ID) as SAML core §5.4 asks: an enveloped signature
    right after Issuer, exclusive c14n, RSA-SHA256, Reference ``#ID``."""
    c = xmlsec.constants
    method, digest = (
        (c.TransformRsaSha1, c.TransformSha1) if signer.sha1 else (c.TransformRsaSha256, c.TransformSha256)
    )
    signature = xmlsec.template.create(root, c.TransformExclC14N, method, ns="ds")
    root.find(f"{{{SAML}}}Issuer").addnext(signature)
    reference = xmlsec.template.add_reference(signature, digest, uri=f"#{root.get('ID')}")
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_file(str(signer.key_file), xmlsec.constants.KeyDataFormatPem)
    ctx.key.load_cert_from_file(str(signer.cert_file), xmlsec.constants.KeyDataFormatPem)
    xmlsec.tree.add_ids(root, ["ID"])
    ctx.sign(signature)
    return root


def post_fields(
    url: str,
    signer: Signer | None,
    bend: Callable[[etree._Element], None] | None = None,
    after_signing: Callable[[bytes], bytes] | None = None,
) -> dict[str, str]:
    """The HTTP-POST form fields carrying the request of Redirect ``url``: ``bend`` changes it
    before signing (``signer`` None: unsigned), ``after_signing`` changes the signed bytes."""
    root, relay_state = redirect_request(url)
    if bend is not None:
        bend(root)
    if signer is not None:
        sign_enveloped(root, signer)
    xml = etree.tostring(root)
    if after_signing is not None:
        xml = after_signing(xml)
    fields = {"SAMLRequest": base64.b64encode(xml).decode()}
    if relay_state:
        fields["RelayState"] = relay_state
    return fields
