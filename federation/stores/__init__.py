"""Ephemeral state (sessions, pending requests, consumed IDs): Redis or an embedded SQLite store.

Every key has a prefix constant and a TTL; one-time values use ``add`` (Redis ``SET NX``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from federation.errors import ReplayedMessage

if TYPE_CHECKING:
    from federation.settings import RedisSentinelSettings

# Key prefixes: one constant per kind of ephemeral value.
SESSION_PREFIX = "session:"
REPLAY_PREFIX = "replay:"
PENDING_PREFIX = "pending:"
THROTTLE_PREFIX = "throttle:"
PRESENTED_PREFIX = "presented:"
ANSWER_PREFIX = "answer:"  # the one Response issued to a request (federation.authn_requests_once)


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


def claim_for(store: KeyValueStore, scope: str, value: str, owner: str, ttl_seconds: int) -> bool:
    """Bind a one-time value to the first owner that presents it (``SET NX``, under ``presented:``).

    True for that owner, now and each time it presents the value again while the binding lives;
    False for any other owner (and when the binding vanished between the two steps: fail closed).
    """
    key = f"{PRESENTED_PREFIX}{scope}:{value}"
    if store.add(key, owner.encode(), ttl_seconds):
        return True
    return store.get(key) == owner.encode()


def open_store(
    redis_url: str | None,
    embedded_path: str,
    redis_key_prefix: str = "",
    sentinel: RedisSentinelSettings | None = None,
) -> KeyValueStore:
    if sentinel is not None:
        from federation.stores.redis_store import RedisStore

        return RedisStore.from_sentinel(sentinel, redis_key_prefix)
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
