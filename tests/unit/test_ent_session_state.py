"""Typed sessions of the ENT and of ATEN: what is saved is what is loaded, under the same keys
as before the types (sessions open during a deployment stay valid), and nothing is written when
nothing changed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aten_adapter.saml_idp import AuthenticationRequest
from aten_adapter.session_state import AtenSession
from sp_ent.session_state import EntSession, SignedInParent

PARENT = SignedInParent(
    subject="sujet-1",
    given_name="Claire",
    family_name="Martin",
    attributes={"sn": ["Martin"], "FrEduVecteur": ["2|MARTIN|Claire|E1|0860034V"]},
)


class RecordingSession(dict[str, Any]):
    """A session mapping that records each write, as Flask's marks itself modified."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.writes: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.writes.append(key)
        super().__delitem__(key)


def test_ent_session_round_trip_keeps_the_stored_keys():
    session: dict[str, Any] = {"pending_requests": {"_id": {"at": 1.0, "data": {}}}}
    EntSession(parent=PARENT, establishment="0860034V", oidc_id_token="jwt").save(session)
    assert session == {
        "pending_requests": {"_id": {"at": 1.0, "data": {}}},  # other keys are left alone
        "parent": {
            "subject": "sujet-1",
            "given_name": "Claire",
            "family_name": "Martin",
            "attributes": {"sn": ["Martin"], "FrEduVecteur": ["2|MARTIN|Claire|E1|0860034V"]},
        },
        "etablissement": "0860034V",
        "oidc_id_token": "jwt",
    }
    assert EntSession.load(session) == EntSession(PARENT, "0860034V", "jwt")


def test_an_empty_ent_session_has_no_parent():
    assert EntSession.load({}) == EntSession(parent=None, establishment=None, oidc_id_token=None)


def test_saving_an_unchanged_ent_session_writes_nothing():
    session = RecordingSession()
    EntSession(parent=PARENT, establishment="0860034V").save(session)
    session.writes.clear()
    EntSession.load(session).save(session)
    assert session.writes == []


def test_forgetting_the_establishment_removes_its_key():
    session: dict[str, Any] = {}
    state = EntSession(parent=PARENT, establishment="0860034V")
    state.save(session)
    state.establishment = None
    state.save(session)
    assert "etablissement" not in session and EntSession.load(session).parent == PARENT


def test_aten_session_round_trip():
    authn = AuthenticationRequest(
        request_id="_r1",
        sp_entity_id="https://idp.test/saml/sp/metadata",
        acs_url="https://idp.test/saml/sp/acs",
        relay_state=None,
        requested_idps=("https://aten.test/saml/metadata",),
    )
    session: dict[str, Any] = {}
    AtenSession(pending_authn=authn).save(session)
    assert AtenSession.load(session).pending_authn == authn
    signed_in = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)
    session.clear()
    AtenSession(uid="mdurand", auth_time=signed_in).save(session)
    assert session == {"aten_uid": "mdurand", "auth_time": "2026-03-01T08:30:00+00:00"}
    assert AtenSession.load(session) == AtenSession(pending_authn=None, uid="mdurand", auth_time=signed_in)
