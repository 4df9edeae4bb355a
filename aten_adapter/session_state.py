"""What ATEN keeps in a browser's session, typed: the AuthnRequest awaiting the parent's password,
then the signed-in parent (uid and authentication time) and where the answer went (the SP's ACS,
from its metadata), so that ATEN's pages opened again (Back, an old tab) lead back there.

The stored form keeps the keys it had before these types. No flask here: ``load`` and ``save``
take the session mapping.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from aten_adapter.saml_idp import AuthenticationRequest
from federation.session_values import put_session_value

PENDING_AUTHN_KEY = "aten_pending_authn"
UID_KEY = "aten_uid"
AUTH_TIME_KEY = "auth_time"
BROWSER_ID_KEY = "browser_id"
ANSWERED_ACS_KEY = "aten_answered_acs"


@dataclass
class AtenSession:
    pending_authn: AuthenticationRequest | None = None  # ÉduConnect's request, until answered
    uid: str | None = None
    auth_time: dt.datetime | None = None  # aware, UTC
    # The AuthnRequest IDs this browser presented first are bound to it (never sent out).
    browser_id: str | None = None
    answered_acs: str | None = None  # the ACS the last answer was posted to

    @classmethod
    def load(cls, session: Mapping[str, Any]) -> AtenSession:
        pending, uid, auth_time, browser_id = (
            session.get(k) for k in (PENDING_AUTHN_KEY, UID_KEY, AUTH_TIME_KEY, BROWSER_ID_KEY)
        )
        answered = session.get(ANSWERED_ACS_KEY)
        return cls(
            pending_authn=AuthenticationRequest.from_session(pending) if isinstance(pending, dict) else None,
            uid=uid if isinstance(uid, str) else None,
            auth_time=dt.datetime.fromisoformat(auth_time) if isinstance(auth_time, str) else None,
            browser_id=browser_id if isinstance(browser_id, str) and browser_id else None,
            answered_acs=answered if isinstance(answered, str) and answered else None,
        )

    def ensure_browser_id(self) -> str:
        """This browser's id, drawn at its first AuthnRequest (saved with the session)."""
        if self.browser_id is None:
            self.browser_id = secrets.token_urlsafe(18)
        return self.browser_id

    def save(self, session: MutableMapping[str, Any]) -> None:
        put_session_value(
            session, PENDING_AUTHN_KEY, dataclasses.asdict(self.pending_authn) if self.pending_authn else None
        )
        put_session_value(session, UID_KEY, self.uid)
        put_session_value(session, AUTH_TIME_KEY, self.auth_time.isoformat() if self.auth_time else None)
        put_session_value(session, BROWSER_ID_KEY, self.browser_id)
        put_session_value(session, ANSWERED_ACS_KEY, self.answered_acs)
