"""The two ephemeral stores honour one contract, the embedded one across processes too."""

from __future__ import annotations

import multiprocessing
import secrets
import time

import pytest

from federation.errors import ReplayedMessage, StoreUnavailable
from federation.stores import consume_once
from federation.stores.embedded_store import EmbeddedStore
from federation.stores.redis_store import RedisStore
from tests.conftest import REDIS_URL


@pytest.fixture(params=["embedded", "redis"])
def store(request, tmp_path):
    if request.param == "embedded":
        return EmbeddedStore(tmp_path / "store.sqlite3")
    return RedisStore.from_url(REDIS_URL)


def key() -> str:
    return f"test:{secrets.token_hex(8)}"


def test_set_get_delete(store):
    k = key()
    assert store.get(k) is None
    store.set(k, b"valeur", 60)
    assert store.get(k) == b"valeur"
    store.delete(k)
    assert store.get(k) is None


def test_add_only_once(store):
    k = key()
    assert store.add(k, b"1", 60) is True
    assert store.add(k, b"2", 60) is False
    assert store.get(k) == b"1"


def test_pop_gives_the_value_to_one_caller(store):
    k = key()
    store.set(k, b"code", 60)
    assert store.pop(k) == b"code"
    assert store.pop(k) is None


def test_incr_counts_in_a_window(store):
    k = key()
    assert [store.incr(k, 60) for _ in range(3)] == [1, 2, 3]


def test_values_expire(store):
    k = key()
    store.set(k, b"x", 1)
    assert store.add(f"{k}:nx", b"x", 1)
    time.sleep(1.2)
    assert store.get(k) is None
    assert store.add(f"{k}:nx", b"y", 60) is True  # an expired one-time key can be taken again


def test_get_touch_restarts_the_ttl_of_a_live_value_only(store):
    """Sessions are an idle timeout: reading one keeps it alive, an expired one stays gone."""
    k = key()
    store.set(k, b"session", 1)
    time.sleep(0.6)
    assert store.get_touch(k, 2) == b"session"
    time.sleep(0.7)  # past the first TTL, within the restarted one
    assert store.get(k) == b"session"
    assert store.get_touch(f"{k}:absent", 60) is None
    store.set(f"{k}:short", b"x", 1)
    time.sleep(1.2)
    assert store.get_touch(f"{k}:short", 60) is None
    assert store.get(f"{k}:short") is None


def test_consume_once_refuses_a_replay(store):
    message_id = secrets.token_hex(8)
    consume_once(store, "test", message_id, 60)
    with pytest.raises(ReplayedMessage):
        consume_once(store, "test", message_id, 60)


def _race_add(path: str, k: str, results) -> None:
    results.put(EmbeddedStore(path).add(k, b"1", 60))


def test_embedded_add_is_atomic_across_processes(tmp_path):
    path = str(tmp_path / "shared.sqlite3")
    EmbeddedStore(path)
    k = key()
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_race_add, args=(path, k, results)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    outcomes = [results.get(timeout=5) for _ in procs]
    assert outcomes.count(True) == 1 and outcomes.count(False) == 7


def test_unreachable_redis_fails_closed():
    store = RedisStore.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(StoreUnavailable):
        store.add(key(), b"1", 60)
    with pytest.raises(StoreUnavailable):
        store.ping()


def test_redis_key_prefixes_keep_deployments_apart():
    first = RedisStore.from_url(REDIS_URL, prefix=f"a-{secrets.token_hex(4)}:")
    second = RedisStore.from_url(REDIS_URL, prefix=f"b-{secrets.token_hex(4)}:")
    k = key()
    assert first.add(k, b"1", 60) is True
    assert second.get(k) is None
    assert second.add(k, b"2", 60) is True
    assert first.get(k) == b"1"
