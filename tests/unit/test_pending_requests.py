"""federation.pending_requests: bounded, expiring, answered once, clock passed in."""

from __future__ import annotations

from typing import Any

from federation.pending_requests import PendingRequests

PENDING = PendingRequests(key="pending", max_count=3, ttl_seconds=600)
T0 = 1_800_000_000.0


def test_a_request_is_outstanding_until_its_ttl_ends() -> None:
    session: dict[str, Any] = {}
    PENDING.add(session, "_a", T0, {"state": "s"})
    assert PENDING.outstanding(session, T0 + 599) == {"_a": {"state": "s"}}
    assert PENDING.outstanding(session, T0 + 600) == {}


def test_consume_answers_a_request_once() -> None:
    session: dict[str, Any] = {}
    PENDING.add(session, "_a", T0)
    assert PENDING.consume(session, "_a", T0 + 1) == {}
    assert PENDING.consume(session, "_a", T0 + 2) is None
    assert PENDING.outstanding(session, T0 + 2) == {}


def test_an_expired_request_is_not_given_back_and_is_forgotten() -> None:
    session: dict[str, Any] = {}
    PENDING.add(session, "_a", T0, {"x": 1})
    assert PENDING.consume(session, "_a", T0 + 600) is None
    assert "_a" not in session["pending"]


def test_an_unknown_request_is_none() -> None:
    session: dict[str, Any] = {}
    PENDING.add(session, "_a", T0)
    assert PENDING.consume(session, "_b", T0) is None
    assert list(PENDING.outstanding(session, T0)) == ["_a"]


def test_only_the_newest_requests_are_kept() -> None:
    session: dict[str, Any] = {}
    for i in range(5):
        PENDING.add(session, f"_{i}", T0 + i)
    assert sorted(PENDING.outstanding(session, T0 + 10)) == ["_2", "_3", "_4"]


def test_clear_and_tampered_session_values() -> None:
    session: dict[str, Any] = {"pending": {"_bad": {"at": "soon"}, "_worse": "x"}}
    assert PENDING.outstanding(session, T0) == {}
    session = {"pending": ["not", "a", "mapping"]}
    assert PENDING.outstanding(session, T0) == {}
    PENDING.add(session, "_a", T0)
    PENDING.clear(session)
    assert session == {}


def test_the_data_given_back_is_a_copy() -> None:
    session: dict[str, Any] = {}
    PENDING.add(session, "_a", T0, {"state": "s"})
    PENDING.outstanding(session, T0)["_a"]["state"] = "changed"
    assert PENDING.outstanding(session, T0) == {"_a": {"state": "s"}}
