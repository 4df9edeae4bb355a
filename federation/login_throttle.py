"""Login throttling shared by ÉduConnect's and ATEN's password pages (DESIGN §6).

Failures are counted per (identifier, client address) and per client address in a 15-minute
fixed window, never per identifier alone: someone elsewhere cannot lock a parent out, and any
lock ends with its window. Pure Python: domain code uses it through the ``Counter`` protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from federation.errors import InvalidCredentials, TooManyAttempts

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_IDENTIFIER_AND_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 50

T = TypeVar("T")


class Counter(Protocol):
    """A fixed-window counter (``federation.stores.StoreCounter`` in the apps)."""

    def hit(self, key: str, window_seconds: int) -> int: ...

    def peek(self, key: str) -> int: ...

    def clear(self, key: str) -> None: ...


@dataclass
class LoginThrottle:
    failures: Counter
    prefix: str  # "login" for ÉduConnect, "aten-login" for ATEN: one Redis can serve both

    def attempt(self, identifier: str, client_address: str, check: Callable[[], T | None]) -> T:
        """Run ``check`` unless throttled; None from it is a failure that counts."""
        pair_key = f"{self.prefix}:{identifier}:{client_address}"
        address_key = f"{self.prefix}-address:{client_address}"
        pair_failures = self.failures.peek(pair_key)
        if (
            pair_failures >= MAX_FAILURES_PER_IDENTIFIER_AND_ADDRESS
            or self.failures.peek(address_key) >= MAX_FAILURES_PER_ADDRESS
        ):
            raise TooManyAttempts(identifier)
        result = check()
        if result is None:
            self.failures.hit(pair_key, WINDOW_SECONDS)
            self.failures.hit(address_key, WINDOW_SECONDS)
            raise InvalidCredentials(identifier)
        if pair_failures:
            self.failures.clear(pair_key)
        return result
