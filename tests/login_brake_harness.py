"""What the login brake's tests share: an in-memory counter on a settable clock, guesses made by
real concurrent threads, and the two mutants the negative tests run the same assertions on.

``concurrent_guesses`` decides every attempt before any password check returns: each thread is
either inside ``check`` or refused when the checks are let go. No sleep, no timing: a brake that
counts after checking (the order before issue 14) lets every thread in, deterministically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from federation.errors import InvalidCredentials, TooManyAttempts
from federation.login_throttle import ACCOUNT_KEY, ADDRESS_KEY, LoginBrake

T = TypeVar("T")
DECISION_TIMEOUT = 60  # seconds; only reached when the code under test hangs


@dataclass
class WindowCounter:
    """Fixed windows on ``clock`` (seconds), atomic under one lock like the stores' counters."""

    clock: Callable[[], float]
    values: dict[str, tuple[int, float]] = field(default_factory=dict)  # key -> (count, window end)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _add(self, key: str, window_seconds: int, amount: int) -> int:
        with self.lock:
            now = self.clock()
            count, ends = self.values.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + window_seconds
            self.values[key] = (count + amount, ends)
            return count + amount

    def hit(self, key: str, window_seconds: int) -> int:
        return self._add(key, window_seconds, 1)

    def release(self, key: str, window_seconds: int) -> None:
        self._add(key, window_seconds, -1)

    def seconds_left(self, key: str) -> int:
        with self.lock:
            _, ends = self.values.get(key, (0, 0.0))
            return max(int(ends - self.clock() + 0.999), 0)

    def clear(self, key: str) -> None:
        with self.lock:
            self.values.pop(key, None)

    def peek(self, key: str) -> int:
        with self.lock:
            count, ends = self.values.get(key, (0, 0.0))
            return count if ends > self.clock() else 0


@dataclass(frozen=True)
class Guess:
    identifier: str
    address: str
    device: str | None = None


@dataclass(frozen=True)
class Outcome:
    checked: int  # passwords actually checked
    wrong: int  # answered « incorrect »
    braked: int  # refused without a check


def concurrent_guesses(brake: LoginBrake, guesses: Sequence[Guess]) -> Outcome:
    """Every guess at once, one thread each; every password checked is wrong."""
    decided = threading.Semaphore(0)
    let_go = threading.Event()
    checked = []
    lock = threading.Lock()

    def check() -> None:
        with lock:
            checked.append(1)
        decided.release()
        let_go.wait(DECISION_TIMEOUT)
        return None

    def one(guess: Guess) -> str:
        try:
            brake.attempt(guess.identifier, guess.address, guess.device, check)
        except TooManyAttempts:
            decided.release()
            return "braked"
        except InvalidCredentials:
            return "wrong"
        except BaseException:
            decided.release()  # the error is raised again by future.result() below
            raise
        return "signed in"

    with ThreadPoolExecutor(max_workers=len(guesses)) as pool:
        futures = [pool.submit(one, guess) for guess in guesses]
        for _ in guesses:
            assert decided.acquire(timeout=DECISION_TIMEOUT), "an attempt was never decided"
        let_go.set()
        results = [future.result() for future in futures]
    return Outcome(checked=len(checked), wrong=results.count("wrong"), braked=results.count("braked"))


def spread(identifier: str, addresses: int, per_address: int, first: int = 2) -> list[Guess]:
    """``per_address`` guesses from each of ``addresses`` loopback-like addresses."""
    return [
        Guess(identifier, f"127.0.{(first + n) // 256}.{(first + n) % 256}")
        for n in range(addresses)
        for _ in range(per_address)
    ]


@dataclass(frozen=True)
class CheckThenCountBrake(LoginBrake):
    """Mutant: the order before issue 14 — look at the counters, check, count the failure after."""

    peek: Callable[[str], int] = lambda key: 0

    def attempt(
        self, identifier: str, client_address: str, device: str | None, check: Callable[[], T | None]
    ) -> T:
        window = self.limits.window_seconds
        account_key = self._key(ACCOUNT_KEY, identifier)
        address_key = self._key(ADDRESS_KEY, client_address)
        if (
            self.peek(account_key) >= self.limits.account_attempts
            or self.peek(address_key) >= self.limits.address_attempts
        ):
            raise TooManyAttempts(identifier, retry_after_seconds=window)
        result = check()
        if result is None:
            self.failures.hit(account_key, window)
            self.failures.hit(address_key, window)
            raise InvalidCredentials(identifier)
        return result


@dataclass(frozen=True)
class NoDeviceBudgetBrake(LoginBrake):
    """Mutant: the device cookie ignored — every browser spends the account's budget."""

    def attempt(
        self, identifier: str, client_address: str, device: str | None, check: Callable[[], T | None]
    ) -> T:
        return super().attempt(identifier, client_address, None, check)
