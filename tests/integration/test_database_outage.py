"""Every PostgreSQL outage is the French 503 « Service momentanément indisponible », never the
generic « Une erreur est survenue » page nor an « unexpected error » log line: a private cluster
(tests/postgres_server.py) stopped, killed, shutting down, starting up, read-only, then back; the
same apps recover without a restart and no account is ever half created."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.browser import Browser
from tests.conftest import Deployment, Stack
from tests.fault_stack import assert_unavailable, fault_stack, password_form, readiness
from tests.flows.saml_steps import PASSWORD, add_parent, start_login
from tests.flows.transition_steps import NEW_PASSWORD, linked_accounts
from tests.postgres_server import PostgresCluster, postgres_cluster

READY = (200, {"store": "ok", "database": "ok"})
NOT_READY = (503, {"store": "ok", "database": "indisponible"})


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def pg_stack(deployment: Deployment, cluster: PostgresCluster) -> Stack:
    return fault_stack(deployment, cluster.url)


@pytest.fixture(autouse=True)
def no_application_error(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """What monitoring counts as a bug: not one « unexpected error » line during an outage."""
    caplog.set_level(logging.INFO, logger="educonnect")
    yield
    lines = [r.getMessage() for r in caplog.get_records("call")]
    assert not [line for line in lines if line.startswith("unexpected error")]
    assert any("service_indisponible database unavailable" in line for line in lines)


@pytest.fixture(autouse=True)
def back_to_ready(cluster: PostgresCluster, pg_stack: Stack) -> None:
    """Each test starts from a running server the app has found again by itself (its readiness
    probe meets at most the one dead pooled connection a previous test's outage left)."""
    if cluster.connect_error() is not None:  # a failed test before this one left it down
        if cluster.process is not None and cluster.process.poll() is None:
            cluster.stop()
        cluster.start()
    for _ in range(3):
        if readiness(pg_stack) == READY:
            return
    raise AssertionError(f"not ready again: {readiness(pg_stack)}")


def _login_form(stack: Stack) -> tuple[Browser, Any, str]:
    parent = add_parent(stack.idp)
    browser = Browser(stack.apps())
    return browser, start_login(browser), parent.identifier


def _signs_in(browser: Browser, login_page: Any, identifier: str) -> None:
    page = browser.follow(browser.submit(login_page, identifiant=identifier, mot_de_passe=PASSWORD))
    assert page.request.path == "/saml/reponse", page.get_data(as_text=True)[:500]


def test_stopped_then_refused_then_started_again_without_restarting_the_app(
    pg_stack: Stack, cluster: PostgresCluster
) -> None:
    browser, login_page, identifier = _login_form(pg_stack)
    cluster.stop()  # fast: the pooled connection was told « terminating connection … »
    assert "Connection refused" in (cluster.connect_error() or "")
    for _ in range(2):  # the pooled connection lost in use, then a refused new one
        assert_unavailable(browser.submit(login_page, identifiant=identifier, mot_de_passe=PASSWORD))
    assert readiness(pg_stack) == NOT_READY
    cluster.start()
    assert readiness(pg_stack) == READY
    _signs_in(browser, login_page, identifier)  # the same form, submitted again, goes through


def test_a_killed_server_then_crash_recovery(pg_stack: Stack, cluster: PostgresCluster) -> None:
    browser, login_page, identifier = _login_form(pg_stack)
    cluster.kill()  # SIGKILL to the postmaster: every backend goes, nothing is said to clients
    assert_unavailable(browser.submit(login_page, identifiant=identifier, mot_de_passe=PASSWORD))
    assert readiness(pg_stack) == NOT_READY
    cluster.start()
    assert readiness(pg_stack) == READY
    _signs_in(browser, login_page, identifier)


def test_shutting_down_refuses_new_connections(deployment: Deployment, cluster: PostgresCluster) -> None:
    fresh = fault_stack(deployment, cluster.url)
    browser, login_page, identifier = _login_form(fresh)
    # A smart shutdown lets open sessions finish their work (the pooled connection would still
    # serve, rightly): an empty pool makes the next request open a new connection.
    fresh.idp.extensions["idp"].accounts._sessions.kw["bind"].dispose()
    cluster.begin_smart_stop()  # it waits for the other open sessions; new ones are refused
    cluster.wait_for("the database system is shutting down")
    assert_unavailable(browser.submit(login_page, identifiant=identifier, mot_de_passe=PASSWORD))
    assert readiness(fresh) == NOT_READY
    cluster.stop()  # fast, to end the smart shutdown the open sessions hold up
    cluster.start()
    _signs_in(browser, login_page, identifier)
    assert readiness(fresh) == READY


def test_starting_up_then_read_only_then_promoted_creates_one_account(
    pg_stack: Stack, cluster: PostgresCluster
) -> None:
    """A standby coming up (« the database system is starting up »), then read-only (hot
    standby: « cannot execute INSERT in a read-only transaction »), then promoted: the parent's
    « Confirmer » is a 503 each time, creates nothing, and goes through once promoted."""
    browser, form_page = password_form(pg_stack)
    cluster.stop()
    release = cluster.start_as_standby_held_in_startup()
    cluster.wait_for("the database system is starting up")
    confirm = {"mot_de_passe": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
    assert_unavailable(browser.submit(form_page, **confirm))
    assert readiness(pg_stack) == NOT_READY

    release.touch()
    cluster.wait_accepting()
    assert cluster.sql("SHOW transaction_read_only") == [("on",)]
    assert_unavailable(browser.submit(form_page, **confirm))
    assert readiness(pg_stack) == NOT_READY  # it answers, but could create no account
    assert linked_accounts(pg_stack, "Durand") == []

    cluster.promote()
    assert readiness(pg_stack) == READY
    created = browser.follow(browser.submit(form_page, **confirm))
    assert "Votre compte est créé." in created.get_data(as_text=True)
    assert len(linked_accounts(pg_stack, "Durand")) == 1


def test_killed_in_the_middle_of_the_account_transaction_leaves_no_half_account(
    pg_stack: Stack, cluster: PostgresCluster
) -> None:
    """The account row is written, its ATEN link waits on a lock the test holds, the server is
    killed: neither stays, and the parent's « Confirmer » again creates exactly one account."""
    browser, form_page = password_form(pg_stack, "hbernard")
    confirm = {"mot_de_passe": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
    holder = psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres")
    holder.execute("LOCK TABLE upstream_links IN SHARE MODE")  # reads pass, inserts wait
    answers: list[Any] = []
    confirming = threading.Thread(target=lambda: answers.append(browser.submit(form_page, **confirm)))
    confirming.start()
    try:
        waiting = _wait_for_lock_wait(cluster)
        held = cluster.sql(
            "SELECT relation::regclass::text FROM pg_locks "
            "WHERE pid = %s AND mode = 'RowExclusiveLock' AND granted",
            (waiting,),
        )
        assert ("accounts",) in held  # the account row is in the open transaction
        cluster.kill()
        confirming.join(timeout=60)
    finally:
        holder.close()
    assert_unavailable(answers[0])
    cluster.start()
    assert linked_accounts(pg_stack, "Bernard") == []
    assert cluster.sql("SELECT count(*) FROM accounts WHERE family_name = 'Bernard'") == [(0,)]
    created = browser.follow(browser.submit(form_page, **confirm))
    assert "Votre compte est créé." in created.get_data(as_text=True)
    assert len(linked_accounts(pg_stack, "Bernard")) == 1


def _wait_for_lock_wait(cluster: PostgresCluster, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = cluster.sql(
            "SELECT pid FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO upstream_links%%'",
            (),
        )
        if rows:
            return int(rows[0][0])  # type: ignore[call-overload]
        time.sleep(0.05)
    raise AssertionError("the account transaction never reached its link insert")
