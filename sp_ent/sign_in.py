"""How the portal signs a parent in with ÉduConnect: SAML 2.0 or OpenID Connect (``protocol``).

Each way sends the browser off with a request it remembers in the session
(``federation.pending_requests``: a few at once, each answered once, none after the TTL) and
accepts the answer only to one of those: InResponseTo (SAML core §3.4.1) or ``state``
(OIDC Core §3.1.2.1). The views call these with the session; the clock is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from flask.sessions import SessionMixin

from federation.errors import ConfigurationError, SessionExpired
from federation.pending_requests import PendingRequests
from federation.saml_logout import SessionSubject
from federation.saml_sp import SamlSpClient
from federation.sessions import rotate_session
from federation.stores import KeyValueStore, consume_once
from sp_ent.oidc import core as oidc
from sp_ent.oidc.relying_party import OidcRelyingParty
from sp_ent.session_state import EntSession, SignedInParent
from sp_ent.single_logout import ParticipantLogout, ProviderSessions

Session = MutableMapping[str, Any]
MAX_PENDING = 5  # a few tabs at once; older requests are forgotten


class SignInMethod(Protocol):
    """What the portal's two buttons and « Se déconnecter » need from a protocol."""

    def login_url(self, session: Session, through_aten: bool) -> str:
        """Where to send the browser; ``through_aten``: « Je n'ai pas de compte Educonnect »."""
        ...

    def logout_url(self, session: Session, ent_session: EntSession) -> str | None:
        """Where to go after the local logout to end ÉduConnect's session too, if anywhere."""
        ...

    @property
    def logout_destination(self) -> str | None:
        """Where « Se déconnecter » leads at ÉduConnect, as a CSP source (``form-action``)."""
        ...


@dataclass(frozen=True)
class SamlSignIn:
    saml: SamlSpClient
    pending: PendingRequests
    store: KeyValueStore  # assertion IDs consumed once
    aten_entity_id: str | None
    clock: Callable[[], float]
    logout: ParticipantLogout

    def login_url(self, session: Session, through_aten: bool) -> str:
        if through_aten and not self.aten_entity_id:
            raise ConfigurationError("ent.aten_entity_id manquant")
        outgoing = self.saml.authn_request(scoped_idp=self.aten_entity_id if through_aten else None)
        self.pending.add(session, outgoing.request_id, self.clock())
        return outgoing.url

    @cached_property
    def logout_destination(self) -> str | None:
        endpoint = self.logout.saml.peer_endpoint(self.logout.idp_entity_id)
        return endpoint[1] if endpoint else None

    def logout_url(self, session: Session, ent_session: EntSession) -> str | None:
        """A signed LogoutRequest to ÉduConnect (HTTP-Redirect), for a session opened by SAML."""
        if ent_session.saml_session is None:
            return None
        outgoing = self.logout.request(session, ent_session.saml_session)
        return outgoing.url if not outgoing.fields else None

    def accept_response(
        self, session: Session, form: Mapping[str, str]
    ) -> tuple[SignedInParent, SessionSubject]:
        """The ACS: a Response to one of this browser's live requests, its assertion used once;
        with the NameID and SessionIndex a LogoutRequest names."""
        now = self.clock()
        outstanding = self.pending.outstanding(session, now)
        if not outstanding:
            raise SessionExpired("no pending AuthnRequest in this browser")
        assertion = self.saml.parse_response(form, outstanding, dt.datetime.fromtimestamp(now, dt.UTC))
        consume_once(self.store, "ent-assertion", assertion.assertion_id, self.pending.ttl_seconds)
        self.pending.consume(session, assertion.in_response_to, now)
        parent = SignedInParent(
            subject=assertion.subject,
            given_name=assertion.first("givenName"),
            family_name=assertion.first("sn"),
            attributes=assertion.attributes,
        )
        logout_subject = SessionSubject(
            name_id=assertion.subject,
            session_index=assertion.session_index,
            name_format=assertion.subject_format,
            name_qualifier=assertion.name_qualifier,
            sp_name_qualifier=assertion.sp_name_qualifier,
        )
        return parent, logout_subject


@dataclass(frozen=True)
class OidcSignIn:
    rp: OidcRelyingParty
    pending: PendingRequests
    clock: Callable[[], float]
    logout: ProviderSessions

    def login_url(self, session: Session, through_aten: bool) -> str:
        """Remember state, nonce and verifier, then off to ÉduConnect's authorization endpoint."""
        authorization = oidc.new_authorization()
        data = {"nonce": authorization.nonce, "code_verifier": authorization.code_verifier}
        self.pending.add(session, authorization.state, self.clock(), data)
        return self.rp.authorization_url(authorization, oidc.ATEN_HINT if through_aten else None)

    @property
    def logout_destination(self) -> str | None:
        return self.rp.config.issuer + "/"  # the end-session endpoint is under the issuer

    def logout_url(self, session: Session, ent_session: EntSession) -> str | None:
        """RP-initiated logout at ÉduConnect, back to the portal."""
        return self.rp.end_session_url(ent_session.oidc_id_token) if ent_session.oidc_id_token else None

    def accept_callback(self, session: Session, args: Mapping[str, str]) -> tuple[SignedInParent, str, str]:
        """(parent, ID token, its ``sid``) from the callback of one of this browser's live
        requests, used once."""
        state = args.get("state", "")
        entry = self.pending.consume(session, state, self.clock())
        if entry is None:
            raise SessionExpired("no pending authorization request with this state in this browser")
        authorization = oidc.PendingAuthorization(
            state=state, nonce=str(entry["nonce"]), code_verifier=str(entry["code_verifier"])
        )
        parent = self.rp.complete(args, authorization)
        signed_in = SignedInParent(
            subject=parent.subject,
            given_name=parent.given_name,
            family_name=parent.family_name,
            attributes=parent.attributes,
        )
        return signed_in, parent.id_token, parent.sid


def open_parent_session(
    session: SessionMixin,
    parent: SignedInParent,
    id_token: str | None = None,
    saml_session: SessionSubject | None = None,
) -> None:
    """A fresh session for the signed-in parent: what the browser had before is dropped and the
    session id rotated (no fixation)."""
    session.clear()
    rotate_session(session)
    EntSession(parent=parent, oidc_id_token=id_token, saml_session=saml_session).save(session)
