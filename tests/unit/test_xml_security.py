"""federation.xml_security: the in-process pysaml2 crypto backend, against pysaml2's xmlsec1 one.

Keys, certificates and metadata are generated once per session in a temporary directory; every
message goes through real pysaml2 ``Server`` (IdP) and ``Saml2Client`` (SP) objects whose
``sec.crypto`` is swapped with :func:`federation.saml_backend.install_backend`.
"""

from __future__ import annotations

import base64
import copy
import datetime
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import IdPConfig, SPConfig
from saml2.mdstore import MetaDataFile
from saml2.metadata import entity_descriptor, sign_entity_descriptor
from saml2.response import InvalidAssertion
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_TRANSIENT
from saml2.server import Server
from saml2.sigver import (
    CryptoBackend,
    CryptoBackendXmlSec1,
    DecryptError,
    SignatureError,
    XmlsecError,
    get_xmlsec_binary,
)
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

from federation.saml_backend import install_backend, make_crypto_backend, self_test
from federation.xml_security import (
    AES256_GCM,
    ENVELOPED,
    EXC_C14N,
    RSA_OAEP,
    RSA_OAEP_MGF1P,
    RSA_SHA256,
    CryptoSelfTestError,
    DecryptionPolicyError,
    InProcessXmlSecBackend,
    KeyLoadError,
    SignaturePolicyError,
    SignatureVerificationError,
    UnsafeDocumentError,
    XmlSecurityError,
    _KeyCache,
)

IDP_ID = "https://idp.example.org/idp"
SP_ID = "https://sp.example.org/sp"
ACS = "https://sp.example.org/acs"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
ASSERTION = f"{SAML}:Assertion"
RESPONSE = f"{SAMLP}:Response"
IDENTITY = {"mail": ["ann@example.org"], "givenName": ["Ann"]}
AUTHN = {
    "class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
    "authn_auth": "https://idp.example.org",
}
BACKENDS = ("xmlsec1", "inprocess")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


@dataclass(frozen=True)
class KeyPair:
    key: str
    cert: str


@dataclass(frozen=True)
class Pki:
    idp: KeyPair
    sp: KeyPair
    evil: KeyPair
    idp_metadata: str
    sp_metadata: str


def _key_pair(directory: Path, name: str) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pair = KeyPair(str(directory / f"{name}.key"), str(directory / f"{name}.crt"))
    Path(pair.key).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    Path(pair.cert).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def _idp_config(pair: KeyPair, metadata: str | None, **idp_options: Any) -> IdPConfig:
    idp_block: dict[str, Any] = {
        "endpoints": {"single_sign_on_service": [(f"{IDP_ID}/sso", BINDING_HTTP_REDIRECT)]},
        "name_id_format": [NAMEID_FORMAT_TRANSIENT],
        # pysaml2 7.5 reads these from the service block only; elsewhere it signs with SHA-1.
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "policy": {"default": {"lifetime": {"minutes": 15}, "name_form": NAME_FORMAT_URI}},
        **idp_options,
    }
    conf: dict[str, Any] = {
        "entityid": IDP_ID,
        "service": {"idp": idp_block},
        "key_file": pair.key,
        "cert_file": pair.cert,
    }
    if metadata:
        conf["metadata"] = {"local": [metadata]}
    config = IdPConfig()
    config.load(conf)
    return config


def _sp_config(pair: KeyPair, metadata: str | None, **sp_options: Any) -> SPConfig:
    sp_block: dict[str, Any] = {
        "endpoints": {"assertion_consumer_service": [(ACS, BINDING_HTTP_POST)]},
        "want_response_signed": True,
        "want_assertions_signed": True,
        "allow_unsolicited": False,
        "authn_requests_signed": False,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        **sp_options,
    }
    conf: dict[str, Any] = {
        "entityid": SP_ID,
        "service": {"sp": sp_block},
        "key_file": pair.key,
        "cert_file": pair.cert,
        "encryption_keypairs": [{"key_file": pair.key, "cert_file": pair.cert}],
    }
    if metadata:
        conf["metadata"] = {"local": [metadata]}
    config = SPConfig()
    config.load(conf)
    return config


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("xml-security")
    idp, sp, evil = (_key_pair(directory, name) for name in ("idp", "sp", "evil"))
    idp_md, sp_md = directory / "idp-metadata.xml", directory / "sp-metadata.xml"
    idp_md.write_text(str(entity_descriptor(_idp_config(idp, None))), encoding="utf-8")
    sp_md.write_text(str(entity_descriptor(_sp_config(sp, None))), encoding="utf-8")
    return Pki(idp, sp, evil, str(idp_md), str(sp_md))


def _backend(name: str | CryptoBackend) -> CryptoBackend:
    return make_crypto_backend(name) if isinstance(name, str) else name


def make_idp(pki: Pki, backend: str | CryptoBackend, pair: KeyPair | None = None, **options: Any) -> Server:
    server = Server(config=_idp_config(pair or pki.idp, pki.sp_metadata, **options))
    install_backend(server, _backend(backend))
    return server


def make_sp(pki: Pki, backend: str | CryptoBackend, **options: Any) -> Saml2Client:
    client = Saml2Client(config=_sp_config(pki.sp, pki.idp_metadata, **options))
    install_backend(client, _backend(backend))
    return client


def issue(
    idp: Server,
    sp: Saml2Client,
    *,
    encrypt: bool = False,
    sign_response: bool = True,
    sign_assertion: bool = True,
) -> tuple[str, str]:
    """A real AuthnRequest id from the SP and the IdP's answer to it (XML text)."""
    request_id, _ = sp.prepare_for_authenticate(entityid=IDP_ID)
    response = idp.create_authn_response(
        IDENTITY,
        request_id,
        ACS,
        SP_ID,
        userid="ann",
        authn=AUTHN,
        sign_response=sign_response,
        sign_assertion=sign_assertion,
        encrypt_assertion=encrypt,
    )
    return request_id, str(response)


def consume(sp: Saml2Client, request_id: str, xml: str) -> Any:
    encoded = base64.b64encode(xml.encode("utf-8")).decode("ascii")
    return sp.parse_authn_request_response(encoded, BINDING_HTTP_POST, outstanding={request_id: "/"})


def refused(backend: CryptoBackend, xml: str, cert: str, node_name: str, node_id: str | None) -> bool:
    """Both backends refuse by raising (xmlsec1: SignatureError on a non-zero exit) or False."""
    try:
        return backend.validate_signature(xml, cert, "pem", node_name, node_id) is not True
    except (XmlsecError, XmlSecurityError):
        return True


def ids(xml: str) -> tuple[str, str]:
    root = etree.fromstring(xml.encode())
    return root.get("ID"), root.find(f"{{{SAML}}}Assertion").get("ID")


@pytest.fixture(scope="session")
def signed(pki: Pki) -> str:
    """A Response whose Response and Assertion are signed by the in-process backend."""
    return issue(make_idp(pki, "inprocess"), make_sp(pki, "inprocess"))[1]


def craft(
    xml: str,
    node_id: str,
    pair: KeyPair,
    *,
    method: Any = None,
    digest: Any = None,
    c14n: Any = None,
    transforms: tuple[Any, ...] | None = None,
    uri: str | None = None,
    key_info: bool = False,
) -> str:
    """Re-sign the element ``node_id`` with python-xmlsec and arbitrary (possibly banned) choices."""
    c = xmlsec.constants
    root = etree.fromstring(xml.encode())
    target = root.xpath("//*[@ID=$i]", i=node_id)[0]
    for old in target.findall(f"{{{DS}}}Signature"):
        target.remove(old)
    signature = xmlsec.template.create(
        target, c14n or c.TransformExclC14N, method or c.TransformRsaSha256, ns="ds"
    )
    target.insert(1, signature)
    reference = xmlsec.template.add_reference(
        signature, digest or c.TransformSha256, uri=f"#{node_id}" if uri is None else uri
    )
    for transform in transforms or (c.TransformEnveloped, c.TransformExclC14N):
        node = xmlsec.template.add_transform(reference, transform)
        if transform is c.TransformXPath:
            xpath = etree.SubElement(node, f"{{{DS}}}XPath", nsmap={"ds": DS})
            xpath.text = "not(ancestor-or-self::ds:Signature)"
    key = xmlsec.Key.from_file(pair.key, c.KeyDataFormatPem)
    if key_info:
        key.load_cert_from_file(pair.cert, c.KeyDataFormatPem)
        xmlsec.template.x509_data_add_certificate(
            xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
        )
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    xmlsec.tree.add_ids(root, ["ID"])
    ctx.sign(signature)
    return etree.tostring(root, encoding="unicode")


def algorithms(xml: str, tag: str) -> list[str]:
    return [el.get("Algorithm") for el in etree.fromstring(xml.encode()).iter(tag)]


# 1. Round trips through pysaml2, in-process and across backends.


@pytest.mark.parametrize(
    ("idp_backend", "sp_backend"),
    [
        ("inprocess", "inprocess"),
        ("xmlsec1", "inprocess"),
        ("inprocess", "xmlsec1"),
        ("xmlsec1", "xmlsec1"),
    ],
)
def test_signed_response_round_trip(pki: Pki, idp_backend: str, sp_backend: str) -> None:
    idp, sp = make_idp(pki, idp_backend), make_sp(pki, sp_backend)
    request_id, xml = issue(idp, sp)
    response = consume(sp, request_id, xml)
    assert response.ava == IDENTITY
    assert response.assertion.signature is not None


# 5. No SHA-1 anywhere in what the in-process backend signs.


def test_in_process_signatures_use_sha256_and_no_sha1(signed: str) -> None:
    assert algorithms(signed, f"{{{DS}}}SignatureMethod") == [SIG_RSA_SHA256] * 2
    assert algorithms(signed, f"{{{DS}}}DigestMethod") == [DIGEST_SHA256] * 2
    # base64 payloads could contain "sha1" by chance: look at everything else.
    skeleton = re.sub(r"<(ds:|ns\d:)?(X509Certificate|SignatureValue|DigestValue)>[^<]*<", "<", signed)
    assert "sha1" not in skeleton.lower()


def test_in_process_refuses_to_sign_with_sha1(pki: Pki) -> None:
    idp = make_idp(pki, "inprocess", signing_algorithm=SIG_RSA_SHA1, digest_algorithm=DIGEST_SHA1)
    with pytest.raises(SignaturePolicyError, match="refused"):
        issue(idp, make_sp(pki, "inprocess"))


# 2. Negative checks that both backends enforce.


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_tampered_attribute_value_is_refused(pki: Pki, signed: str, backend_name: str) -> None:
    _, assertion_id = ids(signed)
    tampered = signed.replace("ann@example.org", "admin@example.org")
    assert tampered != signed
    assert refused(make_crypto_backend(backend_name), tampered, pki.idp.cert, ASSERTION, assertion_id)
    assert not refused(make_crypto_backend(backend_name), signed, pki.idp.cert, ASSERTION, assertion_id)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_tampered_response_is_refused_by_the_sp(pki: Pki, backend_name: str) -> None:
    sp = make_sp(pki, backend_name)
    request_id, xml = issue(make_idp(pki, "inprocess"), sp)
    with pytest.raises(SignatureError):
        consume(sp, request_id, xml.replace("ann@example.org", "admin@example.org"))


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_signature_by_key_not_in_metadata_is_refused(pki: Pki, backend_name: str) -> None:
    # The attacker's IdP uses the real entity ID and embeds its own cert in KeyInfo (pysaml2 does).
    sp = make_sp(pki, backend_name)
    request_id, xml = issue(make_idp(pki, "inprocess", pair=pki.evil), sp)
    with pytest.raises(SignatureError):
        consume(sp, request_id, xml)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_key_info_certificate_is_never_trusted(pki: Pki, signed: str, backend_name: str) -> None:
    _, assertion_id = ids(signed)
    forged = craft(signed, assertion_id, pki.evil, key_info=True)
    assert "X509Certificate" in forged
    assert refused(make_crypto_backend(backend_name), forged, pki.idp.cert, ASSERTION, assertion_id)
    # Same document, checked with the attacker's cert, is cryptographically fine: the refusal
    # above comes from using the metadata cert only.
    assert not refused(make_crypto_backend(backend_name), forged, pki.evil.cert, ASSERTION, assertion_id)


def _wrapped(signed: str, variant: str) -> tuple[str, str]:
    """Signature wrapping (Somorovsky et al. 2012): the signed assertion kept, an evil one read."""
    root = etree.fromstring(signed.encode())
    original = root.find(f"{{{SAML}}}Assertion")
    evil = copy.deepcopy(original)
    for value in evil.iter(f"{{{SAML}}}AttributeValue"):
        if value.text == "ann@example.org":
            value.text = "admin@example.org"
    position = list(root).index(original)
    if variant == "evil-before-original":
        root.insert(position, evil)
        return etree.tostring(root, encoding="unicode"), original.get("ID")
    extensions = etree.Element(f"{{{SAMLP}}}Extensions")
    root.remove(original)
    extensions.append(original)
    root.insert(1, extensions)
    if variant == "original-in-extensions":
        root.insert(position + 1, evil)
        return etree.tostring(root, encoding="unicode"), original.get("ID")
    # "evil-new-id": evil has its own ID and carries the original's Signature (Reference #orig),
    # the original is left unsigned in Extensions: exactly what that signature covers.
    evil.set("ID", "_evil")
    evil.replace(evil.find(f"{{{DS}}}Signature"), original.find(f"{{{DS}}}Signature"))
    root.insert(position + 1, evil)
    return etree.tostring(root, encoding="unicode"), "_evil"


def _verifier(name: str) -> CryptoBackend:
    """``xmlsec1-program``: pysaml2's xmlsec1 backend as it comes, without our profile check."""
    if name == "xmlsec1-program":
        return CryptoBackendXmlSec1(get_xmlsec_binary())
    return make_crypto_backend(name)


@pytest.mark.parametrize(
    ("backend_name", "variant", "backend_refuses"),
    [
        ("inprocess", "evil-before-original", True),
        ("xmlsec1", "evil-before-original", True),
        ("inprocess", "original-in-extensions", True),
        ("xmlsec1", "original-in-extensions", True),
        ("inprocess", "evil-new-id", True),
        # The xmlsec1 program starts at --node-id, finds the copied Signature and follows its
        # Reference to the hidden original: it says OK. Our xmlsec1 backend runs the profile check
        # ("Reference URI == #<ID>") before the program, as the in-process backend does.
        ("xmlsec1-program", "evil-new-id", False),
        ("xmlsec1", "evil-new-id", True),
    ],
)
def test_signature_wrapping_is_refused(
    pki: Pki, signed: str, backend_name: str, variant: str, backend_refuses: bool
) -> None:
    xml, node_id = _wrapped(signed, variant)
    backend = _verifier(backend_name)
    assert refused(backend, xml, pki.idp.cert, ASSERTION, node_id) is backend_refuses


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("variant", ["evil-before-original", "original-in-extensions", "evil-new-id"])
def test_signature_wrapping_is_refused_by_the_sp(pki: Pki, backend_name: str, variant: str) -> None:
    sp = make_sp(pki, backend_name, want_response_signed=False)
    request_id, xml = issue(make_idp(pki, "inprocess"), sp, sign_response=False)
    wrapped, _ = _wrapped(xml, variant)
    # pysaml2 refuses two assertions itself (InvalidAssertion); the rest reaches the backend.
    with pytest.raises((SignatureError, InvalidAssertion)):
        consume(sp, request_id, wrapped)


# DOCTYPE: refused by the in-process backend before any crypto. The xmlsec1 program accepts a
# valid signature with a DOCTYPE in front; it refuses signed text rewritten as an internal entity
# only by accident (libxml2's c14n fails on the entity reference node). pysaml2's defusedxml
# parse stops entity declarations before a backend is reached, not a bare DOCTYPE.


def _with_doctype(signed: str, variant: str) -> str:
    body = signed.split("?>", 1)[1] if signed.startswith("<?xml") else signed
    if variant == "harmless":
        return '<?xml version="1.0"?>\n<!DOCTYPE Response>' + body
    return '<?xml version="1.0"?>\n<!DOCTYPE Response [<!ENTITY who "ann@example.org">]>' + body.replace(
        ">ann@example.org<", ">&who;<"
    )


@pytest.mark.parametrize(
    ("backend_name", "variant", "backend_refuses"),
    [
        ("inprocess", "harmless", True),
        ("xmlsec1-program", "harmless", False),
        ("xmlsec1", "harmless", True),
        ("inprocess", "entity", True),
        ("xmlsec1", "entity", True),
    ],
)
def test_doctype_is_refused(
    pki: Pki, signed: str, backend_name: str, variant: str, backend_refuses: bool
) -> None:
    _, assertion_id = ids(signed)
    xml = _with_doctype(signed, variant)
    backend = _verifier(backend_name)
    assert refused(backend, xml, pki.idp.cert, ASSERTION, assertion_id) is backend_refuses


def test_doctype_raises_typed_error_everywhere(pki: Pki, signed: str) -> None:
    backend = InProcessXmlSecBackend()
    _, assertion_id = ids(signed)
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><r>&c;</r>'
    )
    with pytest.raises(UnsafeDocumentError, match="DOCTYPE"):
        backend.validate_signature(
            _with_doctype(signed, "entity"), pki.idp.cert, "pem", ASSERTION, assertion_id
        )
    with pytest.raises(UnsafeDocumentError, match="DOCTYPE"):
        backend.sign_statement(_with_doctype(signed, "harmless"), ASSERTION, pki.idp.key, assertion_id)
    with pytest.raises(UnsafeDocumentError, match="DOCTYPE"):
        backend.decrypt(bomb, pki.sp.key)


# Checks only the in-process backend makes (pysaml2's SecurityContext makes some of them on
# the SP side before calling either backend, but not for metadata or direct backend use).


def test_hmac_signature_method_is_refused(pki: Pki, signed: str) -> None:
    _, assertion_id = ids(signed)
    xml = signed.replace(
        f'Algorithm="{SIG_RSA_SHA256}"', 'Algorithm="http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"'
    )
    with pytest.raises(SignaturePolicyError, match="hmac-sha256"):
        InProcessXmlSecBackend().validate_signature(xml, pki.idp.cert, "pem", ASSERTION, assertion_id)
    # xmlsec1 refuses too, but only because it has no HMAC key: the signature does not verify.
    assert refused(make_crypto_backend("xmlsec1"), xml, pki.idp.cert, ASSERTION, assertion_id)


_C = xmlsec.constants
_BANNED: dict[str, dict[str, Any]] = {
    "rsa-sha1": {"method": _C.TransformRsaSha1},
    "sha1-digest": {"digest": _C.TransformSha1},
    "inclusive-c14n": {"c14n": _C.TransformInclC14N},
    "inclusive-c14n-transform": {"transforms": (_C.TransformEnveloped, _C.TransformInclC14N)},
    "xpath-transform": {"transforms": (_C.TransformEnveloped, _C.TransformXPath, _C.TransformExclC14N)},
    "whole-document-reference": {"uri": ""},
}


@pytest.mark.parametrize("case", sorted(_BANNED))
def test_banned_signature_choices_are_refused_in_process(pki: Pki, signed: str, case: str) -> None:
    _, assertion_id = ids(signed)
    xml = craft(signed, assertion_id, pki.idp, **_BANNED[case])
    with pytest.raises(SignaturePolicyError):
        InProcessXmlSecBackend().validate_signature(xml, pki.idp.cert, "pem", ASSERTION, assertion_id)
    # The same, cryptographically valid, signatures pass the xmlsec1 program (Debian 1.2.37); our
    # xmlsec1 backend runs the same profile check first, so both backends accept one list.
    assert not refused(_verifier("xmlsec1-program"), xml, pki.idp.cert, ASSERTION, assertion_id)
    assert refused(make_crypto_backend("xmlsec1"), xml, pki.idp.cert, ASSERTION, assertion_id)


def test_object_element_is_refused(pki: Pki, signed: str) -> None:
    _, assertion_id = ids(signed)
    root = etree.fromstring(signed.encode())
    signature = root.find(f"{{{SAML}}}Assertion/{{{DS}}}Signature")
    etree.SubElement(signature, f"{{{DS}}}Object").text = "smuggled"
    with pytest.raises(SignaturePolicyError, match="Object"):
        InProcessXmlSecBackend().validate_signature(
            etree.tostring(root, encoding="unicode"), pki.idp.cert, "pem", ASSERTION, assertion_id
        )


def test_sha1_idp_is_refused_by_in_process_sp(pki: Pki) -> None:
    # pysaml2's defaults (no algorithms configured) sign with RSA-SHA1 through xmlsec1.
    idp = make_idp(pki, "xmlsec1", signing_algorithm=None, digest_algorithm=None)
    assert idp.signing_algorithm == SIG_RSA_SHA1
    sp = make_sp(pki, "inprocess")
    request_id, xml = issue(idp, sp)
    with pytest.raises(SignatureError):
        consume(sp, request_id, xml)


def test_verification_failure_is_typed(pki: Pki, signed: str) -> None:
    _, assertion_id = ids(signed)
    with pytest.raises(SignatureVerificationError):
        InProcessXmlSecBackend().validate_signature(signed, pki.evil.cert, "pem", ASSERTION, assertion_id)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_signed_metadata_is_checked(pki: Pki, tmp_path: Path, backend_name: str) -> None:
    # mdstore verifies without node_id, tries EntitiesDescriptor first and catches SignatureError only.
    idp = make_idp(pki, backend_name)
    _, xml = sign_entity_descriptor(
        entity_descriptor(idp.config), "_md-1", idp.sec, SIG_RSA_SHA256, DIGEST_SHA256
    )
    path = tmp_path / "signed-metadata.xml"
    path.write_text(xml, encoding="utf-8")
    store = MetaDataFile(idp.config.attribute_converters, str(path), cert=pki.idp.cert, security=idp.sec)
    assert store.load() is True
    assert IDP_ID in store.entity
    path.write_text(xml.replace(f"{IDP_ID}/sso", "https://evil.example.org/sso"), encoding="utf-8")
    store = MetaDataFile(idp.config.attribute_converters, str(path), cert=pki.idp.cert, security=idp.sec)
    with pytest.raises(SignatureError):
        store.load()


# 3. Encrypted assertions.


def _encryption_methods(xml: str) -> tuple[list[str], list[str]]:
    root = etree.fromstring(xml.encode())

    def of(parent: str) -> list[str]:
        path = f".//{{{XENC}}}{parent}/{{{XENC}}}EncryptionMethod"
        return [el.get("Algorithm") for el in root.iterfind(path)]

    return of("EncryptedData"), of("EncryptedKey")


@pytest.mark.parametrize("sp_backend", BACKENDS)
def test_encrypted_assertion_round_trip(pki: Pki, sp_backend: str) -> None:
    idp, sp = make_idp(pki, "inprocess"), make_sp(pki, sp_backend)
    request_id, xml = issue(idp, sp, encrypt=True)
    assert _encryption_methods(xml) == ([AES256_GCM], [RSA_OAEP_MGF1P])
    assert "ann@example.org" not in xml
    assert "tripledes" not in xml and "rsa-1_5" not in xml
    response = consume(sp, request_id, xml)
    assert response.ava == IDENTITY


def test_encrypted_assertion_with_xmlenc11_rsa_oaep(pki: Pki) -> None:
    backend = InProcessXmlSecBackend(key_transport=RSA_OAEP)
    idp, sp = make_idp(pki, backend), make_sp(pki, backend)
    request_id, xml = issue(idp, sp, encrypt=True)
    assert _encryption_methods(xml) == ([AES256_GCM], [RSA_OAEP])
    assert consume(sp, request_id, xml).ava == IDENTITY


def test_legacy_cbc_from_xmlsec1_idp_needs_opt_in(pki: Pki) -> None:
    idp = make_idp(pki, "xmlsec1")
    strict = make_sp(pki, "inprocess")
    request_id, xml = issue(idp, strict, encrypt=True)
    assert _encryption_methods(xml)[0] == [f"{XENC}tripledes-cbc"]
    with pytest.raises(DecryptionPolicyError, match="tripledes-cbc"):
        InProcessXmlSecBackend().decrypt(xml, pki.sp.key)
    # pysaml2 swallows the DecryptError and hands back a Response without any assertion.
    response = consume(strict, request_id, xml)
    assert response.assertion is None and response.ava == {}
    lenient = make_sp(pki, InProcessXmlSecBackend(allow_legacy_decryption=True))
    request_id, xml = issue(idp, lenient, encrypt=True)
    assert consume(lenient, request_id, xml).ava == IDENTITY


@pytest.fixture(scope="session")
def encrypted(pki: Pki) -> str:
    return issue(make_idp(pki, "inprocess"), make_sp(pki, "inprocess"), encrypt=True)[1]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (RSA_OAEP_MGF1P, f"{XENC}rsa-1_5"),
        (AES256_GCM, f"{XENC}aes256-cbc"),
    ],
)
def test_decrypt_refuses_weak_algorithms(pki: Pki, encrypted: str, old: str, new: str) -> None:
    with pytest.raises(DecryptionPolicyError, match="refused"):
        InProcessXmlSecBackend().decrypt(encrypted.replace(old, new), pki.sp.key)


def test_decrypt_with_wrong_key_is_decrypt_error(pki: Pki, encrypted: str) -> None:
    backend = InProcessXmlSecBackend()
    assert "ann@example.org" in backend.decrypt(encrypted, pki.sp.key)
    with pytest.raises(DecryptError):
        backend.decrypt(encrypted, pki.evil.key)


def test_tampered_ciphertext_is_refused(pki: Pki, encrypted: str) -> None:
    root = etree.fromstring(encrypted.encode())
    value = root.find(f".//{{{XENC}}}EncryptedData/{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
    raw = bytearray(base64.b64decode(value.text))
    raw[20] ^= 0x01  # inside the GCM ciphertext: the tag must catch it
    value.text = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(DecryptError):
        InProcessXmlSecBackend().decrypt(etree.tostring(root, encoding="unicode"), pki.sp.key)


# 3b. The IdP's one-pass signing: pysaml2 builds the Response unsigned, seal_response signs the
# Assertion, encrypts it and signs the Response; pysaml2 SPs on either backend must accept it.


def seal(
    pki: Pki,
    sp: Saml2Client,
    *,
    encrypt: bool,
    sign_alg: str = SIG_RSA_SHA256,
    digest_alg: str = DIGEST_SHA256,
) -> tuple[str, str]:
    idp = make_idp(pki, "inprocess")
    request_id, unsigned = issue(idp, sp, sign_response=False, sign_assertion=False)
    recipient = Path(pki.sp.cert).read_text(encoding="ascii") if encrypt else None
    sealed = InProcessXmlSecBackend().seal_response(
        unsigned, pki.idp.key, idp.sec.my_cert, sign_alg, digest_alg, recipient
    )
    return request_id, sealed


@pytest.mark.parametrize("encrypt", [False, True], ids=["signed", "encrypted"])
@pytest.mark.parametrize("sp_backend", BACKENDS)
def test_sealed_response_is_accepted_by_pysaml2_on_both_backends(
    pki: Pki, sp_backend: str, encrypt: bool
) -> None:
    sp = make_sp(pki, sp_backend)
    request_id, xml = seal(pki, sp, encrypt=encrypt)
    assert ("ann@example.org" in xml) is not encrypt
    if encrypt:
        assert _encryption_methods(xml) == ([AES256_GCM], [RSA_OAEP_MGF1P])
    response = consume(sp, request_id, xml)
    assert response.ava == IDENTITY
    assert response.assertion.signature is not None and response.response.signature is not None


def test_sealed_response_signatures_follow_the_profile(pki: Pki) -> None:
    _, xml = seal(pki, make_sp(pki, "inprocess"), encrypt=False)
    root = etree.fromstring(xml.encode())
    certificate = make_idp(pki, "inprocess").sec.my_cert
    for element in (root, root.find(f"{{{SAML}}}Assertion")):
        assert [etree.QName(child).localname for child in element[:2]] == ["Issuer", "Signature"]
        signature = element[1]
        assert signature.find(f".//{{{DS}}}Reference").get("URI") == "#" + element.get("ID")
        assert signature.findtext(f".//{{{DS}}}X509Certificate") == certificate
    assert set(algorithms(xml, f"{{{DS}}}SignatureMethod")) == {SIG_RSA_SHA256}
    assert set(algorithms(xml, f"{{{DS}}}DigestMethod")) == {DIGEST_SHA256}
    assert set(algorithms(xml, f"{{{DS}}}CanonicalizationMethod")) == {
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    }


@pytest.mark.parametrize("sp_backend", BACKENDS)
def test_tampered_sealed_response_is_refused(pki: Pki, sp_backend: str) -> None:
    sp = make_sp(pki, sp_backend)
    request_id, xml = seal(pki, sp, encrypt=False)
    with pytest.raises((SignatureError, InvalidAssertion, XmlsecError)):
        consume(sp, request_id, xml.replace("ann@example.org", "eve@example.org"))


def test_sealed_response_by_another_key_is_refused(pki: Pki) -> None:
    sp = make_sp(pki, "inprocess")
    request_id, unsigned = issue(make_idp(pki, "inprocess"), sp, sign_response=False, sign_assertion=False)
    evil = InProcessXmlSecBackend().seal_response(unsigned, pki.evil.key, "", SIG_RSA_SHA256, DIGEST_SHA256)
    with pytest.raises(SignatureError):
        consume(sp, request_id, evil)


@pytest.mark.parametrize(
    ("sign_alg", "digest_alg"), [(SIG_RSA_SHA1, DIGEST_SHA256), (SIG_RSA_SHA256, DIGEST_SHA1)]
)
def test_sealing_refuses_sha1(pki: Pki, sign_alg: str, digest_alg: str) -> None:
    with pytest.raises(SignaturePolicyError):
        seal(pki, make_sp(pki, "inprocess"), encrypt=False, sign_alg=sign_alg, digest_alg=digest_alg)


@pytest.mark.parametrize("shape", ["not-a-response", "two-assertions", "doctype"])
def test_sealing_refuses_what_is_not_one_response_with_one_assertion(
    pki: Pki, signed: str, shape: str
) -> None:
    root = etree.fromstring(signed.encode())
    if shape == "not-a-response":
        xml = etree.tostring(root.find(f"{{{SAML}}}Assertion"), encoding="unicode")
    elif shape == "two-assertions":
        root.append(copy.deepcopy(root.find(f"{{{SAML}}}Assertion")))
        xml = etree.tostring(root, encoding="unicode")
    else:
        xml = '<!DOCTYPE r [<!ENTITY e "x">]>' + etree.tostring(root, encoding="unicode")
    with pytest.raises(UnsafeDocumentError):
        InProcessXmlSecBackend().seal_response(xml, pki.idp.key, "", SIG_RSA_SHA256, DIGEST_SHA256)


# 4. Start-up self test, factory, wiring, caching, threads.


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_self_test_passes(backend_name: str) -> None:
    self_test(make_crypto_backend(backend_name))


class _NeverValid(InProcessXmlSecBackend):
    def validate_signature(self, *args: Any, **kwargs: Any) -> bool:
        return False


class _AlwaysValid(InProcessXmlSecBackend):
    def validate_signature(self, *args: Any, **kwargs: Any) -> bool:
        return True


class _NoEncryption(InProcessXmlSecBackend):
    def encrypt_assertion(self, statement: Any, *args: Any, **kwargs: Any) -> str:
        return str(statement)


@pytest.mark.parametrize("broken", [_NeverValid, _AlwaysValid, _NoEncryption])
def test_self_test_fails_on_broken_backend(broken: type[InProcessXmlSecBackend]) -> None:
    with pytest.raises(CryptoSelfTestError):
        self_test(broken())


def test_make_crypto_backend() -> None:
    assert isinstance(make_crypto_backend("xmlsec1"), CryptoBackendXmlSec1)
    assert isinstance(make_crypto_backend("inprocess"), InProcessXmlSecBackend)
    with pytest.raises(ValueError, match="unknown crypto backend"):
        make_crypto_backend("XMLSecurity")


def test_version_runs_no_program() -> None:
    backend = InProcessXmlSecBackend()
    assert backend.version_nums >= (1, 2, 27)  # first libxmlsec1 with AES-GCM


def test_install_backend_reaches_every_context(pki: Pki) -> None:
    backend = InProcessXmlSecBackend()
    sp = make_sp(pki, backend)
    assert sp.sec.crypto is backend
    assert sp.metadata.security.crypto is backend
    assert sp.sec.sec_backend is not None  # HTTP-Redirect signing is left on pysaml2's RSACrypto


def test_key_cache_reads_each_key_once(tmp_path: Path, pki: Pki) -> None:
    cache = _KeyCache(size=8)
    first = cache.load(pki.idp.cert, _C.KeyDataFormatCertPem)
    assert cache.load(pki.idp.cert, _C.KeyDataFormatCertPem) is first
    copy_path = tmp_path / "fresh-temp-copy.pem"  # what pysaml2 does before each check
    copy_path.write_bytes(Path(pki.idp.cert).read_bytes())
    assert cache.load(str(copy_path), _C.KeyDataFormatCertPem) is first
    copy_path.write_bytes(Path(pki.evil.cert).read_bytes())
    assert cache.load(str(copy_path), _C.KeyDataFormatCertPem) is not first


def test_keys_read_from_certificates_verify_their_signatures_only(pki: Pki) -> None:
    """The cache keeps a certificate's public key alone (PEM or DER certificate): it verifies
    what the certificate's private key signed, and refuses the document once changed."""
    der = x509.load_pem_x509_certificate(Path(pki.idp.cert).read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    cache = _KeyCache(size=8)
    keys = [cache.load(pki.idp.cert, _C.KeyDataFormatCertPem), cache.load(der, _C.KeyDataFormatCertDer)]
    template = etree.fromstring(b'<r ID="x"><v>1</v></r>')
    signature = xmlsec.template.create(template, _C.TransformExclC14N, _C.TransformRsaSha256)
    template.append(signature)
    xmlsec.template.add_transform(
        xmlsec.template.add_reference(signature, _C.TransformSha256), _C.TransformEnveloped
    )
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_file(pki.idp.key, _C.KeyDataFormatPem)
    ctx.sign(signature)
    for key in keys:
        check = xmlsec.SignatureContext()
        check.key = key
        check.verify(signature)
    template.find("v").text = "2"
    for key in keys:
        check = xmlsec.SignatureContext()
        check.key = key
        with pytest.raises(xmlsec.Error):
            check.verify(signature)


@pytest.mark.parametrize("key_format", [_C.KeyDataFormatCertPem, _C.KeyDataFormatCertDer])
def test_a_certificate_that_is_not_one_is_a_key_load_error(key_format: int) -> None:
    with pytest.raises(KeyLoadError):
        _KeyCache(size=8).load(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", key_format)


def test_concurrent_sign_and_verify(pki: Pki, signed: str) -> None:
    backend = InProcessXmlSecBackend()
    response_id, _ = ids(signed)
    barrier = threading.Barrier(4)

    def round_trip(index: int) -> bool:
        if index < 4:
            barrier.wait()
        xml = signed.replace("ann@example.org", f"user{index}@example.org")
        xml = backend.sign_statement(xml, RESPONSE, pki.idp.key, response_id)
        return backend.validate_signature(xml, pki.idp.cert, "pem", RESPONSE, response_id)

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(round_trip, range(24)))


# Review of issue 16: xmlsec1 verifies the FIRST ds:Signature under its start node, so a genuinely
# signed old element placed before a fake signature of the element asked about was what it checked.

_SIG_TEMPLATE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="{c}"/><ds:SignatureMethod Algorithm="{s}"/>'
    '<ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="{e}"/>'
    '<ds:Transform Algorithm="{c}"/></ds:Transforms><ds:DigestMethod Algorithm="{d}"/>'
    "<ds:DigestValue>{dv}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    "<ds:SignatureValue>{sv}</ds:SignatureValue></ds:Signature>"
)
_NS = f'xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}"'
AUTHN_REQUEST = f"{SAMLP}:AuthnRequest"


def _signature(node_id: str, value: str = "") -> str:
    return _SIG_TEMPLATE.format(
        c=EXC_C14N, s=RSA_SHA256, e=ENVELOPED, d=DIGEST_SHA256, id=node_id, dv=value, sv=value
    )


def _body(xml: str) -> str:
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", xml).strip()


@pytest.fixture(scope="session")
def old_signed_request(pki: Pki) -> str:
    """A genuine AuthnRequest of the SP, signed long ago: what an attacker may have kept."""
    inner = (
        f'<samlp:AuthnRequest {_NS} ID="_old" Version="2.0" IssueInstant="2020-01-01T00:00:00Z">'
        f"<saml:Issuer>{SP_ID}</saml:Issuer>{_signature('_old')}</samlp:AuthnRequest>"
    )
    return _body(make_crypto_backend("inprocess").sign_statement(inner, AUTHN_REQUEST, pki.sp.key, "_old"))


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("node_id", ["_new", None])
def test_an_old_signed_request_in_extensions_does_not_sign_a_new_one(
    pki: Pki, old_signed_request: str, backend_name: str, node_id: str | None
) -> None:
    forged = (
        f'<samlp:AuthnRequest {_NS} ID="_new" Version="2.0" IssueInstant="2026-12-03T13:00:00Z" '
        f'ForceAuthn="true"><saml:Issuer>{SP_ID}</saml:Issuer>'
        f"<samlp:Extensions>{old_signed_request}</samlp:Extensions>{_signature('_new', 'AAAA')}"
        "</samlp:AuthnRequest>"
    )
    assert refused(make_crypto_backend(backend_name), forged, pki.sp.cert, AUTHN_REQUEST, node_id)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_genuinely_signed_request_with_an_old_signed_one_inside_is_refused(
    pki: Pki, old_signed_request: str, backend_name: str
) -> None:
    """No ds:Signature but its own inside an AuthnRequest, even when its own one is good."""
    outer = (
        f'<samlp:AuthnRequest {_NS} ID="_new" Version="2.0" IssueInstant="2026-12-03T13:00:00Z">'
        f"<saml:Issuer>{SP_ID}</saml:Issuer>{_signature('_new')}"
        f"<samlp:Extensions>{old_signed_request}</samlp:Extensions></samlp:AuthnRequest>"
    )
    with pytest.raises(XmlSecurityError):
        make_crypto_backend("inprocess").sign_statement(outer, AUTHN_REQUEST, pki.sp.key, "_new")
    root = etree.fromstring(outer.encode())
    root.remove(root.find(f"{{{SAMLP}}}Extensions"))
    signed_alone = make_crypto_backend("inprocess").sign_statement(
        etree.tostring(root, encoding="unicode"), AUTHN_REQUEST, pki.sp.key, "_new"
    )
    assert not refused(make_crypto_backend(backend_name), signed_alone, pki.sp.cert, AUTHN_REQUEST, "_new")
    signed_root = etree.fromstring(signed_alone.encode())
    extensions = etree.SubElement(signed_root, f"{{{SAMLP}}}Extensions")
    extensions.append(etree.fromstring(old_signed_request.encode()))
    with_old = etree.tostring(signed_root, encoding="unicode")
    assert refused(make_crypto_backend(backend_name), with_old, pki.sp.cert, AUTHN_REQUEST, "_new")


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_an_old_signed_assertion_before_a_fake_response_signature_is_refused(
    pki: Pki, signed: str, backend_name: str
) -> None:
    """At the ENT: a new Response, its own signature fake, an old signed Assertion first."""
    old = etree.fromstring(signed.encode()).find(f"{{{SAML}}}Assertion")
    forged = (
        f'<samlp:Response {_NS} ID="_new" Version="2.0" IssueInstant="2026-12-03T13:00:00Z">'
        f"<saml:Issuer>{IDP_ID}</saml:Issuer>"
        f"<samlp:Extensions>{etree.tostring(old, encoding='unicode')}</samlp:Extensions>"
        f"{_signature('_new', 'AAAA')}</samlp:Response>"
    )
    assert refused(make_crypto_backend(backend_name), forged, pki.idp.cert, RESPONSE, "_new")


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_response_keeps_its_assertion_signature_but_no_other(
    pki: Pki, signed: str, backend_name: str
) -> None:
    """The Assertion's own signature in a Response is legitimate; a signed element elsewhere is not."""
    response_id, _ = ids(signed)
    backend = make_crypto_backend(backend_name)
    assert not refused(backend, signed, pki.idp.cert, RESPONSE, response_id)
    root = etree.fromstring(signed.encode())
    assertion = root.find(f"{{{SAML}}}Assertion")
    extensions = etree.Element(f"{{{SAMLP}}}Extensions")
    root.remove(assertion)
    extensions.append(assertion)
    root.insert(2, extensions)  # after Issuer and the Response's Signature
    moved = craft(etree.tostring(root, encoding="unicode"), response_id, pki.idp)
    assert refused(backend, moved, pki.idp.cert, RESPONSE, response_id)
