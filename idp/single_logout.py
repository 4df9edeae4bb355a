"""ÉduConnect as the session authority of Single Logout (SAML core §3.7.3.2, profiles §4.4).

Each IdP session records its participants (``IdpSession.participants``): every SP that received
an assertion and every OpenID Connect client that received an ID token, with one SessionIndex /
``sid`` per login. Ending the session — « Se déconnecter » at ÉduConnect, a participant's
LogoutRequest, an RP-initiated logout — notifies every other participant: a signed LogoutRequest
to each SAML SP and OpenID Connect Front-Channel Logout, both in hidden frames of a page that
moves on by itself after :data:`PARTICIPANT_WAIT_SECONDS` (a participant that does not answer
never leaves the parent stuck), and Back-Channel Logout to the clients that registered it. The
initiator then gets its answer: a LogoutResponse whose status says whether every participant
confirmed (``PartialLogout`` otherwise), or the OpenID Connect ``post_logout_redirect_uri``.

The SessionIndex leads to the session in the store (``slo-index:``), so a LogoutRequest ends the
session it names even when the browser did not send ÉduConnect's cookie with it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from federation.errors import ProtocolError
from federation.saml_logout import (
    OutgoingMessage,
    SessionSubject,
    SingleLogout,
    VerifiedLogoutRequest,
    VerifiedLogoutResponse,
)
from federation.sessions import end_stored_session, stored_session
from federation.stores import KeyValueStore
from idp.session_state import IdpSession, Participant

INDEX_PREFIX = "slo-index:"  # SessionIndex → the id of the IdP session holding it
SENT_PREFIX = "slo-sent:"  # a LogoutRequest we sent → its logout and its peer
DONE_PREFIX = "slo-done:"  # that LogoutRequest confirmed by the peer's LogoutResponse
LOGOUT_PREFIX = "slo-logout:"  # a logout in progress → how to answer its initiator
LOGOUT_TTL_SECONDS = 600
PARTICIPANT_WAIT_SECONDS = 4

Session = MutableMapping[str, Any]


@dataclass(frozen=True)
class Initiator:
    """Who asked for the logout and how to answer: a SAML SP's LogoutRequest, an OpenID Connect
    client's end-session request (``redirect_url``), or the parent at ÉduConnect (neither)."""

    saml_request: VerifiedLogoutRequest | None = None
    redirect_url: str | None = None
    peer: str | None = None  # the participant who asked: not notified again

    def to_json(self) -> dict[str, Any]:
        return {
            "saml_request": asdict(self.saml_request) if self.saml_request else None,
            "redirect_url": self.redirect_url,
            "peer": self.peer,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Initiator:
        raw = data.get("saml_request")
        request = None
        if isinstance(raw, dict):
            request = VerifiedLogoutRequest(**{**raw, "session_indexes": tuple(raw["session_indexes"])})
        return cls(saml_request=request, redirect_url=data.get("redirect_url"), peer=data.get("peer"))


@dataclass(frozen=True)
class Frame:
    """A hidden frame of the logout page: a participant's front-channel logout URL, or the
    endpoint a LogoutRequest of ours is posted to (HTTP-POST binding, ``posted_message_id``: our
    own page in the frame posts it there)."""

    url: str
    name: str  # the participant, for the page's accessible title
    posted_message_id: str | None = None


@dataclass(frozen=True)
class LogoutInProgress:
    logout_id: str
    frames: tuple[Frame, ...]


@dataclass(frozen=True)
class FinishedLogout:
    initiator: Initiator
    complete: bool  # every participant confirmed


class ClientNotifier(Protocol):
    """OpenID Connect Front- and Back-Channel Logout of the clients (``idp.oidc.logout``)."""

    def front_channel_url(self, client_id: str, sid: str) -> str | None: ...

    def back_channel(self, participants: list[tuple[str, str, str]]) -> bool:
        """Send a logout token to each (client_id, sub, sid) that registered a back channel;
        True when every one of them answered 200 within the timeout."""
        ...


class NoClients:
    def front_channel_url(self, client_id: str, sid: str) -> str | None:
        return None

    def back_channel(self, participants: list[tuple[str, str, str]]) -> bool:
        return True


class SessionAuthority:
    def __init__(
        self,
        store: KeyValueStore,
        saml: Callable[[], SingleLogout],
        entity_id: str,
        index_ttl_seconds: int,
        clients: ClientNotifier | None = None,
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(24),
    ) -> None:
        self.store = store
        self._saml = saml
        self.entity_id = entity_id
        self.index_ttl = index_ttl_seconds
        self.clients: ClientNotifier = clients or NoClients()
        self.new_token = new_token

    @property
    def saml(self) -> SingleLogout:
        """The Single Logout of the SP registry in service now (``idp/sp_registry.py``)."""
        return self._saml()

    # --- sign-in side ----------------------------------------------------------------------------

    def join(self, state: IdpSession, sid: str, participant: Participant) -> None:
        """Record ``participant`` in the session stored under ``sid``; its SessionIndex (or
        ``sid``) leads to that session from now on."""
        state.join(participant)
        self.store.set(INDEX_PREFIX + participant.session_index, sid.encode(), self.index_ttl)

    def join_client(self, state: IdpSession, sid: str, client_id: str) -> str:
        """An OpenID Connect client about to receive an ID token of this session: its ``sid``."""
        oidc_sid = state.oidc_sid(self.new_token())
        self.join(state, sid, Participant("oidc", client_id, "", oidc_sid))
        return oidc_sid

    # --- which session a LogoutRequest ends -------------------------------------------------------

    def session_named_by(
        self, request: VerifiedLogoutRequest, current_sid: str, current: IdpSession
    ) -> tuple[str, IdpSession] | None:
        """The session the request names (NameID and SessionIndex of one of its participants,
        SAML core §3.7.3.2); None when that session is already over. A request that names a
        live session with another subject, or this browser's session with another index, is
        refused: it ends nothing."""
        candidates = [(current_sid, current)]
        for index in request.session_indexes:
            raw_sid = self.store.get(INDEX_PREFIX + index)
            if raw_sid is not None and raw_sid.decode() != current_sid:
                state = _load(self.store, raw_sid.decode())
                if state is not None:
                    candidates.append((raw_sid.decode(), state))
        for sid, state in candidates:
            mine = [p for p in state.participants if p.protocol == "saml" and p.peer == request.issuer]
            if any(request.names(SessionSubject(p.subject, p.session_index)) for p in mine):
                return sid, state
            if any(p.session_index in request.session_indexes for p in mine) or (
                sid == current_sid and mine and state.account_id
            ):
                raise ProtocolError(
                    f"LogoutRequest of {request.issuer}: NameID and SessionIndex "
                    f"{request.session_indexes} not of one session"
                )
        return None

    def end(self, session: Session, current_sid: str, sid: str, state: IdpSession) -> None:
        """End the session stored under ``sid`` (this browser's or another one's)."""
        for participant in state.participants:
            self.store.delete(INDEX_PREFIX + participant.session_index)
        end_stored_session(self.store, sid)
        if sid == current_sid:
            session.clear()

    # --- notifying the others ---------------------------------------------------------------------

    def start(self, state: IdpSession, initiator: Initiator) -> LogoutInProgress:
        """Send every participant but the initiator its logout; what the page loads."""
        logout_id = self.new_token()
        others = [p for p in state.participants if p.peer != initiator.peer]
        frames: list[Frame] = []
        sent: list[str] = []
        back_channel: list[tuple[str, str, str]] = []
        for participant in others:
            if participant.protocol == "saml":
                outgoing = self._saml_request(participant, logout_id)
                if outgoing is not None:
                    sent.append(outgoing.message_id)
                    posted = outgoing.message_id if outgoing.fields else None
                    frames.append(Frame(outgoing.url, participant.peer, posted))
                continue
            url = self.clients.front_channel_url(participant.peer, participant.session_index)
            if url:
                frames.append(Frame(url, participant.peer))
            back_channel.append((participant.peer, participant.subject, participant.session_index))
        confirmed = self.clients.back_channel(back_channel) if back_channel else True
        record = {"initiator": initiator.to_json(), "sent": sent, "back_channel_confirmed": confirmed}
        self.store.set(LOGOUT_PREFIX + logout_id, json.dumps(record).encode(), LOGOUT_TTL_SECONDS)
        return LogoutInProgress(logout_id, tuple(frames))

    def _saml_request(self, participant: Participant, logout_id: str) -> OutgoingMessage | None:
        saml = self.saml  # one registry for the whole message
        if saml.peer_endpoint(participant.peer) is None:
            return None  # an SP without SingleLogoutService: nothing to send
        subject = SessionSubject(
            name_id=participant.subject,
            session_index=participant.session_index,
            name_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            name_qualifier=self.entity_id,
            sp_name_qualifier=participant.peer,
        )
        outgoing = saml.request(participant.peer, subject)
        record = {
            "logout": logout_id,
            "peer": participant.peer,
            "fields": outgoing.fields,
            "url": outgoing.url,
        }
        self.store.set(SENT_PREFIX + outgoing.message_id, json.dumps(record).encode(), LOGOUT_TTL_SECONDS)
        return outgoing

    def sent_form(self, message_id: str) -> tuple[str, dict[str, str]] | None:
        """An HTTP-POST LogoutRequest we sent: where the frame posts it, and its fields."""
        raw = self.store.get(SENT_PREFIX + message_id)
        if raw is None:
            return None
        record = json.loads(raw)
        return (str(record["url"]), dict(record["fields"])) if record.get("fields") else None

    def confirm(self, response: VerifiedLogoutResponse) -> None:
        """A participant's LogoutResponse to one of our LogoutRequests, of that participant."""
        raw = self.store.get(SENT_PREFIX + response.in_response_to)
        if raw is None or json.loads(raw).get("peer") != response.issuer:
            raise ProtocolError(f"LogoutResponse of {response.issuer} to no request of ours")
        if response.is_complete:
            self.store.set(DONE_PREFIX + response.in_response_to, b"1", LOGOUT_TTL_SECONDS)

    def finish(self, logout_id: str) -> FinishedLogout | None:
        """The logout's outcome, once (a reload finds nothing)."""
        raw = self.store.pop(LOGOUT_PREFIX + logout_id)
        if raw is None:
            return None
        record = json.loads(raw)
        confirmed = all(self.store.get(DONE_PREFIX + message_id) for message_id in record["sent"])
        return FinishedLogout(
            Initiator.from_json(record["initiator"]),
            complete=confirmed and bool(record["back_channel_confirmed"]),
        )


def _load(store: KeyValueStore, sid: str) -> IdpSession | None:
    data = stored_session(store, sid)
    return IdpSession.load(data) if data is not None else None
