"""ATEN password login, braked like ÉduConnect's (``federation.login_throttle``; the app gives the
brake keys prefixed ``aten-login`` so the two never collide when both services share one Redis)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aten_adapter.domain.parents import Parent, ParentDirectory
from federation.login_throttle import LoginBrake

BRAKE_PREFIX = "aten-login"  # the login brake's keys; ÉduConnect's are "login"
MAX_IDENTIFIER_LENGTH = 64
MAX_PASSWORD_LENGTH = 128  # checked before anything is hashed or sent to the directory
# What an ATEN identifiant looks like (« mdurand », « j.dupont2 »). Anything else cannot be an
# account, so it never reaches the directory (LDAP filters are escaped there all the same).
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9._-]*")


def normalise_identifier(typed: str) -> str:
    return typed.strip().lower()


@dataclass
class Authenticator:
    directory: ParentDirectory
    brake: LoginBrake

    def authenticate(
        self, identifier: str, password: str, client_address: str, device: str | None = None
    ) -> Parent:
        """The parent, or :class:`InvalidCredentials` / :class:`TooManyAttempts` (never which).
        ``device``: what this browser's device cookie holds for this identifiant."""
        uid = normalise_identifier(identifier)
        # The counter key is capped; the check itself refuses an over-long identifiant.
        return self.brake.attempt(
            uid[:MAX_IDENTIFIER_LENGTH], client_address, device, lambda: self._check(uid, password)
        )

    def _check(self, uid: str, password: str) -> Parent | None:
        if (
            not password
            or len(password) > MAX_PASSWORD_LENGTH
            or len(uid) > MAX_IDENTIFIER_LENGTH
            or not _IDENTIFIER.fullmatch(uid)
        ):
            return None
        return self.directory.authenticate(uid, password)
