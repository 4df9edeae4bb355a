"""Salted SHA password hashes as OpenLDAP stores them in ``userPassword`` (RFC 2307 §5.3 style).

``{SSHA}`` is ``base64(SHA-1(password + salt) + salt)`` (OpenLDAP FAQ "SSHA"); ``{SSHA256}``,
``{SSHA384}`` and ``{SSHA512}`` are the same with SHA-2 (OpenLDAP contrib ``pw-sha2``). The
scheme name is case-insensitive, as slapd treats it. Clear-text or unsalted values are never
accepted: the LDIF backend refuses to load them (:func:`is_supported_hash`).

Only the LDIF backend verifies hashes itself; the LDAP backend lets slapd do it by binding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SCHEMES = {"SSHA": "sha1", "SSHA256": "sha256", "SSHA384": "sha384", "SSHA512": "sha512"}
MIN_SALT_BYTES = 4  # what slappasswd writes; shorter salts are refused as malformed
# slapd compares the password as bytes; a password longer than this is refused before hashing.
MAX_PASSWORD_BYTES = 512


def _split(stored: str) -> tuple[str, bytes, bytes] | None:
    """``(hash name, digest, salt)`` of a supported value, ``None`` for anything else."""
    if not stored.startswith("{") or "}" not in stored:
        return None
    scheme, _, encoded = stored[1:].partition("}")
    algorithm = SCHEMES.get(scheme.upper())
    if algorithm is None:
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    size = hashlib.new(algorithm).digest_size
    if len(raw) < size + MIN_SALT_BYTES:
        return None
    return algorithm, raw[:size], raw[size:]


def is_supported_hash(stored: str) -> bool:
    return _split(stored) is not None


def verify_salted_hash(stored: str, password: str) -> bool:
    """True when ``password`` hashes to ``stored``; compared in constant time (``hmac``)."""
    parts = _split(stored)
    secret = password.encode("utf-8")
    if parts is None or not secret or len(secret) > MAX_PASSWORD_BYTES:
        return False
    algorithm, digest, salt = parts
    return hmac.compare_digest(hashlib.new(algorithm, secret + salt).digest(), digest)


def hash_salted(password: str, scheme: str = "SSHA", salt: bytes | None = None) -> str:
    """A ``{SSHA}``-style value for ``password`` (demo data, tests; operators may use slappasswd)."""
    algorithm = SCHEMES[scheme.upper()]
    salt = secrets.token_bytes(8) if salt is None else salt
    if len(salt) < MIN_SALT_BYTES:
        raise ValueError("salt too short")
    digest = hashlib.new(algorithm, password.encode("utf-8") + salt).digest()
    return f"{{{scheme.upper()}}}" + base64.b64encode(digest + salt).decode("ascii")


# Checked when the identifiant is unknown, so that both failures cost the same work.
DUMMY_HASH = hash_salted("compte-inexistant")
