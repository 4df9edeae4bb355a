"""Which XML-security backend pysaml2 signs and verifies with, checked at start-up.

``inprocess`` (python-xmlsec, the default) or ``xmlsec1`` (pysaml2's own, one program run per
operation), made by :func:`make_crypto_backend` and put into a pysaml2 entity by
:func:`install_backend`. Either way a process signs, verifies, encrypts and decrypts once
(:func:`self_test`) before it accepts traffic and refuses to start when that fails.
"""

from __future__ import annotations

import functools
import secrets
import tempfile
from pathlib import Path
from typing import Any

from lxml import etree
from saml2.sigver import (
    NODE_NAME,
    CryptoBackend,
    CryptoBackendXmlSec1,
    RSACrypto,
    get_pem_wrapped_unwrapped,
    get_xmlsec_binary,
    import_rsa_key_from_file,
    pre_encryption_part,
)

from federation.errors import ConfigurationError
from federation.settings import Settings
from federation.xml_security import (
    DIGEST_SHA256,
    ENVELOPED,
    EXC_C14N,
    RSA_SHA256,
    CryptoSelfTestError,
    InProcessXmlSecBackend,
    check_signed_element,
    parse_xml,
)


def encrypts_with_aes_gcm(name: str) -> bool:
    """Whether backend ``name`` can encrypt an assertion AES-256-GCM + RSA-OAEP (DESIGN §5).

    Debian's xmlsec1 1.2.37 fails on an AES-GCM encryption template (it decrypts AES-GCM fine).
    """
    return name == "inprocess"


@functools.cache
def tested_backend(name: str) -> CryptoBackend:
    """One backend per name and process, self-tested once (a failure is not cached)."""
    backend = make_crypto_backend(name)
    self_test(backend)
    return backend


def check_crypto_backend(entity: Any, settings: Settings) -> None:
    """Install the configured, self-tested backend on a pysaml2 Server or Saml2Client."""
    try:
        backend = tested_backend(settings.crypto_backend)
    except CryptoSelfTestError as exc:
        name = f"{settings.service}.crypto_backend {settings.crypto_backend}"
        raise ConfigurationError(f"{name}: {exc}") from exc
    install_backend(entity, backend)


class ProfiledXmlSec1Backend(CryptoBackendXmlSec1):
    """pysaml2's xmlsec1 backend, which first refuses what the in-process backend refuses.

    xmlsec1 verifies whatever it knows (RSA-SHA1, MD5…); the profile check of
    :func:`federation.xml_security.check_signed_element` (algorithms of
    ``federation.algorithm_support``, one enveloped signature over the element, no wrapping) runs
    before it, so both backends accept exactly what metadata advertises. The refusal is a
    ``SignatureError``, which pysaml2 treats as « this key did not verify it ».
    """

    def validate_signature(
        self, signedtext: Any, cert_file: str, cert_type: str, node_name: str, node_id: str | None
    ) -> bool:
        root = parse_xml(signedtext)
        check_signed_element(root, node_name, node_id)
        # Without --node-id xmlsec1 verifies the first ds:Signature of the document, whichever
        # element it signs: name the element the profile check was about (the root's ID).
        node_id = node_id or root.get("ID")
        return bool(super().validate_signature(signedtext, cert_file, cert_type, node_name, node_id))


def make_crypto_backend(name: str) -> CryptoBackend:
    """``"xmlsec1"``: :class:`ProfiledXmlSec1Backend`; ``"inprocess"``: :class:`InProcessXmlSecBackend`."""
    if name == "xmlsec1":
        return ProfiledXmlSec1Backend(get_xmlsec_binary())
    if name == "inprocess":
        return InProcessXmlSecBackend()
    raise ValueError(f"unknown crypto backend {name!r} (expected 'xmlsec1' or 'inprocess')")


def install_backend(entity: Any, backend: CryptoBackend) -> None:
    """Make a pysaml2 ``Entity`` (``Server``, ``Saml2Client``) use ``backend`` everywhere.

    ``entity.sec.crypto`` does the XML signatures and encryption of messages; the metadata store
    has its own ``SecurityContext`` (``entity.metadata.security``) for signed remote metadata.
    ``entity.sec.sec_backend`` is an ``RSACrypto`` for HTTP-Redirect query-string signatures; it
    never runs xmlsec1 and is left alone, except that pysaml2 only creates it with its xmlsec1
    backend, so it is built here when missing. ``entity.reload_metadata`` builds a new metadata
    store: call this again afterwards.
    """
    entity.sec.crypto = backend
    metadata_security = getattr(getattr(entity, "metadata", None), "security", None)
    if metadata_security is not None:
        metadata_security.crypto = backend
    if entity.sec.sec_backend is None and entity.sec.key_file:
        entity.sec.sec_backend = RSACrypto(import_rsa_key_from_file(entity.sec.key_file))


_SELF_TEST_ASSERTION = (
    '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
    'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="{id}" Version="2.0" '
    'IssueInstant="2000-01-01T00:00:00Z"><saml:Issuer>urn:self-test</saml:Issuer>'
    '<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{c14n}"/>'
    '<ds:SignatureMethod Algorithm="{sig}"/><ds:Reference URI="#{id}"><ds:Transforms>'
    '<ds:Transform Algorithm="{env}"/><ds:Transform Algorithm="{c14n}"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>'
    "<ds:SignatureValue/></ds:Signature><saml:Subject><saml:NameID>self-test-subject</saml:NameID>"
    "</saml:Subject></saml:Assertion>"
)


def _throwaway_key_pair(directory: Path) -> tuple[str, str]:
    from federation.keys import KeyPair, generate_key_pair

    pair = KeyPair(key_file=directory / "self-test.key", cert_file=directory / "self-test.crt")
    generate_key_pair(pair, "xml-security self test", days=1)
    return str(pair.key_file), str(pair.cert_file)


def self_test(backend: CryptoBackend) -> None:
    """Sign, verify, tamper and encrypt/decrypt a throw-away assertion with ``backend``.

    Called at start-up; any failure raises :class:`CryptoSelfTestError` and the service stops.
    """
    assertion_id = "_" + secrets.token_hex(16)
    statement = _SELF_TEST_ASSERTION.format(
        id=assertion_id, c14n=EXC_C14N, sig=RSA_SHA256, env=ENVELOPED, digest=DIGEST_SHA256
    )
    with tempfile.TemporaryDirectory(prefix="xml-security-") as tmp:
        key_file, cert_file = _throwaway_key_pair(Path(tmp))
        try:
            signed = backend.sign_statement(statement, NODE_NAME, key_file, assertion_id)
            valid = backend.validate_signature(signed, cert_file, "pem", NODE_NAME, assertion_id)
        except Exception as exc:
            raise CryptoSelfTestError(f"sign/verify round trip failed: {exc!r}") from exc
        if valid is not True:
            raise CryptoSelfTestError("a valid signature was not accepted")
        tampered = signed.replace("self-test-subject", "self-test-tampered")
        try:
            accepted = backend.validate_signature(tampered, cert_file, "pem", NODE_NAME, assertion_id)
        except Exception:  # a refusal, whichever way the backend expresses it
            accepted = False
        if accepted:
            raise CryptoSelfTestError("a tampered assertion was accepted")
        response = (
            '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" '
            'IssueInstant="2000-01-01T00:00:00Z"><saml:EncryptedAssertion>'
            + etree.tostring(parse_xml(signed), encoding="unicode")
            + "</saml:EncryptedAssertion></samlp:Response>"
        )
        _, unwrapped = get_pem_wrapped_unwrapped(Path(cert_file).read_text(encoding="ascii"))
        try:
            encrypted = backend.encrypt_assertion(
                response, cert_file, pre_encryption_part(encrypt_cert=unwrapped), "des-192", None
            )
            decrypted = backend.decrypt(encrypted, key_file)
        except Exception as exc:
            raise CryptoSelfTestError(f"encrypt/decrypt round trip failed: {exc!r}") from exc
        if "self-test-subject" in encrypted or "self-test-subject" not in decrypted:
            raise CryptoSelfTestError("encryption round trip did not hide and restore the assertion")
