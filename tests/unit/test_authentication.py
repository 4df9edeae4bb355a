"""Password login with throttling, on in-memory fakes (domain code only)."""

from __future__ import annotations

import pytest

from federation.login_throttle import MAX_FAILURES_PER_ADDRESS
from federation.login_throttle import (
    MAX_FAILURES_PER_IDENTIFIER_AND_ADDRESS as MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS,
)
from idp.domain.accounts import Account
from idp.domain.authentication import Authenticator
from idp.domain.errors import InvalidCredentials, TooManyAttempts
from idp.domain.passwords import HASHER, hash_password

PASSWORD = "Ecole-2026!"


class FakeAccounts:
    def __init__(self, *accounts: Account) -> None:
        self.accounts = {a.identifier: a for a in accounts}
        self.rehashed: list[str] = []

    def by_identifier(self, identifier):
        return self.accounts.get(identifier)

    def by_id(self, account_id):
        return next((a for a in self.accounts.values() if a.id == account_id), None)

    def replace_password_hash(self, account_id, password_hash):
        self.rehashed.append(account_id)


class FakeCounter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def hit(self, key, window_seconds):
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    def peek(self, key):
        return self.counts.get(key, 0)

    def clear(self, key):
        self.counts.pop(key, None)


@pytest.fixture
def account():
    return Account(
        id="a1",
        identifier="c.martin1",
        password_hash=hash_password(PASSWORD),
        given_name="Claire",
        family_name="Martin",
    )


@pytest.fixture
def auth(account):
    return Authenticator(FakeAccounts(account), FakeCounter())


def test_right_password_signs_in(auth, account):
    assert auth.authenticate("C.Martin1 ", PASSWORD, "10.0.0.1") == account


@pytest.mark.parametrize(
    ("identifier", "password"),
    [("c.martin1", "Mauvais-2026"), ("x.inconnu1", PASSWORD), ("", PASSWORD), ("c.martin1", "")],
)
def test_every_failure_is_the_same_error(auth, identifier, password):
    with pytest.raises(InvalidCredentials) as info:
        auth.authenticate(identifier, password, "10.0.0.1")
    assert info.value.code == "identifiants_invalides"


def test_password_over_128_characters_is_refused_before_hashing(auth, account, monkeypatch):
    calls = []

    def spy(*args):
        calls.append(args)
        return True

    monkeypatch.setattr("idp.domain.authentication.verify_password", spy)
    with pytest.raises(InvalidCredentials):
        auth.authenticate(account.identifier, "A" * 129, "10.0.0.1")
    assert calls == []


def test_failures_per_account_and_address_are_bounded(auth):
    for _ in range(MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        with pytest.raises(InvalidCredentials):
            auth.authenticate("c.martin1", "Mauvais-2026", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        auth.authenticate("c.martin1", PASSWORD, "10.0.0.1")


def test_an_attacker_elsewhere_cannot_lock_the_parent_out(auth, account):
    for _ in range(MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS * 3):
        with pytest.raises((InvalidCredentials, TooManyAttempts)):
            auth.authenticate("c.martin1", "Mauvais-2026", "203.0.113.9")
    assert auth.authenticate("c.martin1", PASSWORD, "10.0.0.1") == account


def test_failures_per_address_are_bounded_across_identifiers(auth):
    for i in range(MAX_FAILURES_PER_ADDRESS):
        with pytest.raises(InvalidCredentials):
            auth.authenticate(f"x.inconnu{i}", "Mauvais-2026", "203.0.113.9")
    with pytest.raises(TooManyAttempts):
        auth.authenticate("c.martin1", PASSWORD, "203.0.113.9")


def test_success_clears_the_failures_of_that_address(auth, account):
    for _ in range(MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS - 1):
        with pytest.raises(InvalidCredentials):
            auth.authenticate("c.martin1", "Mauvais-2026", "10.0.0.1")
    auth.authenticate("c.martin1", PASSWORD, "10.0.0.1")
    with pytest.raises(InvalidCredentials):
        auth.authenticate("c.martin1", "Mauvais-2026", "10.0.0.1")
    assert auth.authenticate("c.martin1", PASSWORD, "10.0.0.1") == account


def test_hash_is_argon2id_with_at_least_the_owasp_parameters(account):
    assert account.password_hash.startswith("$argon2id$")
    params = HASHER  # the one hasher every hash comes from
    assert params.memory_cost >= 19456 and params.time_cost >= 2 and params.parallelism >= 1


def test_weaker_hash_is_upgraded_at_login(account):
    from argon2 import PasswordHasher

    weak = Account(
        **{**account.__dict__, "password_hash": PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)}
    )
    accounts = FakeAccounts(weak)
    Authenticator(accounts, FakeCounter()).authenticate("c.martin1", PASSWORD, "10.0.0.1")
    assert accounts.rehashed == ["a1"]
