"""federation.database.ping_connections_back_from_idle on PostgreSQL: a pooled connection is
pinged only after idling, a dead idle one is replaced before use, and one that dies within the
window fails its statement once, after which the whole pool reconnects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from federation import database
from federation.database import make_engine, normalised_url, ping_connections_back_from_idle
from federation.web import create_base_app
from tests.conftest import Deployment


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    dialect_class = type(create_engine("postgresql+psycopg://").dialect)
    original = dialect_class.do_ping

    def counted(self: Any, dbapi_connection: Any) -> bool:
        seen.append(1)
        return original(self, dbapi_connection)

    monkeypatch.setattr(dialect_class, "do_ping", counted)
    return seen


def _engine(url: str, idle_seconds: float) -> Engine:
    engine = create_engine(normalised_url(url), pool_size=1, max_overflow=0)
    ping_connections_back_from_idle(engine, idle_seconds)
    return engine


@pytest.fixture
def admin(postgres_schema_url: str) -> Iterator[Engine]:
    engine = create_engine(normalised_url(postgres_schema_url), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(admin: Engine, pid: int) -> None:
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    time.sleep(0.2)  # the backend exits asynchronously


def test_no_ping_for_a_connection_back_within_the_window(postgres_schema_url: str, pings: list[int]) -> None:
    engine = _engine(postgres_schema_url, idle_seconds=60)
    try:
        first = _backend_pid(engine)
        assert [_backend_pid(engine) for _ in range(3)] == [first] * 3
        assert pings == []
    finally:
        engine.dispose()


def test_an_idle_connection_is_pinged_and_replaced_when_dead(
    postgres_schema_url: str, admin: Engine, pings: list[int]
) -> None:
    engine = _engine(postgres_schema_url, idle_seconds=0.05)
    try:
        dead = _backend_pid(engine)
        _terminate(admin, dead)
        assert _backend_pid(engine) != dead  # no error reached the caller
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_a_connection_dead_within_the_window_fails_once_then_the_pool_reconnects(
    postgres_schema_url: str, admin: Engine
) -> None:
    engine = _engine(postgres_schema_url, idle_seconds=60)
    try:
        dead = _backend_pid(engine)
        _terminate(admin, dead)
        with pytest.raises(DBAPIError) as failure, engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert failure.value.connection_invalidated
        assert _backend_pid(engine) != dead
    finally:
        engine.dispose()


def test_make_engine_pings_idle_postgresql_connections(
    postgres_schema_url: str, admin: Engine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(postgres_schema_url)
    try:
        dead = _backend_pid(engine)
        assert _backend_pid(engine) == dead and pings == []  # back within the window: no ping
        _terminate(admin, dead)
        later = time.monotonic() + database.IDLE_BEFORE_PING_SECONDS + 1
        monkeypatch.setattr(database, "time", SimpleNamespace(monotonic=lambda: later))
        assert _backend_pid(engine) != dead
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_a_page_whose_connection_died_says_retry_and_the_next_one_works(
    deployment: Deployment, postgres_schema_url: str, admin: Engine
) -> None:
    """The in-window failure as a parent sees it: the « service indisponible » page (503, in
    French, no trace), then the same page works again."""
    app = create_base_app("pool-test", deployment.settings("idp", postgres_schema_url, None), "ÉduConnect")
    engine = make_engine(postgres_schema_url)
    app.add_url_rule("/lecture", "lecture", lambda: str(_backend_pid(engine)))
    client = app.test_client()
    try:
        dead = int(client.get("/lecture").text)
        _terminate(admin, dead)
        failed = client.get("/lecture")
        assert failed.status_code == 503
        assert "Service momentanément indisponible" in failed.text
        assert "Traceback" not in failed.text and "psycopg" not in failed.text
        again = client.get("/lecture")
        assert again.status_code == 200 and int(again.text) != dead
    finally:
        engine.dispose()
