"""The login brake's rule (federation/login_throttle.py) on an in-memory counter and a clock."""

from __future__ import annotations

import pytest

from federation.errors import InvalidCredentials, TooManyAttempts
from federation.login_throttle import BrakeLimits, LoginBrake
from tests.login_brake_harness import (
    CheckThenCountBrake,
    Guess,
    NoDeviceBudgetBrake,
    WindowCounter,
    concurrent_guesses,
    spread,
)
from tests.settable_clock import SettableClock

LIMITS = BrakeLimits(account_attempts=10, device_attempts=4, address_attempts=30, window_seconds=3600)
OWNER_DEVICE = "appareil-de-claire"


@pytest.fixture
def clock():
    return SettableClock(now=1_000_000.0)


@pytest.fixture
def counter(clock):
    return WindowCounter(clock)


@pytest.fixture
def brake(counter):
    return LoginBrake(counter, "login", LIMITS)


def wrong() -> None:
    return None


def right() -> str:
    return "compte"


def fail(brake: LoginBrake, identifier: str, address: str, device: str | None = None) -> str:
    """One wrong password: « wrong » when it was checked, « braked » when it was not."""
    checked = []

    def check() -> None:
        checked.append(1)
        return None

    try:
        brake.attempt(identifier, address, device, check)
    except TooManyAttempts:
        assert not checked
        return "braked"
    except InvalidCredentials:
        assert checked
        return "wrong"
    raise AssertionError("a wrong password signed in")


def test_failures_from_every_address_count_for_the_identifier(brake):
    answers = [fail(brake, "c.martin1", f"203.0.113.{n}") for n in range(40) for _ in range(5)]
    assert answers.count("wrong") == LIMITS.account_attempts
    assert answers.count("braked") == 200 - LIMITS.account_attempts
    with pytest.raises(TooManyAttempts):  # a 41st address, the right password: not even checked
        brake.attempt("c.martin1", "198.51.100.41", None, right)


def test_the_window_ends_and_the_refusal_says_when(brake, clock):
    for _ in range(LIMITS.account_attempts):
        fail(brake, "c.martin1", "203.0.113.1")
    clock.advance(20 * 60)
    with pytest.raises(TooManyAttempts) as refused:
        brake.attempt("c.martin1", "203.0.113.2", None, right)
    assert refused.value.retry_after_seconds == 40 * 60
    assert refused.value.retry_after_minutes == 40
    clock.advance(40 * 60)
    assert brake.attempt("c.martin1", "203.0.113.2", None, right) == "compte"


def test_a_success_resets_the_identifier_budget(brake):
    for _ in range(LIMITS.account_attempts - 1):
        fail(brake, "c.martin1", "203.0.113.1")
    assert brake.attempt("c.martin1", "203.0.113.1", None, right) == "compte"
    answers = [fail(brake, "c.martin1", "203.0.113.1") for _ in range(LIMITS.account_attempts + 1)]
    assert answers == ["wrong"] * LIMITS.account_attempts + ["braked"]


def test_a_known_browser_keeps_its_own_budget_while_the_identifier_is_braked(brake):
    for n in range(LIMITS.account_attempts * 3):
        fail(brake, "c.martin1", f"203.0.113.{n}")
    assert brake.attempt("c.martin1", "192.0.2.10", OWNER_DEVICE, right) == "compte"
    # Its success did not reopen the identifier's budget for the attacker.
    assert fail(brake, "c.martin1", "203.0.113.99") == "braked"


def test_a_known_browser_spends_its_own_budget_then_counts_as_unknown(brake):
    answers = [fail(brake, "c.martin1", "192.0.2.10", OWNER_DEVICE) for _ in range(LIMITS.device_attempts)]
    assert answers == ["wrong"] * LIMITS.device_attempts
    # Past its own budget the browser spends the identifier's, like any other browser.
    rest = [fail(brake, "c.martin1", "192.0.2.10", OWNER_DEVICE) for _ in range(LIMITS.account_attempts + 1)]
    assert rest == ["wrong"] * LIMITS.account_attempts + ["braked"]


def test_a_stolen_device_cookie_gives_only_its_own_small_budget(brake):
    for n in range(LIMITS.account_attempts):
        fail(brake, "c.martin1", f"203.0.113.{n}")
    stolen = [fail(brake, "c.martin1", f"198.51.100.{n}", OWNER_DEVICE) for n in range(20)]
    assert stolen.count("wrong") == LIMITS.device_attempts
    # Another browser of the owner (another device id) is untouched by the thief.
    assert brake.attempt("c.martin1", "192.0.2.10", "portable-de-claire", right) == "compte"


def test_one_address_trying_many_identifiers_is_braked(brake):
    answers = [fail(brake, f"x.inconnu{n}", "203.0.113.9") for n in range(LIMITS.address_attempts + 1)]
    assert answers == ["wrong"] * LIMITS.address_attempts + ["braked"]
    with pytest.raises(TooManyAttempts):
        brake.attempt("c.martin1", "203.0.113.9", None, right)
    assert brake.attempt("c.martin1", "203.0.113.9", OWNER_DEVICE, right) == "compte"


def test_successes_from_one_address_give_their_attempt_back(brake):
    """A school's shared address: many parents signing in spend nothing of its budget."""
    for n in range(LIMITS.address_attempts * 2):
        assert brake.attempt(f"parent{n}", "192.0.2.50", None, right) == "compte"
    assert fail(brake, "x.inconnu1", "192.0.2.50") == "wrong"


def test_keys_carry_the_service_prefix(counter):
    aten = LoginBrake(counter, "aten-login", LIMITS)
    fail(aten, "mdurand", "203.0.113.1", "un-appareil")
    fail(aten, "mdurand", "203.0.113.1")
    assert counter.values and all(key.startswith("aten-login-") for key in counter.values)


def test_concurrent_guesses_never_check_more_than_the_budget(brake):
    outcome = concurrent_guesses(brake, spread("c.martin1", addresses=40, per_address=5))
    assert outcome.checked == LIMITS.account_attempts
    assert outcome.wrong == LIMITS.account_attempts and outcome.braked == 200 - LIMITS.account_attempts


def test_negative_counting_after_the_check_lets_concurrent_guesses_through(counter):
    """The same assertion on the order before issue 14 fails: every guess is checked."""
    mutant = CheckThenCountBrake(counter, "login", LIMITS, peek=counter.peek)
    outcome = concurrent_guesses(mutant, spread("c.martin1", addresses=40, per_address=5))
    assert outcome.checked == 200 > LIMITS.account_attempts


def test_negative_without_the_device_budget_the_owner_is_locked_out(counter):
    def owner_after_attack(brake: LoginBrake) -> str:
        concurrent_guesses(brake, spread("c.martin1", addresses=40, per_address=5))
        try:
            return str(brake.attempt("c.martin1", "192.0.2.10", OWNER_DEVICE, right))
        except TooManyAttempts:
            return "braked"

    assert owner_after_attack(LoginBrake(counter, "login", LIMITS)) == "compte"
    counter.values.clear()
    assert owner_after_attack(NoDeviceBudgetBrake(counter, "login", LIMITS)) == "braked"


def test_concurrent_guesses_from_a_stolen_cookie_check_only_its_budget(brake):
    guesses = [Guess("c.martin1", f"203.0.113.{n}", OWNER_DEVICE) for n in range(50)]
    outcome = concurrent_guesses(brake, guesses)
    # Its own budget, then the identifier's: never more.
    assert outcome.checked == LIMITS.device_attempts + LIMITS.account_attempts
