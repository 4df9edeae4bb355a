"""The login brake on the real stores: Redis (db 14, this run's prefix) and the embedded SQLite
store, with real concurrent threads (and processes for the embedded one)."""

from __future__ import annotations

import multiprocessing
import secrets

import pytest
import redis

from federation.errors import InvalidCredentials
from federation.login_throttle import BrakeLimits, LoginBrake
from federation.stores import THROTTLE_PREFIX, StoreCounter
from federation.stores.embedded_store import EmbeddedStore
from federation.stores.redis_store import RedisStore
from tests.conftest import REDIS_URL, RUN_PREFIX
from tests.login_brake_harness import (
    CheckThenCountBrake,
    Guess,
    concurrent_guesses,
    spread,
)
from tests.settable_clock import SettableClock

LIMITS = BrakeLimits(account_attempts=10, device_attempts=5, address_attempts=100, window_seconds=3600)


@pytest.fixture(params=["embedded", "redis"])
def store(request, tmp_path):
    if request.param == "embedded":
        return EmbeddedStore(tmp_path / "store.sqlite3")
    # 200 threads at once: more than redis-py's default pool of 100 (a worker has 4 threads).
    return RedisStore(redis.Redis.from_url(REDIS_URL, max_connections=256), RUN_PREFIX)


@pytest.fixture
def prefix() -> str:
    """A service prefix of this test's own: the window of a key outlives the test."""
    return f"login-{secrets.token_hex(4)}"


def test_counter_counts_gives_back_and_tells_the_window(store, prefix):
    counter = StoreCounter(store)
    key = f"{prefix}-account:c.martin1"
    assert [counter.hit(key, 600) for _ in range(3)] == [1, 2, 3]
    counter.release(key, 600)
    assert counter.hit(key, 600) == 3
    assert 590 <= counter.seconds_left(key) <= 600
    counter.clear(key)
    assert counter.seconds_left(key) == 0
    assert counter.hit(key, 600) == 1


def test_every_brake_key_has_the_prefixes_and_a_ttl():
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"login-{secrets.token_hex(4)}"
    brake = LoginBrake(StoreCounter(RedisStore(client, RUN_PREFIX)), prefix, LIMITS)
    for device in (None, "un-appareil"):
        with pytest.raises(InvalidCredentials):
            brake.attempt("c.martin1", "203.0.113.1", device, lambda: None)
    brake.attempt("j.dupont1", "203.0.113.1", None, lambda: "compte")  # gives its address back
    keys = sorted(k.decode() for k in client.scan_iter(f"{RUN_PREFIX}{THROTTLE_PREFIX}{prefix}-*"))
    assert [k.removeprefix(f"{RUN_PREFIX}{THROTTLE_PREFIX}{prefix}-") for k in keys] == [
        "account:c.martin1",
        "address:203.0.113.1",
        "device:c.martin1:un-appareil",
    ]
    assert all(0 < client.ttl(k) <= LIMITS.window_seconds for k in keys)


def test_embedded_counter_window_ends_on_its_clock(tmp_path):
    clock = SettableClock()
    counter = StoreCounter(EmbeddedStore(tmp_path / "store.sqlite3", clock=clock))
    assert counter.hit("login-account:c.martin1", 600) == 1
    clock.advance(590)
    assert counter.seconds_left("login-account:c.martin1") == 10
    clock.advance(10)
    assert counter.hit("login-account:c.martin1", 600) == 1


def test_concurrent_guesses_from_40_addresses_check_only_the_budget(store, prefix):
    brake = LoginBrake(StoreCounter(store), prefix, LIMITS)
    outcome = concurrent_guesses(brake, spread("c.martin1", addresses=40, per_address=5))
    assert outcome.checked == LIMITS.account_attempts
    assert outcome.braked == 200 - LIMITS.account_attempts


def test_concurrent_guesses_on_a_stolen_device_check_only_its_budget_and_the_account(store, prefix):
    brake = LoginBrake(StoreCounter(store), prefix, LIMITS)
    guesses = [Guess("c.martin1", f"203.0.113.{n}", "appareil-vole") for n in range(60)]
    assert concurrent_guesses(brake, guesses).checked == LIMITS.device_attempts + LIMITS.account_attempts


def test_negative_counting_after_the_check_lets_every_concurrent_guess_through(store, prefix):
    """The same guesses on the order before issue 14 (peek, check, count): all are checked."""

    def peek(key: str) -> int:
        raw = store.get(THROTTLE_PREFIX + key)
        return int(raw) if raw else 0

    mutant = CheckThenCountBrake(StoreCounter(store), prefix, LIMITS, peek=peek)
    outcome = concurrent_guesses(mutant, spread("c.martin1", addresses=40, per_address=5))
    assert outcome.checked == 200


def _hits(path: str, key: str, count: int, results) -> None:
    counter = StoreCounter(EmbeddedStore(path))
    results.put([counter.hit(key, 600) for _ in range(count)])


def test_embedded_counter_is_atomic_across_processes(tmp_path):
    """gunicorn workers share the demo's store file: no two hits ever get the same count."""
    path = str(tmp_path / "shared.sqlite3")
    EmbeddedStore(path)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_hits, args=(path, "login-account:c.martin1", 25, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    seen = sorted(n for _ in procs for n in results.get(timeout=5))
    assert seen == list(range(1, 101))
