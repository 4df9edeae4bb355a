"""Ephemeral state (sessions, pending requests, consumed IDs): Redis or an embedded SQLite store.

Every key has a prefix constant and a TTL; one-time values use ``add`` (Redis ``SET NX``).
"""

from __future__ import annotations

from typing import Protocol

from federation.errors import ReplayedMessage

# Key prefixes: one constant per kind of ephemeral value.
SESSION_PREFIX = "session:"
REPLAY_PREFIX = "replay:"
PENDING_PREFIX = "pending:"
THROTTLE_PREFIX = "throttle:"


class KeyValueStore(Protocol):
    """What the services need from an ephemeral store; every write carries a TTL."""

    def get(self, key: str) -> bytes | None: ...

    def get_touch(self, key: str, ttl_seconds: int) -> bytes | None:
        """Read a value and restart its TTL in the same step (idle timeouts: Redis ``GETEX``)."""
        ...

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...

    def add(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        """Store only if absent; True when this call created the key (atomic)."""
        ...

    def pop(self, key: str) -> bytes | None:
        """Return and delete in one atomic step: at most one caller gets the value."""
        ...

    def incr(self, key: str, ttl_seconds: int, amount: int = 1) -> int:
        """Add ``amount`` to a counter and return it, atomically; the TTL starts with the first
        hit (fixed window)."""
        ...

    def seconds_left(self, key: str) -> int:
        """Seconds until ``key`` expires; 0 when it does not exist."""
        ...

    def delete(self, key: str) -> None: ...

    def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""
        ...


def consume_once(store: KeyValueStore, scope: str, message_id: str, ttl_seconds: int) -> None:
    """Accept a message or assertion ID once; a second use raises :class:`ReplayedMessage`."""
    if not store.add(f"{REPLAY_PREFIX}{scope}:{message_id}", b"1", ttl_seconds):
        raise ReplayedMessage(f"{scope}: {message_id} déjà consommé")


def open_store(redis_url: str | None, embedded_path: str, redis_key_prefix: str = "") -> KeyValueStore:
    if redis_url:
        from federation.stores.redis_store import RedisStore

        return RedisStore.from_url(redis_url, redis_key_prefix)
    from federation.stores.embedded_store import EmbeddedStore

    return EmbeddedStore(embedded_path)


class StoreCounter:
    """Fixed-window counters in the store (the login brake), under ``throttle:``."""

    def __init__(self, store: KeyValueStore) -> None:
        self._store = store

    def hit(self, key: str, window_seconds: int) -> int:
        return self._store.incr(THROTTLE_PREFIX + key, window_seconds)

    def release(self, key: str, window_seconds: int) -> None:
        self._store.incr(THROTTLE_PREFIX + key, window_seconds, amount=-1)

    def seconds_left(self, key: str) -> int:
        return self._store.seconds_left(THROTTLE_PREFIX + key)

    def clear(self, key: str) -> None:
        self._store.delete(THROTTLE_PREFIX + key)
