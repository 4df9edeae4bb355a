"""``AuthnRequestsOnce``: one browser per AuthnRequest ID, one answer, kept for the validity window."""

from __future__ import annotations

import datetime as dt

import pytest

from federation.authn_requests_once import AuthnRequestsOnce
from federation.errors import RequestAlreadyUsed
from federation.saml_idp import MAX_REQUEST_AGE, AuthenticationRequest, PostForm
from federation.stores.embedded_store import EmbeddedStore
from tests.settable_clock import SettableClock

START = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)
WINDOW = 600  # seconds left in the request's validity window at START


def request(request_id: str = "id-1", sp: str = "https://ent.test/saml/metadata") -> AuthenticationRequest:
    return AuthenticationRequest(
        request_id, sp, "https://ent.test/saml/acs", None, valid_until=int(START.timestamp()) + WINDOW
    )


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START.timestamp())


@pytest.fixture
def once(tmp_path, clock) -> AuthnRequestsOnce:
    return AuthnRequestsOnce(EmbeddedStore(tmp_path / "store.sqlite3", clock=clock), "https://idp.test")


def at(clock: SettableClock) -> dt.datetime:
    return dt.datetime.fromtimestamp(clock.now, dt.UTC)


def test_the_first_browser_presents_again_another_is_refused(once, clock):
    once.present(request(), "navigateur-a", at(clock))
    once.present(request(), "navigateur-a", at(clock))
    with pytest.raises(RequestAlreadyUsed):
        once.present(request(), "navigateur-b", at(clock))


def test_ids_are_told_apart_by_sp_and_by_idp(once, clock, tmp_path):
    once.present(request(), "navigateur-a", at(clock))
    once.present(request(sp="https://autre-ent.test/saml/metadata"), "navigateur-b", at(clock))
    once.present(request("id-2"), "navigateur-b", at(clock))


def test_the_binding_lasts_until_the_validity_window_ends(once, clock):
    once.present(request(), "navigateur-a", at(clock))
    clock.advance(WINDOW - 1)
    with pytest.raises(RequestAlreadyUsed):
        once.present(request(), "navigateur-b", at(clock))
    clock.advance(2)  # past the window: its IssueInstant is refused before it gets here
    once.present(request(), "navigateur-b", at(clock))


def response(text: str = "reponse-1") -> PostForm:
    return PostForm(action="https://ent.test/saml/acs", fields={"SAMLResponse": text})


def test_an_answered_request_is_answered_never_again(once, clock):
    once.present(request(), "navigateur-a", at(clock))
    assert once.answer(request(), "navigateur-a", at(clock), response) == response()
    with pytest.raises(RequestAlreadyUsed):
        once.answer(request(), "navigateur-b", at(clock), lambda: response("reponse-2"))
    with pytest.raises(RequestAlreadyUsed):
        once.present(request(), "navigateur-a", at(clock))  # Back to the answered request


def test_the_same_browser_racing_on_the_answer_gets_the_same_response(once, clock):
    """A double click: the second request of the browser finds the Response the first issued."""
    once.answer(request(), "navigateur-a", at(clock), response)
    built: list[str] = []

    def build_again() -> PostForm:
        built.append("reponse-2")
        return response("reponse-2")

    assert once.answer(request(), "navigateur-a", at(clock), build_again) == response()
    assert built == []  # no second Response is even built


def test_a_request_answered_late_keeps_its_response_for_a_whole_window(once, clock):
    clock.advance(WINDOW + 60)  # the parent took long: the window has ended
    once.answer(request(), "navigateur-a", at(clock), response)
    clock.advance(MAX_REQUEST_AGE.total_seconds() - 1)
    with pytest.raises(RequestAlreadyUsed):
        once.answer(request(), "navigateur-b", at(clock), response)
