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


class CountingStore(EmbeddedStore):
    gets: int = 0

    def get(self, key: str) -> bytes | None:
        self.gets += 1
        return super().get(key)


@pytest.fixture
def counting(tmp_path, clock) -> tuple[AuthnRequestsOnce, CountingStore]:
    store = CountingStore(tmp_path / "counting.sqlite3", clock=clock)
    return AuthnRequestsOnce(store, "https://idp.test"), store


def test_an_answer_right_after_its_presentation_reads_the_store_once(counting, clock):
    once, store = counting
    presented = once.present(request(), "navigateur-a", at(clock))
    assert once.answer(request(), "navigateur-a", at(clock), response, presented) == response()
    assert store.gets == 1  # the presentation's; the answer's SET NX needs no read before it


def test_a_response_issued_between_presentation_and_answer_is_still_the_only_one(counting, clock):
    """Two requests of one browser racing: the second to store its Response gets the first's."""
    once, _ = counting
    first = once.present(request(), "navigateur-a", at(clock))
    second = once.present(request(), "navigateur-a", at(clock))
    assert once.answer(request(), "navigateur-a", at(clock), response, first) == response()
    later = once.answer(request(), "navigateur-a", at(clock), lambda: response("reponse-2"), second)
    assert later == response()


def test_a_presentation_counts_for_its_own_request_and_browser_only(counting, clock):
    once, store = counting
    presented = once.present(request(), "navigateur-a", at(clock))
    once.answer(request(), "navigateur-a", at(clock), response, presented)
    with pytest.raises(RequestAlreadyUsed):
        once.answer(request(), "navigateur-b", at(clock), lambda: response("reponse-2"), presented)
    other = once.present(request("id-2"), "navigateur-a", at(clock))
    gets = store.gets
    with pytest.raises(RequestAlreadyUsed):  # id-1 is answered: a token of id-2 skips no read
        once.answer(request(), "navigateur-b", at(clock), lambda: response("reponse-3"), other)
    assert store.gets > gets
