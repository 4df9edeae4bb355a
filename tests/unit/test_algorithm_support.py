"""The algorithm list of our metadata is what the code accepts (issue 16 item 2).

Every signature and digest algorithm pysaml2's own algorithm-support list knows (what it would
advertise from xmlsec1: MD5, SHA-1, RIPEMD-160, DSA, ECDSA…) is tried for real: a genuine
signature with it, checked by both crypto backends. The set accepted must be exactly the set
``federation.saml_metadata`` writes into ``alg:SigningMethod`` / ``alg:DigestMethod``; the
Redirect binding's side is tested through the IdP in ``tests/flows/test_published_metadata.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
import xmlsec
from lxml import etree
from saml2.algsupport import DIGEST_METHODS, SIGNING_METHODS
from saml2.md import EntityDescriptor, Extensions
from saml2.sigver import XmlsecError

from federation.saml_backend import make_crypto_backend
from federation.saml_metadata import advertise_algorithms
from federation.xml_security import SignaturePolicyError, XmlSecurityError
from tests.unit.test_xml_security import ASSERTION, Pki, craft, ids, pki, signed  # noqa: F401

ALG = "urn:oasis:names:tc:SAML:metadata:algsupport"
DS = "http://www.w3.org/2000/09/xmldsig#"
_C = xmlsec.constants


def _transform(uri: str) -> Any:
    """The python-xmlsec transform for ``uri``, if libxmlsec can sign with an RSA key by it."""
    for name in dir(_C):
        if name.startswith("Transform"):
            transform = getattr(_C, name)
            if getattr(transform, "href", None) == uri:
                return transform
    return None


def advertised() -> dict[str, list[str]]:
    descriptor = EntityDescriptor(entity_id="https://x.test/saml/metadata", extensions=Extensions())
    advertise_algorithms(descriptor)
    root = etree.fromstring(str(descriptor).encode())
    return {
        tag: [e.get("Algorithm") for e in root.iter(f"{{{ALG}}}{tag}")]
        for tag in ("SigningMethod", "DigestMethod")
    }


def accepts(backend_name: str, xml: str, keys: Pki, node_id: str) -> bool:
    try:
        return (
            make_crypto_backend(backend_name).validate_signature(
                xml, keys.idp.cert, "pem", ASSERTION, node_id
            )
            is True
        )
    except (XmlsecError, XmlSecurityError):
        return False


@pytest.mark.parametrize("backend_name", ["inprocess", "xmlsec1"])
def test_signature_methods_accepted_are_exactly_those_advertised(pki, signed, backend_name):  # noqa: F811
    _, assertion_id = ids(signed)
    accepted, not_signable = [], []
    for uri in SIGNING_METHODS.values():
        transform = _transform(uri)
        if transform is None or not uri.split("#")[1].startswith("rsa-"):
            not_signable.append(uri)
            continue
        if accepts(backend_name, craft(signed, assertion_id, pki.idp, method=transform), pki, assertion_id):
            accepted.append(uri)
    assert sorted(accepted) == sorted(advertised()["SigningMethod"])
    # DSA / ECDSA need other keys: whatever their value, the profile refuses them first.
    genuine = craft(signed, assertion_id, pki.idp)
    for uri in not_signable:
        root = etree.fromstring(genuine.encode())
        (method,) = root.xpath(
            "//*[@ID=$i]/ds:Signature/ds:SignedInfo/ds:SignatureMethod", i=assertion_id, namespaces={"ds": DS}
        )
        method.set("Algorithm", uri)
        relabelled = etree.tostring(root, encoding="unicode")
        with pytest.raises(SignaturePolicyError):
            make_crypto_backend(backend_name).validate_signature(
                relabelled, pki.idp.cert, "pem", ASSERTION, assertion_id
            )


@pytest.mark.parametrize("backend_name", ["inprocess", "xmlsec1"])
def test_digest_methods_accepted_are_exactly_those_advertised(pki, signed, backend_name):  # noqa: F811
    _, assertion_id = ids(signed)
    accepted = []
    for uri in DIGEST_METHODS.values():
        transform = _transform(uri)
        if transform is None:
            continue
        if accepts(backend_name, craft(signed, assertion_id, pki.idp, digest=transform), pki, assertion_id):
            accepted.append(uri)
    assert sorted(accepted) == sorted(advertised()["DigestMethod"])
    assert "http://www.w3.org/2000/09/xmldsig#sha1" not in accepted
