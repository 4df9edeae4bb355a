"""SQLAlchemy engine creation: SQLite (embedded default) or PostgreSQL via ``DATABASE_URL``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import g, has_request_context
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    pass


def normalised_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the only PostgreSQL driver we install)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def make_engine(url: str) -> Engine:
    url = normalised_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def make_session_factory(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class ReadSessions:
    """Reads in autocommit on the engine's pool: no BEGIN / ROLLBACK round trips around the
    SELECTs (each statement sees committed data). Whatever writes, locks or needs one snapshot
    across statements keeps ``sessions.begin()``.

    Inside a Flask request every read of the request on one engine shares one connection, hence
    one pool checkout (and one ``pool_pre_ping``), whichever repository reads; it goes back to the
    pool when the request ends (:func:`close_request_reads`). Each ORM use gets a fresh session on
    that connection, so a read never returns an object loaded before a write of the request.
    """

    def __init__(self, sessions: sessionmaker[Any]) -> None:
        engine: Engine = sessions.kw["bind"]
        self._key = id(engine)
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """For Core statements (no ORM entities): the cheapest way to read."""
        if not has_request_context():
            with self._engine.connect() as alone:
                yield alone
            return
        opened: dict[int, Connection] = g.setdefault("_read_connections", {})
        shared = opened.get(self._key)
        if shared is None:
            shared = opened[self._key] = self._engine.connect()
        yield shared

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        with self.connection() as connection, Session(bind=connection) as session:
            yield session


def close_request_reads(_: BaseException | None = None) -> None:
    """Flask ``teardown_request``: give the request's read connections back to the pool."""
    for connection in g.pop("_read_connections", {}).values():
        connection.close()
