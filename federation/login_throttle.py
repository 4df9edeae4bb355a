"""The login brake shared by ÉduConnect's and ATEN's password pages (DESIGN §6).

Three budgets of attempts, each a fixed window counted in the store:

- **per identifier, from browsers it does not know**, every client address together: past
  ``account_attempts`` in a window no password of that identifier is checked from an unknown
  browser until the window ends. Unknown identifiers are counted exactly the same way, so the
  answers never tell whether one exists.
- **per known browser**: a browser where the account signed in before carries a device cookie
  (OWASP « device cookie » pattern, ``federation.device_cookie``) and spends its own budget,
  ``device_attempts``, which nobody else can spend: an attacker cannot lock the parent out of
  their own browser. When that budget is spent the browser is one more unknown browser.
- **per client address**, unknown browsers only: ``address_attempts`` stops one address spraying
  many identifiers.

Every budget is spent *before* the password is checked (the counter's atomic increment decides):
N attempts at once never check more than the budget. A success resets the budget that admitted it
(the account's, or the device's) and gives its address back its one attempt; a known browser's
success leaves the account's budget as it is, so the owner signing in does not reopen it for an
attacker. Pure Python: the domain uses it through the ``Counter`` protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from federation.errors import InvalidCredentials, TooManyAttempts

# Key kinds under the service's prefix ("login", "aten-login"); the store adds its own prefix.
ACCOUNT_KEY = "account"
DEVICE_KEY = "device"
ADDRESS_KEY = "address"

T = TypeVar("T")


@dataclass(frozen=True)
class BrakeLimits:
    """How many attempts each budget admits per window (settings ``login_*``)."""

    account_attempts: int = 10
    device_attempts: int = 10
    address_attempts: int = 100
    window_seconds: int = 3600


class Counter(Protocol):
    """Fixed-window counters (``federation.stores.StoreCounter`` in the apps)."""

    def hit(self, key: str, window_seconds: int) -> int:
        """Add one and return the new count, atomically; the window starts with the first hit."""
        ...

    def release(self, key: str, window_seconds: int) -> None:
        """Take one back (an attempt that succeeded)."""
        ...

    def seconds_left(self, key: str) -> int:
        """Seconds until the window of ``key`` ends (0 when there is none)."""
        ...

    def clear(self, key: str) -> None: ...


@dataclass(frozen=True)
class _Admission:
    """What an admitted attempt spent: given back or reset when it succeeds."""

    reset: str  # the account's or the device's counter
    released: str | None = None  # the address's counter (unknown browsers only)


@dataclass(frozen=True)
class LoginBrake:
    failures: Counter
    prefix: str  # "login" for ÉduConnect, "aten-login" for ATEN: one Redis can serve both
    limits: BrakeLimits = BrakeLimits()

    def attempt(
        self, identifier: str, client_address: str, device: str | None, check: Callable[[], T | None]
    ) -> T:
        """Run ``check`` if a budget admits the attempt; None from it is a failure.

        ``device`` is the device id the browser's cookie holds *for this identifier* (None: an
        unknown browser). Raises :class:`TooManyAttempts` (nothing checked) or
        :class:`InvalidCredentials`.
        """
        admission = self._admit(identifier, client_address, device)
        result = check()
        if result is None:
            raise InvalidCredentials(identifier)
        self.failures.clear(admission.reset)
        if admission.released:
            self.failures.release(admission.released, self.limits.window_seconds)
        return result

    def _admit(self, identifier: str, client_address: str, device: str | None) -> _Admission:
        window = self.limits.window_seconds
        if device is not None:
            device_key = self._key(DEVICE_KEY, f"{identifier}:{device}")
            if self.failures.hit(device_key, window) <= self.limits.device_attempts:
                return _Admission(reset=device_key)
        account_key = self._key(ACCOUNT_KEY, identifier)
        address_key = self._key(ADDRESS_KEY, client_address)
        spent = {
            account_key: self.failures.hit(account_key, window) > self.limits.account_attempts,
            address_key: self.failures.hit(address_key, window) > self.limits.address_attempts,
        }
        over = [key for key, is_over in spent.items() if is_over]
        if over:
            wait = max(self.failures.seconds_left(key) for key in over)
            raise TooManyAttempts(identifier, retry_after_seconds=wait or window)
        return _Admission(reset=account_key, released=address_key)

    def reset_account(self, identifier: str) -> None:
        """Reopen the identifier's budget of unknown browsers (a new password was chosen)."""
        self.failures.clear(self._key(ACCOUNT_KEY, identifier))

    def _key(self, kind: str, value: str) -> str:
        return f"{self.prefix}-{kind}:{value}"
