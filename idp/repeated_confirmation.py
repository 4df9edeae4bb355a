"""A « Confirmer » sent again after the first one created the account (a double click, the POST
resent by a reload, Back then « Confirmer »): the same page the first one led to, never a second
account and never « Le formulaire a expiré ».

The first confirmation signs the parent in and so restarts the session under a new id (no
fixation, ``idp.sign_in``); a second POST the browser sent with the old cookie finds that session
gone, and the CSRF token's secret with it. So the first leaves a note under a hash of the old
session id: the account it led to and the requests the new session kept to answer. The second is
let in only with that note *and* the password the first one chose, verified against the account's
hash as a login would: an old (or fixed) session id alone opens nothing, and one wrong password
deletes the note.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from federation.stores import KeyValueStore

CONFIRMATION_PREFIX = "transition-confirmed:"
# Long enough for a reload or Back then « Confirmer »; a double click takes milliseconds.
CONFIRMATION_TTL_SECONDS = 10 * 60


@dataclass(frozen=True)
class FirstConfirmation:
    account_id: str
    kept: dict[str, Any]  # IdpSession.kept_at_sign_in() of the session it signed in


class ConfirmationNotes:
    def __init__(self, store: KeyValueStore, ttl_seconds: int = CONFIRMATION_TTL_SECONDS) -> None:
        self.store, self.ttl_seconds = store, ttl_seconds

    def remember(self, old_session_id: str, first: FirstConfirmation) -> None:
        value = {"account_id": first.account_id, "kept": first.kept}
        self.store.set(_key(old_session_id), json.dumps(value).encode(), self.ttl_seconds)

    def recall(self, old_session_id: str) -> FirstConfirmation | None:
        if not old_session_id:
            return None
        raw = self.store.get(_key(old_session_id))
        if raw is None:
            return None
        try:
            value = json.loads(raw)
            return FirstConfirmation(account_id=str(value["account_id"]), kept=dict(value["kept"]))
        except (ValueError, KeyError, TypeError):
            return None

    def forget(self, old_session_id: str) -> None:
        self.store.delete(_key(old_session_id))


def _key(session_id: str) -> str:
    # The old id is dead once rotated; hashed all the same, so the store never holds a cookie value.
    return CONFIRMATION_PREFIX + hashlib.sha256(session_id.encode()).hexdigest()
