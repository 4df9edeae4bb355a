"""Password login with throttling (DESIGN §6).

Throttling counts failures per (identifier, client address) and per client address in a
15-minute fixed window. Nothing counts per identifier alone: an attacker elsewhere cannot lock a
parent out, and any lock ends with its window.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.domain.accounts import Account, AccountRepository, Counter
from idp.domain.errors import InvalidCredentials, TooManyAttempts
from idp.domain.passwords import (
    MAX_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    spend_verification_time,
    verify_password,
)

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 50


@dataclass
class Authenticator:
    accounts: AccountRepository
    failures: Counter

    def authenticate(self, identifier: str, password: str, client_address: str) -> Account:
        identifier = identifier.strip().lower()
        pair_key = f"login:{identifier}:{client_address}"
        address_key = f"login-address:{client_address}"
        if (
            self.failures.peek(pair_key) >= MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS
            or self.failures.peek(address_key) >= MAX_FAILURES_PER_ADDRESS
        ):
            raise TooManyAttempts(identifier)
        account = self._check(identifier, password)
        if account is None:
            self.failures.hit(pair_key, WINDOW_SECONDS)
            self.failures.hit(address_key, WINDOW_SECONDS)
            raise InvalidCredentials(identifier)
        self.failures.clear(pair_key)
        if needs_rehash(account.password_hash):
            self.accounts.replace_password_hash(account.id, hash_password(password))
        return account

    def _check(self, identifier: str, password: str) -> Account | None:
        if not identifier or not password or len(password) > MAX_PASSWORD_LENGTH or len(identifier) > 64:
            return None
        account = self.accounts.by_identifier(identifier)
        if account is None or not account.is_active:
            spend_verification_time(password)
            return None
        return account if verify_password(account.password_hash, password) else None
