"""The sessions each account signed in to, so that a new password ends every other one.

At each sign-in (``idp.sign_in``) the new session id goes into one of :data:`SLOTS` slots of the
account (a counter picks the slot: two sign-ins at once never overwrite each other's record).
:meth:`AccountSessions.end_others` ends each recorded session that still belongs to the account,
but the browser's own: its participants are forgotten (``idp.single_logout``), and OpenID Connect
clients with a back channel get their logout token. The account's OpenID Connect codes and access
tokens are revoked beside it (``GrantStore.revoke_account``, called by
``idp.self_service.SelfServices.end_what_the_old_password_opened``).
"""

from __future__ import annotations

from flask.sessions import SessionMixin

from federation.sessions import stored_session
from federation.stores import KeyValueStore
from idp.session_state import IdpSession
from idp.single_logout import SessionAuthority

PREFIX = "account-sessions:"
SLOTS = 16  # the most recent sign-ins of one account that are remembered
TTL_SECONDS = 7 * 24 * 3600  # renewed at each sign-in; a session idle that long is gone anyway


class AccountSessions:
    def __init__(self, store: KeyValueStore, authority: SessionAuthority) -> None:
        self.store, self.authority = store, authority

    def record(self, account_id: str, sid: str) -> None:
        slot = self.store.incr(f"{PREFIX}{account_id}:n", TTL_SECONDS) % SLOTS
        self.store.set(f"{PREFIX}{account_id}:{slot}", sid.encode(), TTL_SECONDS)

    def end_others(self, account_id: str, session: SessionMixin, current_sid: str | None) -> int:
        """End every recorded session of the account but ``current_sid``; how many were live."""
        ended = 0
        for slot in range(SLOTS):
            raw = self.store.get(f"{PREFIX}{account_id}:{slot}")
            if raw is None or raw.decode() == current_sid:
                continue
            sid = raw.decode()
            data = stored_session(self.store, sid)
            if data is None:
                continue
            state = IdpSession.load(data)
            if state.account_id != account_id:
                continue
            oidc = [p for p in state.participants if p.protocol == "oidc"]
            clients = [(p.peer, p.subject, p.session_index) for p in oidc]
            if clients:
                self.authority.clients.back_channel(clients)
            self.authority.end(session, current_sid or "", sid, state)
            ended += 1
        return ended
