"""Key pairs and self-signed certificates of each service (generated into ``certs/``).

Each service has a SAML signing pair, a SAML encryption pair and a metadata-signing pair (the
one that signs its published metadata, whose certificate the federation operator pins). Private
keys are written 0600 and never committed (``certs/.gitignore``). The IdP also has one OpenID
Connect signing pair per ID token algorithm (RS256, ES256), published in its JWKS.

SAML key rollover (DESIGN §5), per service and use, in three commands: :func:`announce_next_key`
writes ``<service>-<use>-next``, which metadata publishes beside the current key while nothing
signs with it (nor encrypts to it: peers take the first encryption key); :func:`switch_to_next_key`
makes it current and keeps the old one as ``-previous``, still published and still decrypting;
:func:`retire_previous_key` deletes the old one. :func:`published_pairs` is what metadata lists and
what decryption tries, the current pair first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from federation.errors import ConfigurationError

SAML_USES = ("signing", "encryption")
METADATA_USE = "metadata"
USES = (*SAML_USES, METADATA_USE)
# The current pair first: it signs, and peers encrypt to the first encryption key they read.
GENERATIONS = ("current", "next", "previous")
_USE_NAMES = {"signing": "de signature", "encryption": "de chiffrement"}
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


def metadata_signing_pair(certs_dir: Path, service: str) -> KeyPair:
    """``idp-metadata.key``…: signs the service's metadata documents, nothing else."""
    return key_pair(certs_dir, service, METADATA_USE)


def published_pairs(certs_dir: Path, service: str, use: str) -> tuple[KeyPair, ...]:
    """The pairs of one SAML use that exist, current first, then next and previous: what the
    metadata publishes and, for encryption, every key decryption tries during a rollover."""
    pairs = (key_pair(certs_dir, service, use, generation) for generation in GENERATIONS)
    return tuple(pair for pair in pairs if pair.exists())


@dataclass(frozen=True)
class KeySet:
    """A service's SAML keys as one process read them at start (DESIGN §5: keys are built once
    per process): the current signing pair, the other published signing pairs, every encryption
    pair (current first).

    The files are immutable copies named by content fingerprint (:func:`load_key_set`), never the
    role files of ``certs/``: ``saml keys rotate`` moves those (next → current → previous), and a
    process holding their paths would sign with the new key at once and no longer find the old
    one to decrypt. A running process is unaffected by rotate until it restarts.
    """

    signing: KeyPair
    other_signing: tuple[KeyPair, ...]
    encryption: tuple[KeyPair, ...]


def load_key_set(certs_dir: Path, service: str, pin_dir: Path) -> KeySet:
    """Read the role files of ``service`` once and pin each pair into ``pin_dir`` (0700) as
    ``<service>-<use>-<fingerprint>.key/.crt``, written once and never changed; pinned pairs of a
    retired key (in no role any more) are deleted."""
    require_key_pair(certs_dir, service, "signing")
    require_key_pair(certs_dir, service, "encryption")
    pin_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    signing = tuple(
        _pinned(p, pin_dir, service, "signing") for p in published_pairs(certs_dir, service, "signing")
    )
    encryption = tuple(
        _pinned(p, pin_dir, service, "encryption") for p in published_pairs(certs_dir, service, "encryption")
    )
    kept = {path.name for pair in (*signing, *encryption) for path in (pair.key_file, pair.cert_file)}
    for use in SAML_USES:
        for stale in pin_dir.glob(f"{service}-{use}-*"):
            if stale.name not in kept and stale.suffix in (".key", ".crt"):
                stale.unlink(missing_ok=True)
    return KeySet(signing=signing[0], other_signing=signing[1:], encryption=encryption)


def _pinned(pair: KeyPair, pin_dir: Path, service: str, use: str) -> KeyPair:
    key, cert = pair.key_file.read_bytes(), pair.cert_file.read_bytes()
    fingerprint = hashlib.sha256(key + b"\0" + cert).hexdigest()[:32]
    pinned = KeyPair(
        key_file=pin_dir / f"{service}-{use}-{fingerprint}.key",
        cert_file=pin_dir / f"{service}-{use}-{fingerprint}.crt",
    )
    for target, data, mode in ((pinned.key_file, key, 0o600), (pinned.cert_file, cert, 0o644)):
        if not target.exists():
            _write_once(target, data, mode)
    return pinned


def _write_once(target: Path, data: bytes, mode: int) -> None:
    """Atomically: workers starting together write the same bytes, the last rename wins."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def announce_next_key(certs_dir: Path, service: str, use: str, force: bool = False) -> KeyPair:
    """Write ``<service>-<use>-next``: published by metadata at the next restart, not yet used."""
    _check_saml_use(use)
    require_key_pair(certs_dir, service, use)
    upcoming = key_pair(certs_dir, service, use, "next")
    if upcoming.exists() and not force:
        raise ConfigurationError(
            f"la clé {_USE_NAMES[use]} suivante de {service} est déjà annoncée ({upcoming.cert_file}) ; "
            "basculez dessus avec « saml keys rotate » ou remplacez-la avec --force"
        )
    generate_key_pair(upcoming, f"{service} {use} next")
    return upcoming


def switch_to_next_key(certs_dir: Path, service: str, use: str) -> KeyPair:
    """previous ← current ← next: the announced key signs (or is encrypted to) from the next
    restart; the old one stays published and decrypting until :func:`retire_previous_key`."""
    _check_saml_use(use)
    current, upcoming, previous = (key_pair(certs_dir, service, use, g) for g in GENERATIONS)
    if not upcoming.exists():
        raise ConfigurationError(
            f"aucune clé {_USE_NAMES[use]} suivante pour {service} : annoncez-la d'abord avec "
            f"« educonnect-bridge saml keys next --service {service} »"
        )
    if previous.exists():
        raise ConfigurationError(
            f"l'ancienne clé {_USE_NAMES[use]} de {service} n'est pas encore retirée "
            f"({previous.cert_file}) : lancez d'abord "
            f"« educonnect-bridge saml keys retire --service {service} »"
        )
    _move(current, previous)
    _move(upcoming, current)
    return current


def retire_previous_key(certs_dir: Path, service: str, use: str) -> KeyPair:
    """Delete ``<service>-<use>-previous``: no longer published, no longer decrypting."""
    _check_saml_use(use)
    previous = key_pair(certs_dir, service, use, "previous")
    if not previous.exists():
        raise ConfigurationError(
            f"aucune ancienne clé {_USE_NAMES[use]} à retirer pour {service} : la rotation n'a pas eu lieu "
            "ou l'ancienne clé est déjà retirée"
        )
    previous.key_file.unlink()
    previous.cert_file.unlink()
    return previous


def _check_saml_use(use: str) -> None:
    if use not in SAML_USES:
        raise ConfigurationError(f"usage de clé {use!r} inconnu (attendu : {', '.join(SAML_USES)})")


def _move(source: KeyPair, target: KeyPair) -> None:
    source.key_file.replace(target.key_file)
    source.cert_file.replace(target.cert_file)


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
    """Generate the missing signing, encryption and metadata-signing pairs; existing ones are kept
    unless ``force``."""
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
