"""ÉduConnect's server-side session, typed: what one browser's session holds, one type per value.

A view loads it (:meth:`IdpSession.load`) and saves it back (:meth:`IdpSession.save`) before it
answers. ``save`` writes only the values that changed, so a request that changes nothing writes
nothing to the store (the SSO of a signed-in parent costs one store round trip,
``federation.sessions``). Times are aware UTC datetimes; a malformed stored value (a session from
an older release) reads as absent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from idp.domain.accounts import Account, AccountRepository
from idp.domain.transition import UpstreamIdentity
from idp.saml_idp import AuthenticationRequest

_ACCOUNT_ID = "account_id"
_AUTH_TIME = "auth_time"
_PENDING_SAML = "pending_authn"
_NEXT_URL = "next_url"
_STEPS_PASSED = "steps_passed"
_LOGIN_HINT = "login_hint"
_CHILDREN_ASKED = "children_asked"
_PENDING_REQUESTS = "pending_requests"
_UPSTREAM = "upstream"
_PROPOSED_IDENTIFIER = "proposed_identifier"
_CREATED_IDENTIFIER = "created_identifier"
_TRANSITION_PAGE = "transition_page"
_VERIFIED_AT = "at"
_SESSION_INDEX = "session_index"
_PARTICIPANTS = "participants"
_BROWSER_ID = "browser_id"
_CREDENTIALS = "credentials"
PROTOCOLS = ("saml", "oidc")


@dataclass(frozen=True)
class Participant:
    """A session participant (SAML core §3.7.3.2): an SP that received an assertion of this
    session, or an OpenID Connect client that received an ID token of it."""

    protocol: str  # "saml" or "oidc"
    peer: str  # the SP's entityID or the client_id
    subject: str  # the persistent NameID or the pairwise ``sub`` it knows the parent by
    session_index: str  # the SessionIndex of its assertion, or the ``sid`` of its ID token


@dataclass
class IdpSession:
    account_id: str | None = None  # the signed-in parent (FrEduCtId)
    auth_time: dt.datetime | None = None  # when they proved it: SAML AuthnInstant, OIDC auth_time
    pending_saml: AuthenticationRequest | None = None  # the ENT's AuthnRequest awaiting an answer
    next_url: str | None = None  # local path resumed after login (an OIDC authorization request)
    steps_passed: str | None = None  # the account every sign-in step has let through
    login_hint: str | None = None  # OIDC login_hint: the identifier the login page fills in
    # « Ajout d'élèves » was answered (confirmed, « Plus tard », nothing left): not asked again
    # in this session; the next login asks again.
    children_asked: bool = False
    # Where federation.pending_requests.PendingRequests keep this browser's requests to ATEN.
    pending_requests: dict[str, Any] = field(default_factory=dict)
    upstream: UpstreamIdentity | None = None  # ATEN's verified identity (parcours de transition)
    upstream_verified_at: dt.datetime | None = None
    proposed_identifier: str | None = None  # shown on « Choisir mon mot de passe »
    created_identifier: str | None = None  # shown on « Votre compte est créé. »
    # The OpenID Connect ``sid`` of this login (OpenID Connect Front-Channel Logout §3).
    session_index: str | None = None
    participants: tuple[Participant, ...] = ()
    # Names this browser across the session id rotations of sign-in: the one-time values it
    # presented first (SAML AuthnRequest IDs, OIDC nonces) are bound to it. Never sent out.
    browser_id: str | None = None
    # The page the transition led to (« Votre compte est créé. » or « Vous avez déjà un compte »):
    # where its pages, opened again (Back, reload, a second « Confirmer »), lead.
    transition_page: str | None = None
    # The account's password-change marker when it signed in (:func:`credential_marker`): a
    # session whose marker is no longer the account's is signed out (:func:`holds_credentials`).
    credentials: str | None = None

    @classmethod
    def load(cls, session: Mapping[str, Any]) -> IdpSession:
        upstream = session.get(_UPSTREAM)
        requests = session.get(_PENDING_REQUESTS)
        return cls(
            account_id=_text(session.get(_ACCOUNT_ID)),
            auth_time=_instant(session.get(_AUTH_TIME)),
            pending_saml=_authn_request(session.get(_PENDING_SAML)),
            next_url=_text(session.get(_NEXT_URL)),
            steps_passed=_text(session.get(_STEPS_PASSED)),
            login_hint=_text(session.get(_LOGIN_HINT)),
            children_asked=session.get(_CHILDREN_ASKED) is True,
            pending_requests=dict(requests) if isinstance(requests, dict) else {},
            upstream=_upstream_identity(upstream),
            upstream_verified_at=_instant(upstream.get(_VERIFIED_AT)) if isinstance(upstream, dict) else None,
            proposed_identifier=_text(session.get(_PROPOSED_IDENTIFIER)),
            created_identifier=_text(session.get(_CREATED_IDENTIFIER)),
            session_index=_text(session.get(_SESSION_INDEX)),
            participants=_participants(session.get(_PARTICIPANTS)),
            browser_id=_text(session.get(_BROWSER_ID)),
            transition_page=_local_path(session.get(_TRANSITION_PAGE)),
            credentials=_text(session.get(_CREDENTIALS)),
        )

    def save(self, session: MutableMapping[str, Any]) -> None:
        for key, value in self._stored().items():
            if value is None:
                session.pop(key, None)  # a missing key stays unmodified
            elif session.get(key) != value:
                session[key] = value

    def signed_in(self, account_id: str, now: dt.datetime) -> IdpSession:
        """The session of a parent who just signed in: only this browser's pending requests to
        answer are kept, every step is asked again."""
        return IdpSession(
            account_id=account_id,
            auth_time=now,
            pending_saml=self.pending_saml,
            next_url=self.next_url,
            browser_id=self.browser_id,
        )

    def ensure_browser_id(self) -> str:
        """This browser's id, drawn at its first request that needs one (saved with the session)."""
        if self.browser_id is None:
            self.browser_id = secrets.token_urlsafe(18)
        return self.browser_id

    def kept_at_sign_in(self) -> dict[str, Any]:
        """What :meth:`signed_in` keeps (the requests to answer and the browser they are bound to),
        stored as the session stores it: ``IdpSession.load`` of it gives them back."""
        stored = self._stored()
        kept = (_PENDING_SAML, _NEXT_URL, _BROWSER_ID)
        return {key: stored[key] for key in kept if stored[key] is not None}

    def resume_after_login(self, path: str) -> None:
        """Resume this local path after login (OIDC authorization); absolute URLs are refused."""
        if not is_local_path(path):
            raise ValueError("next_url must be a local path")
        self.next_url = path

    def take_next_url(self) -> str | None:
        path, self.next_url = self.next_url, None
        return path if path is not None and is_local_path(path) else None

    def _stored(self) -> dict[str, Any]:
        """The JSON value of each key (None: no key); lists, not tuples, so that an unchanged
        value compares equal to the one read back."""
        upstream = None
        if self.upstream is not None and self.upstream_verified_at is not None:
            upstream = {
                **dataclasses.asdict(self.upstream),
                "vectors": list(self.upstream.vectors),
                _VERIFIED_AT: self.upstream_verified_at.isoformat(),
            }
        pending_saml = None
        if self.pending_saml is not None:
            pending_saml = {
                **dataclasses.asdict(self.pending_saml),
                "requested_idps": list(self.pending_saml.requested_idps),
            }
        return {
            _ACCOUNT_ID: self.account_id,
            _AUTH_TIME: self.auth_time.isoformat() if self.auth_time else None,
            _PENDING_SAML: pending_saml,
            _NEXT_URL: self.next_url,
            _STEPS_PASSED: self.steps_passed,
            _LOGIN_HINT: self.login_hint,
            _CHILDREN_ASKED: True if self.children_asked else None,
            _PENDING_REQUESTS: self.pending_requests or None,
            _UPSTREAM: upstream,
            _PROPOSED_IDENTIFIER: self.proposed_identifier,
            _CREATED_IDENTIFIER: self.created_identifier,
            _SESSION_INDEX: self.session_index,
            _PARTICIPANTS: [dataclasses.asdict(p) for p in self.participants] or None,
            _BROWSER_ID: self.browser_id,
            _TRANSITION_PAGE: self.transition_page,
            _CREDENTIALS: self.credentials,
        }

    def join(self, participant: Participant) -> None:
        """Record a participant of this session (its latest sign-in replaces an earlier one)."""
        kept = [
            p for p in self.participants if (p.protocol, p.peer) != (participant.protocol, participant.peer)
        ]
        self.participants = (*kept, participant)

    def oidc_sid(self, new_sid: str) -> str:
        """The ``sid`` of this session's ID tokens (OpenID Connect Front-Channel Logout §3)."""
        if self.session_index is None:
            self.session_index = new_sid
        return self.session_index


def signed_in_account(state: IdpSession, accounts: AccountRepository) -> Account | None:
    """The session's parent, while their account exists, is active and has the password the
    session signed in with."""
    if state.account_id is None or state.auth_time is None:
        return None
    account = accounts.by_id(state.account_id)
    if account is None or not account.is_active or not holds_credentials(state, account):
        return None
    return account


# --- a new password signs every other session out --------------------------------------------
# Every session of an account, however old, recorded or not, carries the marker of the password
# it signed in with; a new password changes the account's marker, so the others no longer hold
# it. (idp.account_sessions still ends the sessions it recorded at once, with their logouts.)


def credential_marker(account: Account) -> str:
    """The account's password-change marker: when its password last changed (UTC, microseconds)."""
    changed = account.password_changed_at
    if changed is None:
        return "-"
    if changed.tzinfo is None:  # SQLite gives back naive UTC datetimes
        changed = changed.replace(tzinfo=dt.UTC)
    return changed.astimezone(dt.UTC).isoformat(timespec="microseconds")


def holds_credentials(state: IdpSession, account: Account) -> bool:
    """Whether the session signed in with the account's current password (a session without a
    marker, opened before markers existed, does not)."""
    return state.credentials is not None and state.credentials == credential_marker(account)


def is_local_path(path: str) -> bool:
    return path.startswith("/") and not path.startswith("//")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _local_path(value: Any) -> str | None:
    text = _text(value)
    return text if text is not None and is_local_path(text) else None


def _instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


def _authn_request(value: Any) -> AuthenticationRequest | None:
    if not isinstance(value, dict):
        return None
    try:
        return AuthenticationRequest.from_session(value)
    except TypeError:
        return None


def _participants(value: Any) -> tuple[Participant, ...]:
    if not isinstance(value, list):
        return ()
    kept = []
    for item in value:
        try:
            participant = Participant(**item)
        except TypeError:
            continue
        if participant.protocol in PROTOCOLS:
            kept.append(participant)
    return tuple(kept)


def _upstream_identity(value: Any) -> UpstreamIdentity | None:
    if not isinstance(value, dict):
        return None
    fields = {k: v for k, v in value.items() if k != _VERIFIED_AT}
    vectors = fields.pop("vectors", [])
    if not isinstance(vectors, list):
        return None
    try:
        return UpstreamIdentity(**fields, vectors=tuple(vectors))
    except TypeError:
        return None
