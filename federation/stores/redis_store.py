"""Redis-backed store: ``SET NX EX`` for one-time values, ``GETDEL`` for atomic pops."""

from __future__ import annotations

import redis
from redis.sentinel import Sentinel

from federation.errors import StoreUnavailable
from federation.settings import RedisSentinelSettings

# A Redis (or sentinel) that does not answer within this is down for this request: 503.
TIMEOUT_SECONDS = 2


class RedisStore:
    """``prefix`` namespaces every key: several deployments (or test runs) can share one Redis."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "") -> RedisStore:
        return cls(
            redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS),
            prefix,
        )

    @classmethod
    def from_sentinel(cls, settings: RedisSentinelSettings, prefix: str = "") -> RedisStore:
        """The master of ``settings.service`` as the sentinels name it now: redis-py asks them
        again on each new connection, and drops a connection to a master demoted to replica
        (``READONLY``), so the requests after a failover go to the promoted replica."""
        timeouts = {"socket_timeout": TIMEOUT_SECONDS, "socket_connect_timeout": TIMEOUT_SECONDS}
        sentinel_auth = {"password": settings.sentinel_password} if settings.sentinel_password else {}
        sentinel = Sentinel(
            list(settings.sentinels), sentinel_kwargs={**timeouts, **sentinel_auth}, **timeouts
        )
        client = sentinel.master_for(settings.service, db=settings.db, password=settings.password, **timeouts)
        return cls(client, prefix)

    def get(self, key: str) -> bytes | None:
        with _fail_closed():
            return self._client.get(self._prefix + key)

    def get_touch(self, key: str, ttl_seconds: int) -> bytes | None:
        with _fail_closed():
            return self._client.getex(self._prefix + key, ex=ttl_seconds)

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with _fail_closed():
            self._client.set(self._prefix + key, value, ex=ttl_seconds)

    def add(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        with _fail_closed():
            return bool(self._client.set(self._prefix + key, value, ex=ttl_seconds, nx=True))

    def pop(self, key: str) -> bytes | None:
        with _fail_closed():
            return self._client.getdel(self._prefix + key)

    def incr(self, key: str, ttl_seconds: int, amount: int = 1) -> int:
        # One MULTI/EXEC: the count and its TTL are set together, never a counter without a TTL.
        with _fail_closed():
            pipe = self._client.pipeline(transaction=True)
            pipe.incrby(self._prefix + key, amount)
            pipe.expire(self._prefix + key, ttl_seconds, nx=True)
            count, _ = pipe.execute()
            return int(count)

    def seconds_left(self, key: str) -> int:
        with _fail_closed():
            return max(int(self._client.ttl(self._prefix + key)), 0)  # -2 absent, -1 no TTL

    def delete(self, key: str) -> None:
        with _fail_closed():
            self._client.delete(self._prefix + key)

    def ping(self) -> None:
        with _fail_closed():
            self._client.ping()


class _fail_closed:
    """Turn any Redis failure into StoreUnavailable: callers refuse, never bypass."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is not None and isinstance(exc, redis.RedisError):
            raise StoreUnavailable(f"redis: {exc}") from exc
