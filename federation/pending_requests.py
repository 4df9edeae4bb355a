"""Requests a browser sent to another service and awaits the answer to, kept in its session.

The ENT's SAML AuthnRequests (SAML core §3.4.1: the Response's ``InResponseTo``), the ENT's OpenID
Connect authorization requests (by ``state``, OIDC Core §3.1.2.1) and ÉduConnect's AuthnRequests
to ATEN are all tracked the same way: a few at once (several tabs), the oldest forgotten first,
each answered once, none after ``ttl_seconds`` (DESIGN §5: InResponseTo must match a pending
request of this browser). The clock is passed in: ``now`` is seconds since the epoch.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

_ISSUED_AT = "at"
_DATA = "data"


@dataclass(frozen=True)
class PendingRequests:
    """One kind of pending request, stored under ``key`` of a session mapping."""

    key: str
    max_count: int
    ttl_seconds: int

    def add(
        self,
        session: MutableMapping[str, Any],
        request_id: str,
        now: float,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Remember a request just sent; beyond ``max_count`` the oldest ones are forgotten."""
        entries = {**self._entries(session), request_id: {_ISSUED_AT: now, _DATA: data or {}}}
        newest = sorted(entries.items(), key=lambda item: float(item[1][_ISSUED_AT]))[-self.max_count :]
        session[self.key] = dict(newest)

    def outstanding(self, session: MutableMapping[str, Any], now: float) -> dict[str, dict[str, Any]]:
        """The requests still awaiting an answer, by id: sent less than ``ttl_seconds`` ago."""
        return {
            request_id: dict(entry[_DATA])
            for request_id, entry in self._entries(session).items()
            if self._is_live(entry, now)
        }

    def consume(
        self, session: MutableMapping[str, Any], request_id: str, now: float
    ) -> dict[str, Any] | None:
        """Take a request out (answered once); None when it is unknown or has expired."""
        entries = self._entries(session)
        entry = entries.pop(request_id, None)
        if entry is None:
            return None
        session[self.key] = entries
        return dict(entry[_DATA]) if self._is_live(entry, now) else None

    def clear(self, session: MutableMapping[str, Any]) -> None:
        session.pop(self.key, None)

    def _is_live(self, entry: dict[str, Any], now: float) -> bool:
        return float(entry[_ISSUED_AT]) + self.ttl_seconds > now

    def _entries(self, session: MutableMapping[str, Any]) -> dict[str, dict[str, Any]]:
        stored = session.get(self.key)
        if not isinstance(stored, dict):
            return {}
        return {
            str(request_id): entry
            for request_id, entry in stored.items()
            if isinstance(entry, dict) and isinstance(entry.get(_ISSUED_AT), int | float)
        }
