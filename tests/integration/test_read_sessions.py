"""federation.database.ReadSessions: the reads of one request share one pooled connection, in
autocommit, and never return a row older than a write of the same request (PostgreSQL). The web
layer hands storage that scope (``federation.web.request_connections``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool

from federation.database import make_engine, make_session_factory
from federation.migrations import upgrade
from federation.web import close_request_connections, request_connections
from idp.domain.accounts import Account
from idp.storage.models import AccountRow
from idp.storage.sql_accounts import SqlAccountRepository
from idp.storage.sql_registry import SqlRegistryRepository


@pytest.fixture(scope="module")
def engine(postgres_schema_url: str) -> Iterator[Engine]:
    upgrade(postgres_schema_url)
    engine = make_engine(postgres_schema_url)
    yield engine
    engine.dispose()


@pytest.fixture
def checkouts(engine: Engine) -> Iterator[list[int]]:
    seen: list[int] = []

    def count(*_: object) -> None:
        seen.append(1)

    event.listen(engine, "checkout", count)
    yield seen
    event.remove(engine, "checkout", count)


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.teardown_request(close_request_connections)
    return app


def checked_out(engine: Engine) -> int:
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


def _account(accounts: SqlAccountRepository) -> Account:
    account = Account(
        id=secrets.token_hex(16),
        identifier=f"r.reads{secrets.token_hex(4)}",
        password_hash="$argon2id$v=19$m=19456,t=2,p=1$old",
        given_name="Rose",
        family_name="Reads",
    )
    accounts.add(account)
    return account


def test_reads_of_one_request_share_one_checkout(app: Flask, engine: Engine, checkouts: list[int]) -> None:
    sessions = make_session_factory(engine)
    accounts = SqlAccountRepository(sessions, request_connections)
    registry = SqlRegistryRepository(sessions, request_connections)
    account = _account(accounts)
    checkouts.clear()
    with app.test_request_context("/"):
        assert accounts.by_id(account.id) == accounts.by_identifier(account.identifier)
        assert registry.links_of(account.id) == [] and registry.upstream_links(account.id) == []
        assert len(checkouts) == 1
        assert checked_out(engine) == 1
    assert checked_out(engine) == 0  # given back when the request ended


def test_a_read_after_a_write_of_the_same_request_sees_the_write(app: Flask, engine: Engine) -> None:
    accounts = SqlAccountRepository(make_session_factory(engine), request_connections)
    account = _account(accounts)
    with app.test_request_context("/"):
        with accounts._reads() as db:  # a row loaded earlier in the request and still referenced
            held = db.get(AccountRow, account.id)
        accounts.replace_password_hash(account.id, "$argon2id$v=19$m=19456,t=2,p=1$new")
        after = accounts.by_identifier(account.identifier)
    assert held is not None and held.password_hash.endswith("$old")
    assert after is not None and after.password_hash.endswith("$new")


def test_outside_a_request_each_read_checks_out_and_gives_back(engine: Engine, checkouts: list[int]) -> None:
    accounts = SqlAccountRepository(make_session_factory(engine), request_connections)
    account = _account(accounts)
    checkouts.clear()
    accounts.by_id(account.id)
    accounts.by_id(account.id)
    assert len(checkouts) == 2 and checked_out(engine) == 0


def test_without_a_scope_each_read_checks_out_even_in_a_request(
    app: Flask, engine: Engine, checkouts: list[int]
) -> None:
    accounts = SqlAccountRepository(make_session_factory(engine))  # storage alone: no web scope
    account = _account(accounts)
    checkouts.clear()
    with app.test_request_context("/"):
        accounts.by_id(account.id)
        accounts.by_id(account.id)
        assert checked_out(engine) == 0
    assert len(checkouts) == 2
