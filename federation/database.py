"""SQLAlchemy engine creation: SQLite (embedded default) or PostgreSQL via ``DATABASE_URL``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

# A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out.
IDLE_BEFORE_PING_SECONDS = 5.0
_LAST_USED = "educonnect_last_used"
# A connection attempt to a host that does not answer gives up after this (refused: at once).
CONNECT_TIMEOUT_SECONDS = 5
# Seconds a request waits for a pooled connection before the pool gives up (all busy).
POOL_TIMEOUT_SECONDS = 10

# SQLSTATEs of a PostgreSQL server that cannot serve now but will again, as opposed to a bug:
# classes 08 (connection exception), 53 (insufficient resources: too many connections, disk
# full, out of memory) and 58 (system error: I/O), and the operator interventions 57P01
# (« terminating connection due to administrator command »: fast shutdown), 57P02 (crash of
# another backend), 57P03 (« the database system is starting up », « … is shutting down », « …
# is in recovery mode ») and 57P04 (database dropped), and 25006 (a read-only transaction: a
# standby, or default_transaction_read_only set for maintenance).
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "58")
UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03", "57P04", "25006")
_NOT_PSYCOPG = "not psycopg"  # a driver error without psycopg's ``sqlstate`` attribute


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
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )
    ping_connections_back_from_idle(engine, IDLE_BEFORE_PING_SECONDS)
    return engine


def ping_connections_back_from_idle(engine: Engine, idle_seconds: float) -> None:
    """``pool_pre_ping``, but only for connections idle more than ``idle_seconds``.

    ``pool_pre_ping`` pings on every checkout: one more round trip per request (0.17 ms of
    worker CPU on the IdP's SSO, and as much work for PostgreSQL). A connection given back a
    moment ago was alive then; one that sat idle may have met a database restart or a
    firewall's idle timeout, and is pinged and replaced if dead. A connection that dies within
    the window fails its statement: SQLAlchemy then invalidates every connection of the pool
    (the next checkouts reconnect), as it does for a connection that dies after its ping.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def stamp(_: Any, record: ConnectionPoolEntry) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _: Any) -> None:
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) <= idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection dead after idling: {exc}") from exc  # pool retries


def make_session_factory(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)


class DatabaseReadOnly(Exception):
    """The database answers but refuses writes: not ready (no account could be created)."""


def ping(engine: Engine) -> None:
    """Readiness: the database answers, and on PostgreSQL it accepts writes (not a standby nor
    set read-only), since creating an account or signing in writes."""
    with engine.connect() as conn:
        if engine.dialect.name != "postgresql":
            conn.execute(text("SELECT 1"))
            return
        if conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on":
            raise DatabaseReadOnly("PostgreSQL is read-only (standby or default_transaction_read_only)")


def is_database_outage(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot serve for now (the parent may retry in a
    moment): a connection lost in use, refused, timed out, a server starting up, shutting down,
    out of connections or read-only, or every pooled connection busy. False for what is a bug
    to fix (a constraint, a syntax error, a missing table…)."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate: str | None = getattr(exc.orig, "sqlstate", _NOT_PSYCOPG)
    if sqlstate is _NOT_PSYCOPG:  # SQLite: only a lost connection counts
        return False
    if sqlstate is None:
        # No server answered (refused, timeout, unknown host) or the socket closed mid-statement.
        return isinstance(exc, OperationalError)
    return sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in UNAVAILABLE_SQLSTATES


ConnectionScope = Callable[[], MutableMapping[int, Connection] | None]
"""Where the reads of one unit of work keep the connection they share on each engine (by engine
id), or None outside any unit of work. The web layer gives one per request
(``federation.web.request_connections``) and closes them when the request ends; storage knows
nothing of the web."""


def no_connection_scope() -> None:
    """Each read checks out a connection of its own (command line, tests, background work)."""
    return None


class ReadSessions:
    """Reads in autocommit on the engine's pool: no BEGIN / ROLLBACK round trips around the
    SELECTs (each statement sees committed data). Whatever writes, locks or needs one snapshot
    across statements keeps ``sessions.begin()``.

    Within one unit of work of ``scope`` (a web request) every read on one engine shares one
    connection, hence one pool checkout, whichever repository reads; the scope's owner gives it
    back to the pool. Each ORM use gets a fresh session on that connection, so a read never
    returns an object loaded before a write of the same unit of work.
    """

    def __init__(self, sessions: sessionmaker[Any], scope: ConnectionScope = no_connection_scope) -> None:
        engine: Engine = sessions.kw["bind"]
        self._key = id(engine)
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._scope = scope

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """For Core statements (no ORM entities): the cheapest way to read."""
        opened = self._scope()
        if opened is None:
            with self._engine.connect() as alone:
                yield alone
            return
        shared = opened.get(self._key)
        if shared is None:
            shared = opened[self._key] = self._engine.connect()
        yield shared

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        with self.connection() as connection, Session(bind=connection) as session:
            yield session
