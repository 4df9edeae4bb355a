"""argon2id password hashing (DESIGN §6: m=19456 KiB, t=2, p=1 at least; rehash when they change)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_PASSWORD_LENGTH = 128  # checked before hashing: argon2 over megabytes would be a DoS lever

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


# Verified against when the identifier is unknown, so both failures cost the same time.
_DUMMY_HASH = HASHER.hash("compte-inexistant")


def spend_verification_time(password: str) -> None:
    verify_password(_DUMMY_HASH, password)
