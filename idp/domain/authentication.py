"""Password login (DESIGN §6), braked by ``federation.login_throttle``."""

from __future__ import annotations

from dataclasses import dataclass

from federation.login_throttle import LoginBrake
from idp.domain.accounts import Account, AccountRepository
from idp.domain.passwords import (
    MAX_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    spend_verification_time,
    verify_password,
)

BRAKE_PREFIX = "login"  # the login brake's keys; ATEN's are "aten-login"
MAX_IDENTIFIER_LENGTH = 64


def normalise_identifier(typed: str) -> str:
    """The identifier as accounts, the brake and the device cookie know it."""
    return typed.strip().lower()


@dataclass
class Authenticator:
    accounts: AccountRepository
    brake: LoginBrake

    def authenticate(
        self, identifier: str, password: str, client_address: str, device: str | None = None
    ) -> Account:
        """The account, or InvalidCredentials / TooManyAttempts (never which one for whom).
        ``device``: what this browser's device cookie holds for this identifier."""
        identifier = normalise_identifier(identifier)
        # The counter key is capped; the check itself refuses an over-long identifier.
        account = self.brake.attempt(
            identifier[:MAX_IDENTIFIER_LENGTH],
            client_address,
            device,
            lambda: self._check(identifier, password),
        )
        if needs_rehash(account.password_hash):
            self.accounts.replace_password_hash(account.id, hash_password(password))
        return account

    def _check(self, identifier: str, password: str) -> Account | None:
        too_long = len(password) > MAX_PASSWORD_LENGTH or len(identifier) > MAX_IDENTIFIER_LENGTH
        if not identifier or not password or too_long:
            return None
        account = self.accounts.by_identifier(identifier)
        if account is None or not account.is_active:
            spend_verification_time(password)  # the same work as for a known identifier
            return None
        return account if verify_password(account.password_hash, password) else None
