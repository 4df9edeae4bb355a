"""A clock the test moves by hand, for the services that take their time as a callable."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class SettableClock:
    """Seconds since the epoch; starts at the real time (the peers' messages carry real times)."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def reset(self) -> None:
        self.now = time.time()

    def advance(self, seconds: float) -> None:
        self.now += seconds
