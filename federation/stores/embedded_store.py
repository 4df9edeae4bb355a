"""Embedded store for the demo: one SQLite file, correct when several processes share it.

SQLite's file locking serialises writers across processes; ``BEGIN IMMEDIATE`` takes the write
lock before reading, so ``add`` and ``pop`` are atomic test-and-set operations. Expired rows are
ignored on read and purged now and then.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from federation.errors import StoreUnavailable

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL NOT NULL)"
)


class EmbeddedStore:
    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self._path = str(path)
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._local = threading.local()
        with self._transaction() as db:
            db.execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"embedded store: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def get(self, key: str) -> bytes | None:
        try:
            row = (
                self._connection()
                .execute("SELECT value FROM kv WHERE key = ? AND expires_at > ?", (key, self._clock()))
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"embedded store: {exc}") from exc
        return bytes(row[0]) if row else None

    def get_touch(self, key: str, ttl_seconds: int) -> bytes | None:
        with self._transaction() as db:
            now = self._clock()
            row = db.execute(
                "UPDATE kv SET expires_at = ? WHERE key = ? AND expires_at > ? RETURNING value",
                (now + ttl_seconds, key, now),
            ).fetchone()
        return bytes(row[0]) if row else None

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO kv (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, self._clock() + ttl_seconds),
            )
            self._maybe_purge(db)

    def add(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        now = self._clock()
        with self._transaction() as db:
            db.execute("DELETE FROM kv WHERE key = ? AND expires_at <= ?", (key, now))
            cursor = db.execute(
                "INSERT OR IGNORE INTO kv (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, now + ttl_seconds),
            )
            return cursor.rowcount == 1

    def pop(self, key: str) -> bytes | None:
        with self._transaction() as db:
            row = db.execute(
                "SELECT value FROM kv WHERE key = ? AND expires_at > ?", (key, self._clock())
            ).fetchone()
            db.execute("DELETE FROM kv WHERE key = ?", (key,))
        return bytes(row[0]) if row else None

    def incr(self, key: str, ttl_seconds: int, amount: int = 1) -> int:
        now = self._clock()
        with self._transaction() as db:
            row = db.execute("SELECT value FROM kv WHERE key = ? AND expires_at > ?", (key, now)).fetchone()
            if row is None:
                count = amount
                db.execute(
                    "INSERT OR REPLACE INTO kv (key, value, expires_at) VALUES (?, ?, ?)",
                    (key, str(count).encode(), now + ttl_seconds),
                )
            else:
                count = int(row[0]) + amount
                db.execute("UPDATE kv SET value = ? WHERE key = ?", (str(count).encode(), key))
        return count

    def seconds_left(self, key: str) -> int:
        try:
            row = (
                self._connection()
                .execute("SELECT expires_at FROM kv WHERE key = ? AND expires_at > ?", (key, self._clock()))
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"embedded store: {exc}") from exc
        return max(math.ceil(row[0] - self._clock()), 0) if row else 0

    def delete(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM kv WHERE key = ?", (key,))

    def ping(self) -> None:
        self.get("ping")

    def _maybe_purge(self, db: sqlite3.Connection) -> None:
        if secrets.randbelow(100) == 0:  # purge about once every hundred writes
            db.execute("DELETE FROM kv WHERE expires_at <= ?", (self._clock(),))
