"""Password login (DESIGN §6), throttled by ``federation.login_throttle``."""

from __future__ import annotations

from dataclasses import dataclass

from federation.login_throttle import Counter, LoginThrottle
from idp.domain.accounts import Account, AccountRepository
from idp.domain.passwords import (
    MAX_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    spend_verification_time,
    verify_password,
)

MAX_IDENTIFIER_LENGTH = 64


@dataclass
class Authenticator:
    accounts: AccountRepository
    failures: Counter

    def authenticate(self, identifier: str, password: str, client_address: str) -> Account:
        identifier = identifier.strip().lower()
        throttle = LoginThrottle(self.failures, prefix="login")
        # The counter key is capped; the check itself refuses an over-long identifier.
        account = throttle.attempt(
            identifier[:MAX_IDENTIFIER_LENGTH], client_address, lambda: self._check(identifier, password)
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
            spend_verification_time(password)
            return None
        return account if verify_password(account.password_hash, password) else None
