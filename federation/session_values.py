"""Writing one value of a typed session (``EntSession``, ``AtenSession``…) into the session mapping.

The store-backed session (``federation.sessions``) is written back only when modified: a value
set again to what it already was would cost a store write on every request, so it is not set.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any


def put_session_value(session: MutableMapping[str, Any], key: str, value: object) -> None:
    """Set ``key`` to ``value`` if it differs; None removes the key."""
    if value is None:
        if key in session:
            del session[key]
    elif session.get(key) != value:
        session[key] = value
