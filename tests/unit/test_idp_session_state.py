"""IdpSession: the IdP's session as typed values, saved back without rewriting what did not change."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest
from werkzeug.datastructures import CallbackDict

from federation.pending_requests import PendingRequests
from idp.domain.accounts import Account
from idp.domain.transition import UpstreamIdentity
from idp.saml_idp import AuthenticationRequest
from idp.session_state import IdpSession, credential_marker, signed_in_account

NOW = dt.datetime(2026, 9, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)
AUTHN = AuthenticationRequest(
    "id-1", "https://ent.test/saml/metadata", "https://ent.test/saml/acs", "relais", False, ("https://aten",)
)
IDENTITY = UpstreamIdentity("https://aten", "nameid", "Marie", "Durand", None, ("1|DURAND|Marie|1|0861001W",))
ATEN_REQUESTS = PendingRequests("aten", 5, 1800)


def full_session() -> IdpSession:
    state = IdpSession(
        account_id="a1",
        auth_time=NOW,
        pending_saml=AUTHN,
        next_url="/oidc/authorize?x=1",
        steps_passed="a1",
        login_hint="m.durand1",
        children_asked=True,
        upstream=IDENTITY,
        upstream_verified_at=NOW,
        proposed_identifier="m.durand1",
        created_identifier="m.durand1",
        browser_id="navigateur-1",
        transition_page="/transition/compte-cree",
    )
    ATEN_REQUESTS.add(state.pending_requests, "req-1", NOW.timestamp())
    return state


def stored(state: IdpSession) -> dict[str, object]:
    """What the session store keeps: JSON, as federation.sessions writes it."""
    session: dict[str, object] = {}
    state.save(session)
    return json.loads(json.dumps(session))


def test_every_value_comes_back_with_its_type():
    state = full_session()
    again = IdpSession.load(stored(state))
    assert again == state
    assert again.auth_time == NOW and again.auth_time.tzinfo is not None  # one type for SAML and OIDC
    assert ATEN_REQUESTS.outstanding(again.pending_requests, NOW.timestamp()) == {"req-1": {}}


def test_saving_an_unchanged_session_modifies_nothing():
    modified: list[bool] = []
    session = CallbackDict(stored(full_session()), on_update=lambda _: modified.append(True))
    IdpSession.load(session).save(session)
    IdpSession().save(CallbackDict({}, on_update=lambda _: modified.append(True)))
    assert modified == []


def test_cleared_values_leave_the_session():
    session = stored(full_session())
    state = IdpSession.load(session)
    state.pending_saml, state.children_asked, state.upstream = None, False, None
    ATEN_REQUESTS.clear(state.pending_requests)
    state.save(session)
    assert not {"pending_authn", "children_asked", "upstream", "pending_requests"} & set(session)
    assert IdpSession.load(session).account_id == "a1"


@pytest.mark.parametrize(
    "raw",
    [
        {"account_id": 3, "auth_time": "hier", "pending_authn": {"request_id": "incomplet"}},
        {"auth_time": "2026-09-01T08:30:00", "upstream": {"issuer": "x"}, "pending_requests": []},
        {"next_url": None, "children_asked": "oui", "steps_passed": ""},
        {"transition_page": "https://evil.test/"},
    ],
)
def test_a_malformed_value_reads_as_absent(raw):
    assert IdpSession.load(raw) == IdpSession()


def test_a_sign_in_keeps_only_the_requests_awaiting_an_answer_and_the_browser():
    later = NOW + dt.timedelta(minutes=5)
    signed_in = full_session().signed_in("a2", later)
    assert signed_in == IdpSession(
        account_id="a2",
        auth_time=later,
        pending_saml=AUTHN,
        next_url="/oidc/authorize?x=1",
        browser_id="navigateur-1",
    )


def test_what_a_sign_in_keeps_can_be_stored_and_given_back():
    """A second « Confirmer » (idp/repeated_confirmation.py) signs in again with these requests,
    still bound to this browser (the OIDC nonce and the AuthnRequest ID it presented first)."""
    kept = json.loads(json.dumps(full_session().kept_at_sign_in()))
    assert IdpSession.load(kept) == IdpSession(
        pending_saml=AUTHN, next_url="/oidc/authorize?x=1", browser_id="navigateur-1"
    )
    assert IdpSession().kept_at_sign_in() == {}


@pytest.mark.parametrize("path", ["https://evil.test/", "//evil.test/", "oidc/authorize"])
def test_only_a_local_path_is_resumed_after_login(path):
    state = IdpSession()
    with pytest.raises(ValueError):
        state.resume_after_login(path)
    assert IdpSession.load({"next_url": path}).take_next_url() is None


class Accounts:
    def __init__(self, *accounts: Account) -> None:
        self.accounts = {a.id: a for a in accounts}

    def by_identifier(self, identifier: str) -> Account | None:
        return None

    def by_id(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def replace_password_hash(self, account_id: str, password_hash: str) -> None:
        raise AssertionError("a lookup writes nothing")


def test_the_signed_in_account_is_an_active_one_of_a_signed_in_session():
    active = Account("a1", "m.durand1", "x", "Marie", "Durand")
    suspended = Account("a2", "j.dupont1", "x", "Jérôme", "Dupont", status="suspendu")
    accounts = Accounts(active, suspended)
    marker = credential_marker(active)
    assert (
        signed_in_account(IdpSession(account_id="a1", auth_time=NOW, credentials=marker), accounts) == active
    )
    assert signed_in_account(IdpSession(account_id="a2", auth_time=NOW, credentials=marker), accounts) is None
    assert signed_in_account(IdpSession(account_id="a3", auth_time=NOW, credentials=marker), accounts) is None
    assert signed_in_account(IdpSession(account_id="a1"), accounts) is None
    assert signed_in_account(IdpSession(), accounts) is None


def test_the_browser_id_is_drawn_once_and_survives_the_sign_in():
    state = IdpSession()
    browser_id = state.ensure_browser_id()
    assert state.ensure_browser_id() == browser_id and len(browser_id) >= 24
    assert IdpSession.load(stored(state)).browser_id == browser_id
    assert state.signed_in("a1", NOW).browser_id == browser_id  # one-time values stay bound to it
    assert IdpSession().ensure_browser_id() != browser_id


def test_a_session_that_signed_in_with_another_password_is_signed_out():
    before = Account("a1", "m.durand1", "x", "Marie", "Durand", password_changed_at=NOW)
    after = replace(before, password_changed_at=NOW + dt.timedelta(microseconds=1))
    state = IdpSession(account_id="a1", auth_time=NOW, credentials=credential_marker(before))
    assert signed_in_account(state, Accounts(before)) == before
    assert signed_in_account(state, Accounts(after)) is None
    assert signed_in_account(replace(state, credentials=None), Accounts(before)) is None  # an older session
    naive = replace(before, password_changed_at=NOW.replace(tzinfo=None))  # as SQLite reads it back
    assert credential_marker(naive) == credential_marker(before)
    stored: dict[str, object] = {}
    state.save(stored)
    assert IdpSession.load(stored).credentials == credential_marker(before)
