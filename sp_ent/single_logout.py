"""The ENT as a session participant of ÉduConnect's Single Logout (SAML core §3.7, profiles §4.4).

« Se déconnecter » sends ÉduConnect a signed LogoutRequest naming the NameID and SessionIndex of
the assertion this session was opened with, remembered in the browser's session to match the
LogoutResponse (``InResponseTo``). A LogoutRequest from ÉduConnect ends the session it names,
found by NameID and SessionIndex (``ent-slo:``): it often comes in a frame of ÉduConnect's logout
page, where the browser may not send our cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from federation.pending_requests import PendingRequests
from federation.saml_logout import (
    OutgoingMessage,
    SessionSubject,
    SingleLogout,
    VerifiedLogoutRequest,
    VerifiedLogoutResponse,
)
from federation.sessions import end_stored_session
from federation.stores import KeyValueStore, consume_once

INDEX_PREFIX = "ent-slo:"  # (NameID, SessionIndex) → the ENT session id
SID_PREFIX = "ent-oidc-sid:"  # the provider's ``sid`` → the ENT session id
LOGOUT_TOKEN_SCOPE = "ent-logout-token"  # noqa: S105 - a replay-cache scope
Session = MutableMapping[str, Any]


def index_key(name_id: str, session_index: str) -> str:
    digest = hashlib.sha256(f"{name_id}\n{session_index}".encode()).hexdigest()
    return INDEX_PREFIX + digest


@dataclass(frozen=True)
class ParticipantLogout:
    saml: SingleLogout
    idp_entity_id: str
    store: KeyValueStore
    pending: PendingRequests  # our LogoutRequests awaiting ÉduConnect's LogoutResponse
    index_ttl_seconds: int
    clock: Callable[[], float]

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def remember(self, sid: str, subject: SessionSubject) -> None:
        """The session opened by this assertion can now be ended by a LogoutRequest naming it."""
        self.store.set(
            index_key(subject.name_id, subject.session_index), sid.encode(), self.index_ttl_seconds
        )

    def request(self, session: Session, subject: SessionSubject) -> OutgoingMessage:
        """The signed LogoutRequest to ÉduConnect, its ID remembered in this browser's session."""
        self.store.delete(index_key(subject.name_id, subject.session_index))
        outgoing = self.saml.request(self.idp_entity_id, subject)
        self.pending.add(session, outgoing.message_id, self.clock())
        return outgoing

    def end_named_session(self, session: Session, current_sid: str, request: VerifiedLogoutRequest) -> None:
        """End the session the request names, whichever browser holds it."""
        for session_index in request.session_indexes:
            raw = self.store.pop(index_key(request.name_id, session_index))
            if raw is None:
                continue
            end_stored_session(self.store, raw.decode())
            if raw.decode() == current_sid:
                session.clear()

    def outcome(self, session: Session, response: VerifiedLogoutResponse) -> str:
        """What the logged-out page says: "complete", "partial", or "local" (ÉduConnect did not
        confirm, or the answer is to no request of this browser)."""
        if self.pending.consume(session, response.in_response_to, self.clock()) is None:
            return "local"
        if response.is_complete:
            return "complete"
        return "partial" if response.status.endswith(":Success") else "local"


@dataclass(frozen=True)
class ProviderSessions:
    """OpenID Connect Front- and Back-Channel Logout at the ENT: the provider's ``sid`` of each
    ID token leads to the ENT session it opened; a logout token's ``jti`` is used once."""

    store: KeyValueStore
    index_ttl_seconds: int
    replay_ttl_seconds: int

    def remember(self, sid: str, provider_sid: str) -> None:
        self.store.set(_sid_key(provider_sid), sid.encode(), self.index_ttl_seconds)

    def end(self, session: Session, current_sid: str, provider_sid: str) -> bool:
        """End the ENT session opened under ``provider_sid``; False when there is none left."""
        raw = self.store.pop(_sid_key(provider_sid))
        if raw is None:
            return False
        end_stored_session(self.store, raw.decode())
        if raw.decode() == current_sid:
            session.clear()
        return True

    def consume_token_id(self, issuer: str, jti: str) -> None:
        consume_once(self.store, f"{LOGOUT_TOKEN_SCOPE}:{issuer}", jti, self.replay_ttl_seconds)


def _sid_key(provider_sid: str) -> str:
    return SID_PREFIX + hashlib.sha256(provider_sid.encode()).hexdigest()
