"""ATEN password login with throttling (DESIGN §6, same policy as ÉduConnect's login).

Failures are counted per (identifiant, client address) and per client address in a 15-minute
fixed window, never per identifiant alone: someone elsewhere cannot lock a parent out, and any
lock ends with its window. The counter keys start with ``aten-`` so they never collide with the
IdP's when both services share one Redis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from aten_adapter.domain.errors import InvalidCredentials, TooManyAttempts
from aten_adapter.domain.parents import Parent, ParentDirectory

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_IDENTIFIER_AND_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 50
MAX_IDENTIFIER_LENGTH = 64
MAX_PASSWORD_LENGTH = 128  # checked before anything is hashed or sent to the directory
# What an ATEN identifiant looks like (« mdurand », « j.dupont2 »). Anything else cannot be an
# account, so it never reaches the directory (LDAP filters are escaped there all the same).
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9._-]*")


class Counter(Protocol):
    """A fixed-window counter (``federation.stores.StoreCounter`` in the app)."""

    def hit(self, key: str, window_seconds: int) -> int: ...

    def peek(self, key: str) -> int: ...

    def clear(self, key: str) -> None: ...


def normalise_identifier(typed: str) -> str:
    return typed.strip().lower()


@dataclass
class Authenticator:
    directory: ParentDirectory
    failures: Counter

    def authenticate(self, identifier: str, password: str, client_address: str) -> Parent:
        """The parent, or :class:`InvalidCredentials` / :class:`TooManyAttempts` (never which)."""
        uid = normalise_identifier(identifier)
        pair_key = f"aten-login:{uid[:MAX_IDENTIFIER_LENGTH]}:{client_address}"
        address_key = f"aten-login-address:{client_address}"
        if (
            self.failures.peek(pair_key) >= MAX_FAILURES_PER_IDENTIFIER_AND_ADDRESS
            or self.failures.peek(address_key) >= MAX_FAILURES_PER_ADDRESS
        ):
            raise TooManyAttempts(uid[:MAX_IDENTIFIER_LENGTH])
        parent = self._check(uid, password)
        if parent is None:
            self.failures.hit(pair_key, WINDOW_SECONDS)
            self.failures.hit(address_key, WINDOW_SECONDS)
            raise InvalidCredentials(uid[:MAX_IDENTIFIER_LENGTH])
        self.failures.clear(pair_key)
        return parent

    def _check(self, uid: str, password: str) -> Parent | None:
        if (
            not password
            or len(password) > MAX_PASSWORD_LENGTH
            or len(uid) > MAX_IDENTIFIER_LENGTH
            or not _IDENTIFIER.fullmatch(uid)
        ):
            return None
        return self.directory.authenticate(uid, password)
