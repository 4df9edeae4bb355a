"""argon2id password hashing (DESIGN §6: m=19456 KiB, t=2, p=1 at least; rehash when they change)."""

from __future__ import annotations

import threading
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_PASSWORD_LENGTH = 128  # checked before hashing: argon2 over megabytes would be a DoS lever

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# One argon2id computation at a time per process: each needs 19 MiB, and several side by side on a
# worker's core only evict each other from the cache (measured: 28 ms each instead of 22 ms).
# Workers, not threads, give parallel logins; federation.server tunes malloc for the 19 MiB.
_HASHING = threading.BoundedSemaphore(1)


def normalised(password: str) -> str:
    """Unicode NFC (DESIGN §6): the same password typed on another device gives the same bytes."""
    return unicodedata.normalize("NFC", password)


def hash_password(password: str) -> str:
    with _HASHING:
        return HASHER.hash(normalised(password))


def verify_password(password_hash: str, password: str) -> bool:
    """The NFC form first; a hash made before passwords were normalised was made over the typed
    text, which differs from its NFC form only for a decomposed accent or the like (one more
    argon2id computation, for those passwords only)."""
    nfc = normalised(password)
    return _verify(password_hash, nfc) or (nfc != password and _verify(password_hash, password))


def _verify(password_hash: str, password: str) -> bool:
    try:
        with _HASHING:
            return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


# Verified against when the identifier is unknown, so both failures cost the same time.
_DUMMY_HASH = HASHER.hash("compte-inexistant")


def spend_verification_time(password: str) -> None:
    verify_password(_DUMMY_HASH, password)
