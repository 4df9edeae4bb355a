"""A parent signs in: by password, by creating their account, or as a parent who already migrated
from ATEN (the three ways in, DESIGN §2 A–B)."""

from __future__ import annotations

import datetime as dt

from flask.sessions import SessionMixin

from federation.sessions import rotate_session
from idp.domain.accounts import Account
from idp.domain.child_attachment import ChildAttachment
from idp.self_service import record_sign_in
from idp.session_state import IdpSession, credential_marker


def sign_in(
    session: SessionMixin, state: IdpSession, account: Account, children: ChildAttachment, now: dt.datetime
) -> IdpSession:
    """Synchronise the parent's child links with the registry (the one write of a sign-in: every
    read of the session after it only reads), then restart the session under a new id (no
    fixation), keeping only this browser's pending requests. Returns the new session, saved."""
    children.sync_links(account, now)
    signed_in = state.signed_in(account.id, now)
    signed_in.credentials = credential_marker(account)  # a new password signs it out
    session.clear()
    rotate_session(session)
    signed_in.save(session)
    record_sign_in(account.id, session)  # a new password ends the other sessions (idp.self_service)
    return signed_in
