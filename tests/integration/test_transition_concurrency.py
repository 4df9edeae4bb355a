"""No duplicates, ever (issue 3 item 10), on the real PostgreSQL: parallel confirmations."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from federation.database import make_engine, make_session_factory
from federation.migrations import upgrade
from idp.domain.transition import TransitionService, UpstreamIdentity
from idp.storage.models import AccountRow, UpstreamLinkRow
from idp.storage.sql_accounts import SqlAccountRepository, new_account_id

PASSWORD = "Rentree-2026!"
NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def repository(postgres_schema_url):
    upgrade(postgres_schema_url)
    engine = make_engine(postgres_schema_url)
    yield SqlAccountRepository(make_session_factory(engine))
    engine.dispose()


def identity(given: str = "Jérôme", family: str = "Dupont") -> UpstreamIdentity:
    return UpstreamIdentity(
        issuer="https://aten.test/saml/metadata",
        subject=secrets.token_hex(16),
        given_name=given,
        family_name=family,
        vectors=("1|DUPONT|Jérôme|100007|0860787N",),
    )


def run_together(count: int, action):
    barrier = threading.Barrier(count)

    def task(index: int):
        barrier.wait(timeout=30)
        return action(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(task, range(count)))


def test_twenty_parallel_confirmations_create_exactly_one_account(repository):
    service = TransitionService(repository, new_account_id)
    parent = identity()
    proposed = service.proposed_identifier(parent)
    results = run_together(20, lambda _: service.create_account(parent, PASSWORD, PASSWORD, proposed, NOW))
    assert sum(r.was_created for r in results) == 1
    assert len({r.account.id for r in results}) == 1
    with repository._sessions() as db:
        links = db.scalar(
            select(func.count()).select_from(UpstreamLinkRow).where(UpstreamLinkRow.subject == parent.subject)
        )
    assert links == 1


def test_parallel_creations_of_one_base_get_distinct_identifiers(repository):
    service = TransitionService(repository, new_account_id)
    parents = [identity("Julie", "Dupré") for _ in range(10)]
    proposals = [service.proposed_identifier(p) for p in parents]
    assert len(set(proposals)) == 1  # all proposed j.dupre<N> at once: the race is real
    results = run_together(
        10, lambda i: service.create_account(parents[i], PASSWORD, PASSWORD, proposals[i], NOW)
    )
    identifiers = [r.account.identifier for r in results]
    assert all(r.was_created for r in results)
    assert len(set(identifiers)) == 10
    assert sorted(int(i.removeprefix("j.dupre")) for i in identifiers) == list(range(1, 11))
    with repository._sessions() as db:
        count = db.scalar(
            select(func.count()).select_from(AccountRow).where(AccountRow.family_name == "Dupré")
        )
    assert count == 10
