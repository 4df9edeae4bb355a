"""An ATEN parent as the rest of the service sees it, and what a directory backend must offer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from aten_adapter.domain.uai import is_valid_uai

PROFILE_FIRST_DEGREE = "1"  # responsable d'un élève du 1er degré (école)
PROFILE_SECOND_DEGREE = "2"  # responsable d'un élève du 2nd degré (collège, lycée)
VECTOR_SEPARATOR = "|"
_STUDENT_ID = re.compile(r"[A-Za-z0-9]{1,32}")


class InvalidVector(ValueError):
    """A ``FrEduVecteur`` value that does not have the ÉduConnect form."""


@dataclass(frozen=True)
class ChildVector:
    """One ``FrEduVecteur`` value: ``type|NOM|Prénom|studentId|UAI`` (DESIGN §4).

    ``type`` is the parent's profile for this child (1 = 1er degré, 2 = 2nd degré); ``NOM`` and
    ``Prénom`` are the *parent's* names, as ÉduConnect and ATEN put them; ``studentId`` is the
    pupil's id in the school registry and ``UAI`` the establishment.
    """

    profile: str
    family_name: str
    given_name: str
    student_id: str
    uai: str

    @property
    def value(self) -> str:
        return VECTOR_SEPARATOR.join(
            (self.profile, self.family_name, self.given_name, self.student_id, self.uai)
        )


def parse_vector(value: str) -> ChildVector:
    """Parse one value strictly, without normalising it: ``parse_vector(v).value == v``."""
    parts = value.split(VECTOR_SEPARATOR)
    if len(parts) != 5:
        raise InvalidVector(f"5 champs attendus, {len(parts)} trouvés")
    profile, family_name, given_name, student_id, uai = parts
    if profile not in (PROFILE_FIRST_DEGREE, PROFILE_SECOND_DEGREE):
        raise InvalidVector(f"type {profile!r} : 1 ou 2 attendu")
    for label, name in (("NOM", family_name), ("Prénom", given_name)):
        if not name or name != name.strip():
            raise InvalidVector(f"{label} vide ou entouré d'espaces")
    if not _STUDENT_ID.fullmatch(student_id):
        raise InvalidVector(f"identifiant d'élève {student_id!r} invalide")
    if not is_valid_uai(uai):
        raise InvalidVector(f"UAI {uai!r} invalide")
    return ChildVector(profile, family_name, given_name, student_id, uai)


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
