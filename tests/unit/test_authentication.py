"""Password login with its brake, on in-memory fakes (domain code only)."""

from __future__ import annotations

import pytest

from federation.login_throttle import BrakeLimits, LoginBrake
from idp.domain.accounts import Account
from idp.domain.authentication import Authenticator
from idp.domain.errors import InvalidCredentials, TooManyAttempts
from idp.domain.passwords import HASHER, hash_password
from tests.login_brake_harness import WindowCounter
from tests.settable_clock import SettableClock

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


LIMITS = BrakeLimits(account_attempts=10, device_attempts=5, address_attempts=50)


def brake() -> LoginBrake:
    return LoginBrake(WindowCounter(SettableClock()), "login", LIMITS)


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
    return Authenticator(FakeAccounts(account), brake())


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


def test_failures_for_an_account_are_bounded_across_addresses(auth):
    for n in range(LIMITS.account_attempts):
        with pytest.raises(InvalidCredentials):
            auth.authenticate("c.martin1", "Mauvais-2026", f"203.0.113.{n}")
    with pytest.raises(TooManyAttempts):
        auth.authenticate("c.martin1", PASSWORD, "10.0.0.1")


def test_the_parent_on_a_known_browser_still_signs_in(auth, account):
    for n in range(LIMITS.account_attempts * 3):
        with pytest.raises((InvalidCredentials, TooManyAttempts)):
            auth.authenticate("c.martin1", "Mauvais-2026", f"203.0.113.{n}")
    assert auth.authenticate("C.Martin1", PASSWORD, "10.0.0.1", device="appareil") == account


def test_unknown_identifiers_are_braked_exactly_like_existing_ones(auth):
    def answers(identifier: str) -> list[str]:
        seen = []
        for n in range(LIMITS.account_attempts + 2):
            try:
                auth.authenticate(identifier, "Mauvais-2026", f"203.0.113.{n}")
            except (InvalidCredentials, TooManyAttempts) as exc:
                seen.append(exc.code)
        return seen

    existing = answers("c.martin1")
    assert existing == answers("x.inconnu1")
    assert existing[-2:] == ["trop_de_tentatives"] * 2


def test_the_right_password_is_not_checked_once_braked(auth, account, monkeypatch):
    for n in range(LIMITS.account_attempts):
        with pytest.raises(InvalidCredentials):
            auth.authenticate("c.martin1", "Mauvais-2026", f"203.0.113.{n}")
    calls = []
    monkeypatch.setattr("idp.domain.authentication.verify_password", lambda *a: calls.append(a))
    with pytest.raises(TooManyAttempts):
        auth.authenticate("c.martin1", PASSWORD, "10.0.0.1")
    assert calls == []


def test_failures_per_address_are_bounded_across_identifiers(auth):
    for i in range(LIMITS.address_attempts):
        with pytest.raises(InvalidCredentials):
            auth.authenticate(f"x.inconnu{i}", "Mauvais-2026", "203.0.113.9")
    with pytest.raises(TooManyAttempts):
        auth.authenticate("c.martin1", PASSWORD, "203.0.113.9")


def test_success_resets_the_failures_of_the_account(auth, account):
    for _ in range(LIMITS.account_attempts - 1):
        with pytest.raises(InvalidCredentials):
            auth.authenticate("c.martin1", "Mauvais-2026", "10.0.0.1")
    auth.authenticate("c.martin1", PASSWORD, "10.0.0.1")
    for _ in range(LIMITS.account_attempts - 1):
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
    Authenticator(accounts, brake()).authenticate("c.martin1", PASSWORD, "10.0.0.1")
    assert accounts.rehashed == ["a1"]
