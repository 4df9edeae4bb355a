"""The login brake and identifiant handling of the ATEN domain, with in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from aten_adapter.domain.authentication import BRAKE_PREFIX, Authenticator
from aten_adapter.domain.errors import InvalidCredentials, TooManyAttempts
from aten_adapter.domain.parents import Parent
from federation.login_throttle import BrakeLimits, LoginBrake
from tests.login_brake_harness import WindowCounter
from tests.settable_clock import SettableClock

PASSWORD = "Aten-Durand-86"
PARENT = Parent("mdurand", "5d4df3da", "Durand", "Marie", None, ())


@dataclass
class FakeDirectory:
    calls: list[tuple[str, str]] = field(default_factory=list)

    def authenticate(self, uid: str, password: str) -> Parent | None:
        self.calls.append((uid, password))
        return PARENT if (uid, password) == ("mdurand", PASSWORD) else None

    def check(self) -> None:
        pass


LIMITS = BrakeLimits(account_attempts=10, device_attempts=5, address_attempts=50)


@pytest.fixture
def directory():
    return FakeDirectory()


@pytest.fixture
def authenticator(directory):
    return Authenticator(directory, LoginBrake(WindowCounter(SettableClock()), BRAKE_PREFIX, LIMITS))


def test_right_password(authenticator):
    assert authenticator.authenticate("mdurand", PASSWORD, "192.0.2.1") == PARENT


def test_identifiant_is_trimmed_and_lowercased(authenticator, directory):
    assert authenticator.authenticate("  MDurand ", PASSWORD, "192.0.2.1") == PARENT
    assert directory.calls == [("mdurand", PASSWORD)]


@pytest.mark.parametrize("identifier", ["inconnu", "mdurand"])
def test_unknown_and_wrong_are_one_failure(authenticator, identifier):
    with pytest.raises(InvalidCredentials) as caught:
        authenticator.authenticate(identifier, "Mauvais-2024", "192.0.2.1")
    assert caught.value.code == "identifiants_invalides"


@pytest.mark.parametrize(
    ("identifier", "password"),
    [
        ("mdurand)(uid=*", PASSWORD),
        ("*", PASSWORD),
        ("m durand", PASSWORD),
        ("mdurand\x00", PASSWORD),
        ("", PASSWORD),
        ("a" * 65, PASSWORD),
        ("mdurand", ""),
        ("mdurand", "x" * 129),
    ],
)
def test_impossible_input_never_reaches_the_directory(authenticator, directory, identifier, password):
    with pytest.raises(InvalidCredentials):
        authenticator.authenticate(identifier, password, "192.0.2.1")
    assert directory.calls == []


def test_failures_from_every_address_brake_the_identifiant(authenticator, directory):
    for n in range(LIMITS.account_attempts):
        with pytest.raises(InvalidCredentials):
            authenticator.authenticate("mdurand", "Mauvais-2024", f"192.0.2.{n}")
    checked = len(directory.calls)
    with pytest.raises(TooManyAttempts):
        authenticator.authenticate("mdurand", PASSWORD, "198.51.100.7")  # even the right one
    assert len(directory.calls) == checked  # not sent to the directory
    # The parent's known browser still signs in: nobody can lock a parent out from afar.
    assert authenticator.authenticate("mdurand", PASSWORD, "198.51.100.7", device="appareil") == PARENT


def test_one_address_trying_many_identifiants_is_stopped(authenticator):
    for n in range(LIMITS.address_attempts):
        with pytest.raises(InvalidCredentials):
            authenticator.authenticate(f"parent{n}", "Mauvais-2024", "192.0.2.9")
    with pytest.raises(TooManyAttempts):
        authenticator.authenticate("mdurand", PASSWORD, "192.0.2.9")


def test_success_resets_the_identifiant_counter(authenticator):
    for _ in range(LIMITS.account_attempts - 1):
        with pytest.raises(InvalidCredentials):
            authenticator.authenticate("mdurand", "Mauvais-2024", "192.0.2.1")
    authenticator.authenticate("mdurand", PASSWORD, "192.0.2.1")
    for _ in range(LIMITS.account_attempts):
        with pytest.raises(InvalidCredentials):
            authenticator.authenticate("mdurand", "Mauvais-2024", "192.0.2.1")  # not yet braked


def test_counter_keys_do_not_collide_with_the_idp(authenticator):
    with pytest.raises(InvalidCredentials):
        authenticator.authenticate("mdurand", "Mauvais-2024", "192.0.2.1")
    keys = authenticator.brake.failures.values
    assert keys and all(key.startswith("aten-login-") for key in keys)
