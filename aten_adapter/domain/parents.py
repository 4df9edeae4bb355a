"""An ATEN parent as the rest of the service sees it, and what a directory backend must offer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from federation.vectors import ChildVector


@dataclass(frozen=True)
class Parent:
    """A parent entry of the ATEN directory, after a successful password check."""

    uid: str
    persistent_id: str  # value of the persistent NameID, see directory/entries.py
    family_name: str
    given_name: str
    mail: str | None
    children: tuple[ChildVector, ...]


class ParentDirectory(Protocol):
    """What ATEN needs from its directory (an LDIF file, an LDAP server)."""

    def authenticate(self, uid: str, password: str) -> Parent | None:
        """The parent whose ``uid`` and password both match; ``None`` for any mismatch.

        ``uid`` arrives normalised (lowercase, allowed characters only) but a backend must stay
        safe for any string. An empty password is never a match. Raises
        :class:`~aten_adapter.domain.errors.DirectoryUnavailable` when the directory cannot answer.
        """
        ...

    def check(self) -> None:
        """Raise :class:`~aten_adapter.domain.errors.DirectoryUnavailable` if it cannot answer."""
        ...
