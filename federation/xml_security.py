"""In-process XML-DSig / XML-Enc backend for pysaml2, built on python-xmlsec (libxmlsec1).

pysaml2's default :class:`saml2.sigver.CryptoBackendXmlSec1` forks the ``xmlsec1`` program two or
three times per operation and writes every document to a temporary file.
:class:`InProcessXmlSecBackend` keeps the same contract (``SecurityContext`` calls
``sign_statement``, ``validate_signature``, ``encrypt_assertion``, ``encrypt``, ``decrypt`` and
reads ``version``) but runs in-process, and it is stricter than what pysaml2 asks of a backend:

* verification uses only the certificate pysaml2 passes (taken from the peer's metadata), never a
  key from ``ds:KeyInfo``;
* the signature must be enveloped in the element pysaml2 asked about and its single Reference
  must be ``#<that element's ID>``, an ID carried by no other element (SAML core §5.4.1-5.4.2);
* SignedInfo c14n and transforms are exclusive c14n + enveloped-signature only (SAML core §5.4.3,
  §5.4.4); RSA with SHA-256 or better, no HMAC, no SHA-1 (XML-DSig 1.1 §6.2, §6.4): the lists of
  :mod:`federation.algorithm_support`, which metadata advertises;
* documents with a DOCTYPE are refused (no entity expansion, no network, no huge trees);
* assertions are encrypted with AES-GCM (XML-Enc 1.1 §5.2.4), the key with RSA-OAEP (§5.5.2).

:meth:`InProcessXmlSecBackend.seal_response` is the IdP's one-pass variant: sign the Assertion,
encrypt it, sign the Response, on one tree. Choosing, installing and self-testing a backend:
:mod:`federation.saml_backend`.
"""

from __future__ import annotations

import copy
import hashlib
import os
import secrets
import threading
import uuid
from collections import OrderedDict
from pathlib import Path

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from saml2 import SamlBase
from saml2.sigver import (
    ASSERT_XPATH,
    CryptoBackend,
    DecryptError,
    EncryptError,
    SignatureError,
    get_pem_wrapped_unwrapped,
    pre_encrypt_assertion,
    pre_encryption_part,
)

from federation import algorithm_support

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XENC_NS = "http://www.w3.org/2001/04/xmlenc#"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
_C = xmlsec.constants

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_WITH_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA256 = algorithm_support.RSA_SHA256
DIGEST_SHA256 = algorithm_support.SHA256
AES128_GCM = algorithm_support.AES128_GCM
AES256_GCM = algorithm_support.AES256_GCM
RSA_OAEP_MGF1P = algorithm_support.RSA_OAEP_MGF1P
RSA_OAEP = algorithm_support.RSA_OAEP

_C14N_METHODS = {EXC_C14N: _C.TransformExclC14N, EXC_C14N_WITH_COMMENTS: _C.TransformExclC14NWithComments}
_REFERENCE_TRANSFORMS = {ENVELOPED: _C.TransformEnveloped, **_C14N_METHODS}
# Exactly federation.algorithm_support's lists (what metadata advertises), as libxmlsec transforms.
_TRANSFORMS_BY_HREF = {
    t.href: t
    for t in (
        _C.TransformRsaSha256,
        _C.TransformRsaSha384,
        _C.TransformRsaSha512,
        _C.TransformSha256,
        _C.TransformSha384,
        _C.TransformSha512,
    )
}
SIGNATURE_METHODS = {href: _TRANSFORMS_BY_HREF[href] for href in algorithm_support.SIGNATURE_ALGORITHMS}
DIGEST_METHODS = {href: _TRANSFORMS_BY_HREF[href] for href in algorithm_support.DIGEST_ALGORITHMS}
# URI -> (key bytes, xmlsec key data class). GCM only by default: CBC modes are malleable and
# gave the XML-Enc padding-oracle attack (Jager & Somorovsky, CCS 2011).
_AEAD_KEYS = {AES128_GCM: (16, _C.KeyDataAes), AES256_GCM: (32, _C.KeyDataAes)}
_AEAD = {uri: _AEAD_KEYS[uri] for uri in algorithm_support.DATA_ENCRYPTION_ALGORITHMS}
_LEGACY_CBC = {
    XENC_NS + "aes128-cbc": (16, _C.KeyDataAes),
    XENC_NS + "aes256-cbc": (32, _C.KeyDataAes),
    XENC_NS + "tripledes-cbc": (24, _C.KeyDataDes),
}
# rsa-1_5 is left out on purpose: PKCS#1 v1.5 key transport is a Bleichenbacher oracle.
KEY_TRANSPORTS = frozenset(algorithm_support.KEY_TRANSPORT_ALGORITHMS)
_ENC_TYPES = frozenset({XENC_NS + "Element", XENC_NS + "Content"})
_ID_ATTRIBUTE_NAMES = frozenset({"ID", "Id", "id"})


class XmlSecurityError(Exception):
    """Base of the refusals raised by this module."""


# Raised by every operation, so each is also the pysaml2 error that operation's callers catch
# (SignatureError for signing and verification - mdstore catches only that -, DecryptError...).
class UnsafeDocumentError(XmlSecurityError, SignatureError, DecryptError, EncryptError):
    """Unparsable input, a DOCTYPE, or an element that cannot be located without ambiguity."""


class SignaturePolicyError(XmlSecurityError, SignatureError):
    """The signature is well-formed but breaks the SAML/XML-DSig profile we accept."""


class SignatureVerificationError(XmlSecurityError, SignatureError):
    """The cryptographic check failed (tampered content, other key)."""


class DecryptionPolicyError(XmlSecurityError, DecryptError):
    """Encrypted content that uses an algorithm or layout we refuse, or that does not decrypt."""


class EncryptionPolicyError(XmlSecurityError, EncryptError):
    """Encryption could not be done with the configured algorithms."""


class KeyLoadError(XmlSecurityError, SignatureError, DecryptError, EncryptError):
    """A key or certificate file could not be read or parsed."""


class CryptoSelfTestError(XmlSecurityError):
    """The start-up self test failed: the service must refuse to start."""


def _ds(name: str) -> str:
    return f"{{{DS_NS}}}{name}"


def _xenc(name: str) -> str:
    return f"{{{XENC_NS}}}{name}"


def parse_xml(data: str | bytes | SamlBase) -> etree._Element:
    """Parse without entity expansion, network access or huge-tree mode; refuse any DOCTYPE."""
    if isinstance(data, SamlBase):
        data = str(data)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # A parser per call: lxml parser objects must not be used by two threads at once.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise UnsafeDocumentError(f"unparsable XML: {exc}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeDocumentError("DOCTYPE is not allowed in SAML messages")
    return root


def _serialize(root: etree._Element) -> str:
    # Same shape as xmlsec1's --output so callers cannot tell the backends apart.
    return '<?xml version="1.0"?>\n' + etree.tostring(root.getroottree(), encoding="unicode") + "\n"


def serialize_document(root: etree._Element) -> str:
    """A document as this backend returns it (XML declaration, then the tree)."""
    return _serialize(root)


def _find_signed_element(root: etree._Element, node_name: str, node_id: str | None) -> etree._Element:
    """The element named ``node_name`` (``namespace:local``) whose ``ID`` is ``node_id``.

    A value carried by two ID-like attributes is refused outright: duplicate IDs are what
    signature-wrapping attacks rely on (Somorovsky et al., USENIX Security 2012).
    """
    namespace, _, local = node_name.rpartition(":")
    tag = f"{{{namespace}}}{local}" if namespace else local
    if node_id is None:
        if root.tag != tag:
            raise UnsafeDocumentError(f"document element is not {node_name}")
        node_id = root.get("ID")
        if not node_id:
            raise UnsafeDocumentError(f"{node_name} has no ID attribute")
    holders = [
        el
        for el in root.iter(etree.Element)
        for attr, value in el.attrib.items()
        if value == node_id and etree.QName(attr).localname in _ID_ATTRIBUTE_NAMES
    ]
    if len(holders) != 1:
        raise UnsafeDocumentError(f"ID {node_id!r} found {len(holders)} times, expected once")
    element = holders[0]
    if element.tag != tag or element.get("ID") != node_id:
        raise UnsafeDocumentError(f"ID {node_id!r} is not carried by a {node_name}")
    return element


def _one(
    parent: etree._Element, tag: str, error: type[XmlSecurityError] = SignaturePolicyError
) -> etree._Element:
    found = [child for child in parent if child.tag == tag]
    if len(found) != 1:
        raise error(f"expected exactly one {etree.QName(tag).localname}, found {len(found)}")
    return found[0]


def _checked_signature(element: etree._Element) -> etree._Element:
    """The enveloped ds:Signature of ``element``, checked against SAML core §5.4 and XML-DSig 1.1."""
    signature = _one(element, _ds("Signature"))
    _check_no_other_signature(element, signature)
    if signature.find(_ds("Object")) is not None:
        raise SignaturePolicyError("ds:Object is not allowed in SAML signatures (SAML core §5.4.6)")
    signed_info = _one(signature, _ds("SignedInfo"))
    c14n = _one(signed_info, _ds("CanonicalizationMethod")).get("Algorithm")
    if c14n not in _C14N_METHODS:
        raise SignaturePolicyError(f"SignedInfo canonicalization {c14n!r} is not exclusive c14n")
    method = _one(signed_info, _ds("SignatureMethod")).get("Algorithm")
    if method not in SIGNATURE_METHODS:
        raise SignaturePolicyError(f"signature method {method!r} refused (RSA with SHA-256+ only)")
    reference = _one(signed_info, _ds("Reference"))
    expected_uri = "#" + (element.get("ID") or "")
    if reference.get("URI") != expected_uri:
        raise SignaturePolicyError(f"Reference URI {reference.get('URI')!r} is not {expected_uri!r}")
    transforms = [t.get("Algorithm") for t in _one(reference, _ds("Transforms")) if isinstance(t.tag, str)]
    if (
        ENVELOPED not in transforms
        or len(transforms) > 2
        or any(t not in _REFERENCE_TRANSFORMS for t in transforms)
    ):
        raise SignaturePolicyError(f"transforms {transforms} refused (enveloped-signature + exc-c14n only)")
    digest = _one(reference, _ds("DigestMethod")).get("Algorithm")
    if digest not in DIGEST_METHODS:
        raise SignaturePolicyError(f"digest method {digest!r} refused (SHA-256 or better only)")
    return signature


# The signed elements whose children may carry their own enveloped signature, after the parent's:
# a Response's Assertions (SAML core §5.4.1 signs both), an aggregate's EntityDescriptors (SAML
# metadata §3.1: each element may be signed; members of a federation often are).
_MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
_SIGNED_CHILDREN = {
    f"{{{SAMLP_NS}}}Response": f"{{{SAML_NS}}}Assertion",
    f"{_MD}EntitiesDescriptor": f"{_MD}EntityDescriptor",
}


def _check_no_other_signature(element: etree._Element, own: etree._Element) -> None:
    """Refuse any ds:Signature inside ``element`` but its own, and an own one that is not the
    first in document order: xmlsec1 verifies the first ds:Signature under its start node, so an
    old genuinely signed message hidden in ``samlp:Extensions`` (or an old aggregate inside a new
    one) before a fake outer signature would be what it checks (signature wrapping).

    The exceptions (``_SIGNED_CHILDREN``): the own signature of a direct child Assertion of a
    Response or EntityDescriptor of an aggregate; nothing in an AuthnRequest or LogoutRequest.
    """
    signatures = list(element.iter(_ds("Signature")))
    if signatures[0] is not own:
        raise SignaturePolicyError("another ds:Signature precedes the element's own (signature wrapping)")
    allowed_child = _SIGNED_CHILDREN.get(element.tag)
    for other in signatures[1:]:
        holder = other.getparent()
        if holder is None or holder.tag != allowed_child or holder.getparent() is not element:
            where = etree.QName(holder).localname if holder is not None else "?"
            raise SignaturePolicyError(
                f"a ds:Signature inside {etree.QName(element).localname} (in {where}) is not its own "
                "(signature wrapping)"
            )


def check_enveloped_signature(root: etree._Element, node_name: str) -> None:
    """Refuse a document element ``node_name`` that is not signed by the profile of SAML core §5.4.

    Independent of the backend that then checks the signature value (with the peer's metadata
    keys): exactly one enveloped ``ds:Signature`` whose single Reference is ``#<root ID>``, an ID
    carried by no other element (no signature wrapping), exclusive c14n, SHA-256 or better.
    """
    check_signed_element(root, node_name, None)


def check_signed_element(root: etree._Element, node_name: str, node_id: str | None) -> None:
    """The same profile check for the element ``node_name`` whose ID is ``node_id`` (None: the
    document element), wherever it sits: what both crypto backends run before verifying."""
    _checked_signature(_find_signed_element(root, node_name, node_id))


def _select(root: etree._Element, xpath: str) -> etree._Element:
    # The XPath comes from pysaml2's code (ASSERT_XPATH or the advice path), never from a message.
    nodes = root.getroottree().xpath(xpath)
    if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], etree._Element):
        raise EncryptionPolicyError(f"XPath {xpath} must select exactly one element")
    return nodes[0]


def _signature_context(key: xmlsec.Key) -> xmlsec.SignatureContext:
    ctx = xmlsec.SignatureContext()
    # The setter duplicates the key: the cached one is never touched by two operations.
    ctx.key = key
    # libxmlsec's own allow-lists, in case a check above ever misses a node.
    for transform in (*_REFERENCE_TRANSFORMS.values(), *DIGEST_METHODS.values()):
        ctx.enable_reference_transform(transform)
    for transform in (*_C14N_METHODS.values(), *SIGNATURE_METHODS.values()):
        ctx.enable_signature_transform(transform)
    return ctx


class _KeyCache:
    """Parsed keys, found by file identity (path, inode, mtime, size) or by content digest.

    pysaml2 writes each metadata certificate to a fresh temporary file before every check, so
    the content digest is what makes those hits; the file identity avoids re-reading our own keys.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[object, ...], xmlsec.Key] = OrderedDict()

    def _get(self, cache_key: tuple[object, ...]) -> xmlsec.Key | None:
        with self._lock:
            key = self._entries.get(cache_key)
            if key is not None:
                self._entries.move_to_end(cache_key)
            return key

    def _put(self, cache_key: tuple[object, ...], key: xmlsec.Key) -> None:
        with self._lock:
            self._entries[cache_key] = key
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def load(self, source: str | bytes, key_format: int) -> xmlsec.Key:
        if isinstance(source, bytes) or source.lstrip().startswith("-----BEGIN"):
            return self._from_content(source.encode() if isinstance(source, str) else source, key_format)
        try:
            st = os.stat(source)
            file_key = ("file", source, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size, key_format)
            key = self._get(file_key)
            if key is None:
                key = self._from_content(Path(source).read_bytes(), key_format)
                self._put(file_key, key)
        except OSError as exc:
            raise KeyLoadError(f"cannot read {source}: {exc}") from exc
        return key

    def _from_content(self, data: bytes, key_format: int) -> xmlsec.Key:
        content_key = ("content", hashlib.sha256(data).digest(), key_format)
        key = self._get(content_key)
        if key is None:
            try:
                if key_format in _CERTIFICATE_LOADERS:
                    key = xmlsec.Key.from_memory(_public_key_pem(data, key_format), _C.KeyDataFormatPem, None)
                else:
                    key = xmlsec.Key.from_memory(data, key_format, None)
            except (xmlsec.Error, ValueError) as exc:
                raise KeyLoadError(f"cannot parse key material: {exc}") from exc
            self._put(content_key, key)
        return key


_CERTIFICATE_LOADERS = {
    _C.KeyDataFormatCertPem: x509.load_pem_x509_certificate,
    _C.KeyDataFormatCertDer: x509.load_der_x509_certificate,
}


def _public_key_pem(certificate: bytes, key_format: int) -> bytes:
    """A certificate's public key alone. The key is used as the peer's metadata gives it (no
    chain, no validity check), and libxmlsec copies a key's X509 data each time a context takes
    the key (~35 µs per signature checked or assertion encrypted)."""
    public_key = _CERTIFICATE_LOADERS[key_format](certificate).public_key()
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class InProcessXmlSecBackend(CryptoBackend):
    """Drop-in replacement for ``CryptoBackendXmlSec1`` (assign it to ``SecurityContext.crypto``).

    :param data_encryption: AES-GCM URI used by :meth:`encrypt_assertion` / :meth:`encrypt`.
    :param key_transport: RSA-OAEP URI for the EncryptedKey. ``rsa-oaep-mgf1p`` is the default
        because Debian's xmlsec1 1.2.x (a peer's pysaml2) cannot read the xmlenc11 one.
    :param allow_legacy_decryption: also decrypt AES-CBC / 3DES-CBC data (what pysaml2 IdPs on
        the xmlsec1 backend send); off by default.
    """

    def __init__(
        self,
        data_encryption: str = AES256_GCM,
        key_transport: str = RSA_OAEP_MGF1P,
        allow_legacy_decryption: bool = False,
        cache_size: int = 128,
    ) -> None:
        super().__init__()
        if data_encryption not in _AEAD:
            raise ValueError(f"data encryption must be one of {sorted(_AEAD)}")
        if key_transport not in KEY_TRANSPORTS:
            raise ValueError(f"key transport must be one of {sorted(KEY_TRANSPORTS)}")
        self.data_encryption = data_encryption
        self.key_transport = key_transport
        self.decryption_algorithms = {**_AEAD, **(_LEGACY_CBC if allow_legacy_decryption else {})}
        self._keys = _KeyCache(cache_size)
        self._templates: dict[str, etree._Element] = {}  # EncryptedData templates by recipient
        self._templates_lock = threading.Lock()
        self._templates_size = cache_size

    @property
    def version(self) -> str:
        """libxmlsec1's version (pysaml2 reads this as a property, like xmlsec1's ``--version``)."""
        # python-xmlsec has get_libxmlsec_version() at run time; its bundled stubs lack it.
        return ".".join(str(part) for part in xmlsec.get_libxmlsec_version())  # type: ignore[attr-defined]

    def sign_statement(
        self, statement: str | bytes | SamlBase, node_name: str, key_file: str, node_id: str | None
    ) -> str:
        """Fill in the ds:Signature template of the ``node_name`` element whose ID is ``node_id``.

        The template (from ``pre_signature_part``) must already ask for SHA-256+ algorithms:
        SHA-1 is refused rather than silently upgraded, so a misconfiguration shows at once.
        """
        root = parse_xml(statement)
        signature = _checked_signature(_find_signed_element(root, node_name, node_id))
        ctx = _signature_context(self._keys.load(key_file, _C.KeyDataFormatPem))
        xmlsec.tree.add_ids(root, ["ID"])
        try:
            ctx.sign(signature)
        except xmlsec.Error as exc:
            raise SignatureError(f"signing {node_name} failed: {exc}") from exc
        return _serialize(root)

    def validate_signature(
        self, signedtext: str | bytes, cert_file: str, cert_type: str, node_name: str, node_id: str | None
    ) -> bool:
        """Verify the enveloped signature of one element with the given certificate only.

        Returns ``True`` or raises a :class:`SignatureError` subclass, as the xmlsec1 backend does.
        ``cert_type`` is ``"pem"`` or ``"der"``; the certificate is not chain-checked here
        (pysaml2's ``CertHandler`` does that, metadata certificates are usually self-signed).
        """
        fmt = {"pem": _C.KeyDataFormatCertPem, "der": _C.KeyDataFormatCertDer}.get(cert_type)
        if fmt is None:
            raise KeyLoadError(f"unsupported certificate type {cert_type!r}")
        root = parse_xml(signedtext)
        signature = _checked_signature(_find_signed_element(root, node_name, node_id))
        # The key is set on the context, so libxmlsec never looks at ds:KeyInfo (no KeysManager).
        ctx = _signature_context(self._keys.load(cert_file, fmt))
        xmlsec.tree.add_ids(root, ["ID"])
        try:
            ctx.verify(signature)
        except xmlsec.Error as exc:
            raise SignatureVerificationError(f"signature of {node_name} {node_id} is invalid: {exc}") from exc
        return True

    def encrypt_assertion(
        self,
        statement: str | bytes | SamlBase,
        enc_key: str,
        template: str | SamlBase,
        key_type: str = "",
        node_xpath: str | None = None,
        node_id: str | None = None,
    ) -> str:
        """Replace the node at ``node_xpath`` (default: Response/EncryptedAssertion/Assertion).

        ``enc_key`` is the recipient's certificate file, ``template`` the ``EncryptedData`` of
        ``pre_encryption_part``; its algorithms and pysaml2's ``key_type`` (always ``des-192``)
        are overridden with AES-GCM + RSA-OAEP. The result is what ``SecurityContext.decrypt``
        of either backend reads.
        """
        if isinstance(statement, SamlBase):
            statement = str(pre_encrypt_assertion(statement))
        root = parse_xml(statement)
        return self._encrypt_node(root, _select(root, node_xpath or ASSERT_XPATH), enc_key, template)

    def encrypt(
        self, text: str | bytes, recv_key: str, template: str | SamlBase, key_type: str = "", xpath: str = ""
    ) -> str:
        """Encrypt the document element (or the node at ``xpath``); ``template`` may be a file path."""
        root = parse_xml(text)
        if isinstance(template, str) and not template.lstrip().startswith("<"):
            template = Path(template).read_text(encoding="utf-8")
        return self._encrypt_node(root, _select(root, xpath) if xpath else root, recv_key, template)

    def _encrypt_node(
        self, root: etree._Element, node: etree._Element, cert_file: str, template: str | SamlBase
    ) -> str:
        result = self._encrypt_element(node, cert_file, parse_xml(template))
        return _serialize(root if node is not root else result)

    def _encrypt_element(
        self, node: etree._Element, cert_file: str, encrypted_data: etree._Element
    ) -> etree._Element:
        """Replace ``node`` by the filled-in ``encrypted_data`` template and return the latter."""
        if encrypted_data.tag != _xenc("EncryptedData"):
            raise EncryptionPolicyError("template is not an xenc:EncryptedData")
        _one(encrypted_data, _xenc("EncryptionMethod"), EncryptionPolicyError).set(
            "Algorithm", self.data_encryption
        )
        # libxmlsec fills a KeyInfo from a KeysManager, and creating one costs ~10 ms (it loads
        # the OpenSSL trust store): the session key is wrapped here and KeyInfo put back after.
        key_info = encrypted_data.find(_ds("KeyInfo"))
        encrypted_keys = [] if key_info is None else key_info.findall(_xenc("EncryptedKey"))
        if key_info is None or not encrypted_keys:
            raise EncryptionPolicyError("template has no ds:KeyInfo/xenc:EncryptedKey")
        encrypted_data.remove(key_info)
        size, key_data = _AEAD[self.data_encryption]
        session_key = secrets.token_bytes(size)
        recipient = self._keys.load(cert_file, _C.KeyDataFormatCertPem)
        ctx = xmlsec.EncryptionContext()
        ctx.key = xmlsec.Key.from_binary_data(key_data, session_key)
        try:
            for encrypted_key in encrypted_keys:
                self._wrap_session_key(encrypted_key, session_key, recipient)
            result = ctx.encrypt_xml(encrypted_data, node)
        except xmlsec.Error as exc:
            raise EncryptionPolicyError(f"encryption failed: {exc}") from exc
        result.insert(1, key_info)  # EncryptedType order: EncryptionMethod, KeyInfo, CipherData
        return result

    def _wrap_session_key(
        self, encrypted_key: etree._Element, session_key: bytes, recipient: xmlsec.Key
    ) -> None:
        method = _one(encrypted_key, _xenc("EncryptionMethod"), EncryptionPolicyError)
        method.set("Algorithm", self.key_transport)
        for child in list(method):  # digest/MGF parameters of the template's algorithm, not ours
            method.remove(child)
        key_info = encrypted_key.find(_ds("KeyInfo"))  # recipient hint (X509Data/KeyName), kept as is
        if key_info is not None:
            encrypted_key.remove(key_info)
        # python-xmlsec's encrypt_binary only takes EncryptedData; EncryptedKey has the same
        # EncryptedType content (XML-Enc §3.5.1), so the element is renamed for the call.
        encrypted_key.tag = _xenc("EncryptedData")
        ctx = xmlsec.EncryptionContext()
        ctx.key = recipient
        try:
            ctx.encrypt_binary(encrypted_key, session_key)
        finally:
            encrypted_key.tag = _xenc("EncryptedKey")
        if key_info is not None:
            encrypted_key.insert(1, key_info)

    # --- one-pass Response signing (the IdP's hot path) ---------------------------------------

    def seal_response(
        self,
        response: str,
        key_file: str,
        certificate: str,
        sign_alg: str,
        digest_alg: str,
        recipient: str | None = None,
    ) -> str:
        """Sign the Assertion, encrypt it for ``recipient``, then sign the Response, in one tree.

        pysaml2's own pipeline (``sign_statement`` → ``encrypt_assertion`` → ``sign_statement``)
        serializes and re-parses the whole document between steps; the result here is the same
        document: enveloped signatures after ``saml:Issuer`` with exclusive c14n, our certificate
        (``certificate``, base64 DER) in ``ds:KeyInfo`` as ``pre_signature_part`` writes it, and
        an ``EncryptedAssertion`` holding an AES-GCM ``EncryptedData`` whose key is wrapped with
        RSA-OAEP for ``recipient`` (the SP's encryption certificate, PEM). ``response`` is an
        unsigned ``samlp:Response`` with exactly one ``saml:Assertion``.
        """
        return _serialize(
            self.seal_tree(parse_xml(response), key_file, certificate, sign_alg, digest_alg, recipient)
        )

    def seal_tree(
        self,
        root: etree._Element,
        key_file: str,
        certificate: str,
        sign_alg: str,
        digest_alg: str,
        recipient: str | None = None,
    ) -> etree._Element:
        """:meth:`seal_response` on a tree already built (``federation.response_template``), in place."""
        if root.tag != f"{{{SAMLP_NS}}}Response":
            raise UnsafeDocumentError("document element is not samlp:Response")
        assertion = _one(root, f"{{{SAML_NS}}}Assertion", UnsafeDocumentError)
        key = self._keys.load(key_file, _C.KeyDataFormatPem)
        self._sign_element(root, assertion, key, certificate, sign_alg, digest_alg)
        if recipient is not None:
            # A copy as its own document declares every namespace the Assertion uses: once
            # decrypted it is parsed alone (pysaml2's "self-contained" assertion). Exclusive c14n
            # makes the signature indifferent to the move.
            standalone = copy.deepcopy(assertion)
            encrypted_data = self._encrypt_element(
                standalone, recipient, self._encryption_template(recipient)
            )
            wrapper = etree.Element(f"{{{SAML_NS}}}EncryptedAssertion", nsmap={"saml": SAML_NS})
            wrapper.append(encrypted_data)
            root.replace(assertion, wrapper)
        self._sign_element(root, root, key, certificate, sign_alg, digest_alg)
        return root

    def _sign_element(
        self,
        root: etree._Element,
        element: etree._Element,
        key: xmlsec.Key,
        certificate: str,
        sign_alg: str,
        digest_alg: str,
    ) -> None:
        method, digest = SIGNATURE_METHODS.get(sign_alg), DIGEST_METHODS.get(digest_alg)
        if method is None or digest is None:
            raise SignaturePolicyError(f"refusing to sign with {sign_alg} / {digest_alg} (SHA-256+ only)")
        element_id = element.get("ID")
        if not element_id or len(element) == 0 or element[0].tag != f"{{{SAML_NS}}}Issuer":
            raise UnsafeDocumentError(f"{etree.QName(element).localname} needs an ID and a first saml:Issuer")
        signature = xmlsec.template.create(element, _C.TransformExclC14N, method, ns="ds")
        element[0].addnext(signature)  # SAML core §5.4.1: right after Issuer
        reference = xmlsec.template.add_reference(signature, digest, uri=f"#{element_id}")
        xmlsec.template.add_transform(reference, _C.TransformEnveloped)
        xmlsec.template.add_transform(reference, _C.TransformExclC14N)
        x509_data = xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
        xmlsec.template.x509_data_add_certificate(x509_data).text = certificate
        _checked_signature(element)  # the template we built meets what we demand of peers
        xmlsec.tree.add_ids(root, ["ID"])
        ctx = _signature_context(key)
        try:
            ctx.sign(signature)
        except xmlsec.Error as exc:
            raise SignatureError(f"signing {etree.QName(element).localname} failed: {exc}") from exc

    def _encryption_template(self, recipient: str) -> etree._Element:
        """``pre_encryption_part``'s EncryptedData for this certificate, parsed once, fresh Ids."""
        template = self._templates.get(recipient)
        if template is None:
            _, unwrapped = get_pem_wrapped_unwrapped(recipient)
            template = parse_xml(
                str(
                    pre_encryption_part(
                        msg_enc=self.data_encryption, key_enc=self.key_transport, encrypt_cert=unwrapped
                    )
                )
            )
            with self._templates_lock:
                if len(self._templates) >= self._templates_size:
                    self._templates.clear()
                self._templates[recipient] = template
        fresh = copy.deepcopy(template)
        fresh.set("Id", f"ED_{uuid.uuid4()}")
        for encrypted_key in fresh.iter(_xenc("EncryptedKey")):
            encrypted_key.set("Id", f"EK_{uuid.uuid4()}")
        return fresh

    def decrypt(self, enctext: str | bytes | SamlBase, key_file: str) -> str:
        """Decrypt the first xenc:EncryptedData of the document with the private key ``key_file``.

        Like ``xmlsec1 --decrypt`` one element per call (pysaml2 loops), the rest of the document
        is returned unchanged. The session key is read from an EncryptedKey in the data's
        KeyInfo or, as SAML core §2.2.4 allows, a sibling EncryptedKey; KeyInfo never selects
        the private key.
        """
        root = parse_xml(enctext)
        encrypted_data = next(root.iter(_xenc("EncryptedData")), None)
        if encrypted_data is None:
            raise DecryptionPolicyError("no xenc:EncryptedData in document")
        method = _one(encrypted_data, _xenc("EncryptionMethod"), DecryptionPolicyError)
        algorithm = method.get("Algorithm") or ""
        if algorithm not in self.decryption_algorithms:
            raise DecryptionPolicyError(f"data encryption {algorithm!r} refused")
        if encrypted_data.get("Type") not in _ENC_TYPES:
            raise DecryptionPolicyError("only Element/Content encrypted data can be decrypted")
        private_key = self._keys.load(key_file, _C.KeyDataFormatPem)
        session_key = self._session_key(encrypted_data, private_key)
        size, key_data = self.decryption_algorithms[algorithm]
        if len(session_key) != size:
            raise DecryptionPolicyError("session key size does not match the data algorithm")
        ctx = xmlsec.EncryptionContext()
        ctx.key = xmlsec.Key.from_binary_data(key_data, session_key)
        parent = encrypted_data.getparent()
        try:
            result = ctx.decrypt(encrypted_data)
        except xmlsec.Error as exc:
            raise DecryptionPolicyError(f"decryption failed: {exc}") from exc
        if parent is None and isinstance(result, etree._Element):
            return _serialize(result)
        return _serialize(root)

    def _session_key(self, encrypted_data: etree._Element, private_key: xmlsec.Key) -> bytes:
        key_info = encrypted_data.find(_ds("KeyInfo"))
        candidates = [] if key_info is None else key_info.findall(_xenc("EncryptedKey"))
        parent = encrypted_data.getparent()
        if parent is not None:
            candidates += parent.findall(_xenc("EncryptedKey"))
        if not candidates:
            raise DecryptionPolicyError("no xenc:EncryptedKey for the encrypted data")
        last_error: Exception | None = None
        for encrypted_key in candidates:  # one per recipient: try ours against each
            method = _one(encrypted_key, _xenc("EncryptionMethod"), DecryptionPolicyError).get("Algorithm")
            if method not in KEY_TRANSPORTS:
                last_error = DecryptionPolicyError(f"key transport {method!r} refused (RSA-OAEP only)")
                continue
            ctx = xmlsec.EncryptionContext()
            ctx.key = private_key
            try:
                session_key = ctx.decrypt(encrypted_key)
            except xmlsec.Error as exc:
                last_error = exc
                continue
            if isinstance(session_key, bytes):
                return session_key
        raise DecryptionPolicyError(f"no EncryptedKey could be decrypted: {last_error}")
