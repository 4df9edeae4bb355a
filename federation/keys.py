"""Key pairs and self-signed certificates of each service (generated into ``certs/``).

Each service has a signing pair and an encryption pair. Private keys are written 0600 and never
committed (``certs/.gitignore``). ``next`` pairs can be generated ahead of a rollover: metadata
then publishes them before they sign. The IdP also has one OpenID Connect signing pair per ID
token algorithm (RS256, ES256), published in its JWKS.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from federation.errors import ConfigurationError

USES = ("signing", "encryption")
# ID token signing keys of the IdP (OpenID Connect Core §10.1), one pair per JWS algorithm.
OIDC_SIGNING_ALGS = ("RS256", "ES256")


@dataclass(frozen=True)
class KeyPair:
    key_file: Path
    cert_file: Path

    @property
    def cert_pem(self) -> str:
        return self.cert_file.read_text()

    def exists(self) -> bool:
        return self.key_file.exists() and self.cert_file.exists()


def key_pair(certs_dir: Path, service: str, use: str, generation: str = "current") -> KeyPair:
    stem = f"{service}-{use}" if generation == "current" else f"{service}-{use}-{generation}"
    return KeyPair(key_file=certs_dir / f"{stem}.key", cert_file=certs_dir / f"{stem}.crt")


def require_key_pair(certs_dir: Path, service: str, use: str) -> KeyPair:
    pair = key_pair(certs_dir, service, use)
    if not pair.exists():
        raise ConfigurationError(
            f"{pair.key_file} ou {pair.cert_file} absent : lancez « educonnect-bridge certs generate »"
        )
    return pair


def oidc_signing_pair(certs_dir: Path, alg: str, generation: str = "current") -> KeyPair:
    """``idp-oidc-rs256.key``, ``idp-oidc-es256-next.key``…: the IdP's ID token signing keys."""
    return key_pair(certs_dir, "idp", f"oidc-{alg.lower()}", generation)


def generate_key_pair(
    pair: KeyPair, common_name: str, days: int = 730, key_size: int = 2048, elliptic: bool = False
) -> None:
    """Write a fresh RSA (or P-256) key and a self-signed certificate (peers pin it, no CA needed)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if elliptic
        else rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    )
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "educonnect-bridge"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    pair.key_file.parent.mkdir(parents=True, exist_ok=True)
    pair.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pair.key_file.chmod(0o600)
    pair.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def generate_service_keys(certs_dir: Path, services: tuple[str, ...], force: bool = False) -> list[KeyPair]:
    """Generate the missing signing and encryption pairs; existing ones are kept unless ``force``."""
    written = []
    for service in services:
        for use in USES:
            pair = key_pair(certs_dir, service, use)
            if force or not pair.exists():
                generate_key_pair(pair, f"{service} {use}")
                written.append(pair)
        if service == "idp":
            for alg in OIDC_SIGNING_ALGS:
                pair = oidc_signing_pair(certs_dir, alg)
                if force or not pair.exists():
                    generate_key_pair(pair, f"idp oidc {alg}", elliptic=alg.startswith("ES"))
                    written.append(pair)
    return written
