"""Debian's ``xmlsec1`` command (the XML Security Library's own tool, not our code) on SAML documents.

``verify`` checks one enveloped signature, found from the element whose SAML ``ID`` is given
(``--node-id``; ``--id-attr:ID`` declares the ``ID`` attributes of SAML elements, which no DTD
declares), with only the certificate given: ``--enabled-key-data raw-x509-cert`` makes xmlsec1
ignore any certificate in the signature's ``KeyInfo``, and ``--enabled-reference-uris`` refuses
references outside the document. ``decrypt`` replaces the first ``EncryptedData`` with its
plaintext, with the private key given.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import textwrap
from pathlib import Path

from lxml import etree

XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
SAML_ID_ELEMENTS = (
    "urn:oasis:names:tc:SAML:2.0:protocol:Response",
    "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest",
    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
)
DS = "http://www.w3.org/2000/09/xmldsig#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"


def _file(work: Path, name: str, data: bytes) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{len(list(work.iterdir()))}-{name}"
    path.write_bytes(data)
    return path


def _run(arguments: list[str], document: bytes, work: Path) -> subprocess.CompletedProcess[bytes]:
    source = _file(work, "document.xml", document)
    id_attrs = [a for element in SAML_ID_ELEMENTS for a in ("--id-attr:ID", element)]
    return subprocess.run([XMLSEC1, *arguments, *id_attrs, str(source)], capture_output=True, timeout=30)


def verify(document: bytes, cert_pem: str, node_id: str, work: Path) -> subprocess.CompletedProcess[bytes]:
    cert = _file(work, "cert.pem", cert_pem.encode())
    only_this_key = ["--enabled-key-data", "raw-x509-cert", "--pubkey-cert-pem", str(cert)]
    same_document = ["--enabled-reference-uris", "empty,same-doc"]
    return _run(["--verify", *same_document, *only_this_key, "--node-id", node_id], document, work)


def is_verified(result: subprocess.CompletedProcess[bytes]) -> bool:
    return result.returncode == 0 and result.stderr.startswith(b"OK")


def decrypt(document: bytes, key_file: Path, work: Path) -> subprocess.CompletedProcess[bytes]:
    return _run(["--decrypt", "--privkey-pem", str(key_file)], document, work)


def signing_certificates(metadata_xml: bytes) -> list[str]:
    """The PEM certificates a metadata document publishes for signing (``use`` absent or signing)."""
    values = etree.fromstring(metadata_xml).xpath(
        "//md:KeyDescriptor[not(@use) or @use='signing']//ds:X509Certificate/text()",
        namespaces={"md": MD, "ds": DS},
    )
    pems = []
    for value in values:
        body = base64.b64encode(base64.b64decode("".join(str(value).split()))).decode()
        pems.append(
            "-----BEGIN CERTIFICATE-----\n" + textwrap.fill(body, 64) + "\n-----END CERTIFICATE-----\n"
        )
    return pems
