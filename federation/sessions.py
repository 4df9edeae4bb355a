"""Server-side sessions in the ephemeral store: the cookie carries only a random id.

The id is rotated at login (:func:`rotate_session`) so a session fixed before authentication is
worthless after it. The data lives under ``session:<id>`` with the session TTL, an idle timeout:
reading a session restarts its TTL (``get_touch``), and a request that did not change the
session writes nothing back (an SSO for a signed-in parent costs one store round trip).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Flask, Request, Response, g
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from federation.errors import StoreUnavailable
from federation.settings import CookieSettings
from federation.stores import SESSION_PREFIX, KeyValueStore


class StoreSession(CallbackDict[str, Any], SessionMixin):
    def __init__(self, sid: str, initial: dict[str, Any] | None = None, is_new: bool = False) -> None:
        def on_update(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.sid = sid
        self.new = is_new
        self.modified = False
        self.previous_sid: str | None = None


def original_session_id(session: SessionMixin) -> str:
    """The id this request's session was stored under (before any rotation of this request)."""
    if not isinstance(session, StoreSession):
        raise TypeError("original_session_id needs the store-backed session")
    return session.previous_sid or session.sid


def rotate_session(session: SessionMixin) -> None:
    """Give the session a fresh id (login): the old id stops working at the end of the request."""
    if not isinstance(session, StoreSession):
        raise TypeError("rotate_session needs the store-backed session")
    session.previous_sid = session.previous_sid or session.sid
    session.sid = secrets.token_urlsafe(32)
    session.modified = True


def session_id(session: SessionMixin) -> str:
    """The id this session is stored under (after any rotation in this request)."""
    if not isinstance(session, StoreSession):
        raise TypeError("session_id needs the store-backed session")
    return session.sid


def stored_session(store: KeyValueStore, sid: str) -> dict[str, Any] | None:
    """Another browser's session, read without touching its TTL (Single Logout finds it by index)."""
    raw = store.get(SESSION_PREFIX + sid)
    if raw is None:
        return None
    data = json.loads(raw)
    return data if isinstance(data, dict) else None


def end_stored_session(store: KeyValueStore, sid: str) -> None:
    """End a session wherever its browser is: its next request starts a fresh one."""
    store.delete(SESSION_PREFIX + sid)


class StoreSessionInterface(SessionInterface):
    def __init__(self, store: KeyValueStore, cookie: CookieSettings, ttl_seconds: int) -> None:
        self.store, self.cookie, self.ttl = store, cookie, ttl_seconds

    def open_session(self, app: Flask, request: Request) -> StoreSession:
        sid = request.cookies.get(self.cookie.name, "")
        if sid and len(sid) <= 64:
            try:
                raw = self.store.get_touch(SESSION_PREFIX + sid, self.ttl)
            except StoreUnavailable:
                # Flask cannot render an error page from here: federation.web refuses the
                # request in a before_request hook instead (fail closed, never a bypass).
                g.store_unavailable = True
                raw = None
            if raw is not None:
                return StoreSession(sid, json.loads(raw))
        return StoreSession(secrets.token_urlsafe(32), is_new=True)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, StoreSession):
            raise TypeError("StoreSessionInterface saves only its own sessions")
        if g.get("store_unavailable"):
            return
        if session.previous_sid:
            self.store.delete(SESSION_PREFIX + session.previous_sid)
        if not session:
            if not session.new:
                self.store.delete(SESSION_PREFIX + session.sid)
                response.delete_cookie(self.cookie.name, path="/")
            return
        if session.modified or session.new:
            self.store.set(SESSION_PREFIX + session.sid, json.dumps(dict(session)).encode(), self.ttl)
        # The cookie's Max-Age restarts with every answer, like the TTL restarted by open_session.
        response.set_cookie(
            self.cookie.name,
            session.sid,
            max_age=self.ttl,
            path="/",
            secure=self.cookie.secure,
            httponly=True,
            samesite=self.cookie.samesite,
        )
        response.vary.add("Cookie")
