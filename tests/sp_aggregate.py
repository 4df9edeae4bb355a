"""A federation operator for the tests: SP metadata gathered into an ``md:EntitiesDescriptor``,
signed with Debian's ``xmlsec1`` program (not our code), and served over HTTPS on loopback by a
server the test starts (its own CA, a certificate for 127.0.0.1). Nothing reaches the network.
"""

from __future__ import annotations

import datetime as dt
import http.server
import re
import secrets
import ssl
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from federation.keys import KeyPair, generate_key_pair

MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"
XMLSEC1 = "/usr/bin/xmlsec1"

_SIGNATURE_TEMPLATE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#{id}"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/>'
    "</ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>"
    "</ds:Signature>"
)


def operator_key(directory: Path, name: str = "federation-operator") -> KeyPair:
    """The federation operator's metadata-signing key and certificate (made once per directory)."""
    pair = KeyPair(key_file=directory / f"{name}.key", cert_file=directory / f"{name}.crt")
    if not pair.exists():
        directory.mkdir(parents=True, exist_ok=True)
        generate_key_pair(pair, f"{name}.test")
    return pair


def entity_descriptor(metadata_xml: str) -> str:
    """An SP's metadata document as an element of the aggregate (its XML declaration dropped)."""
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", metadata_xml).strip()


def unsigned_aggregate(
    entities: Sequence[str], valid_until: dt.datetime | None, signature_template: bool = True
) -> str:
    aggregate_id = "_agg" + secrets.token_hex(8)
    until = f' validUntil="{valid_until.strftime("%Y-%m-%dT%H:%M:%SZ")}"' if valid_until else ""
    signature = _SIGNATURE_TEMPLATE.format(id=aggregate_id) if signature_template else ""
    body = "\n".join(entity_descriptor(e) for e in entities)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntitiesDescriptor xmlns:md="{MD_NS}" ID="{aggregate_id}"{until} '
        f'Name="urn:test:federation:ent">{signature}\n{body}\n</md:EntitiesDescriptor>\n'
    )


def sign(xml: str, signer: KeyPair, work_dir: Path) -> str:
    """``xmlsec1 --sign`` of the aggregate's enveloped signature template."""
    work_dir.mkdir(parents=True, exist_ok=True)
    template = work_dir / f"template-{secrets.token_hex(4)}.xml"
    signed = template.with_suffix(".signed.xml")
    template.write_text(xml, encoding="utf-8")
    subprocess.run(
        [
            XMLSEC1,
            "--sign",
            "--privkey-pem",
            f"{signer.key_file},{signer.cert_file}",
            "--id-attr:ID",
            f"{MD_NS}:EntitiesDescriptor",
            "--output",
            str(signed),
            str(template),
        ],
        check=True,
        capture_output=True,
    )
    return signed.read_text(encoding="utf-8")


def signed_aggregate(
    entities: Sequence[str], signer: KeyPair, work_dir: Path, valid_for: dt.timedelta = dt.timedelta(days=7)
) -> str:
    now = dt.datetime.now(dt.UTC)
    return sign(unsigned_aggregate(entities, now + valid_for), signer, work_dir)


def publish(target: Path, xml: str) -> None:
    """Write an aggregate where the IdP reads it, whole (the operator's web server does the same)."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(xml, encoding="utf-8")
    tmp.replace(target)


# --- HTTPS on loopback ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path  # what the IdP trusts (``ca_file``)
    cert_file: Path  # the server's certificate for 127.0.0.1, issued by that CA
    key_file: Path


def tls_files(directory: Path, name: str = "tls") -> TlsFiles:
    """A CA and a server certificate for 127.0.0.1 (subjectAltName IP) issued by it."""
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        directory / f"{name}-ca.crt", directory / f"{name}-server.crt", directory / f"{name}.key"
    )
    if files.cert_file.exists():
        return files
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@contextmanager
def https_server(root: Path, tls: TlsFiles) -> Iterator[str]:
    """Serve the files of ``root`` over HTTPS on 127.0.0.1 (a free port); yields the base URL."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
