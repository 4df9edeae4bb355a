"""The values that name a child across the services: ``FrEduVecteur``, the UAI, the student id.

ATEN releases one ``FrEduVecteur`` per child to ÉduConnect, ÉduConnect reads them to find the
children and releases its own to the ENT, the ENT reads those to offer the establishments. All of
them parse and format these values here, with one rule set (DESIGN §3, §4).

``FrEduVecteur`` is ``type|NOM|Prénom|studentId|UAI``:

* exactly five fields separated by ``|``;
* ``type`` is the parent's profile for this child: ``1`` for a pupil of the 1er degré (école),
  ``2`` for the 2nd degré (collège, lycée);
* ``NOM`` and ``Prénom`` are the *parent's* names, not empty, without a space at either end (a
  name keeps its case, accents, apostrophes and inner spaces: ``LE GOFF``, ``D'ALMEIDA``);
* ``studentId`` is the pupil's id in the school registry: 1 to 32 ASCII letters or digits;
* ``UAI`` is the establishment: seven digits and the check letter
  ``"ABCDEFGHJKLMNPRSTUVWXYZ"[int(digits) % 23]`` (I, O and Q are never used), so ``0860001J``
  is valid and ``0860001A`` is not.

Nothing is normalised, so a value read is the value sent: ``parse_vector(v).value == v``. A
:class:`ChildVector` cannot be built from parts that break a rule, so what is formatted is what
every reader accepts. :func:`parse_vector` raises :class:`InvalidVector` with the reason;
:func:`well_formed_vectors` is the reader of a received attribute: it keeps the well-formed values
and skips the others (the school registry decides which children are the parent's anyway).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

VECTOR_ATTRIBUTE = "FrEduVecteur"  # its SAML Name and OIDC claim (DESIGN §4)
VECTOR_SEPARATOR = "|"
PROFILE_FIRST_DEGREE = "1"  # responsable d'un élève du 1er degré (école)
PROFILE_SECOND_DEGREE = "2"  # responsable d'un élève du 2nd degré (collège, lycée)
PROFILES = (PROFILE_FIRST_DEGREE, PROFILE_SECOND_DEGREE)

STUDENT_ID_PATTERN = "[A-Za-z0-9]{1,32}"  # for composing larger patterns (form field names)
_STUDENT_ID = re.compile(STUDENT_ID_PATTERN)

UAI_CHECK_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_UAI_FORM = re.compile(r"[0-9]{7}[A-Z]")
_UAI_DIGITS = re.compile(r"[0-9]{7}")


# --- UAI (Unité Administrative Immatriculée) -----------------------------------------------


class InvalidUai(ValueError):
    """Not a UAI; the message says why, in French (it ends up in the registry import report)."""


def uai_check_letter(digits: str) -> str:
    """The check letter of seven digits, e.g. ``J`` for ``0860001``; ValueError for other input."""
    if not _UAI_DIGITS.fullmatch(digits):
        raise ValueError(f"7 chiffres attendus : {digits!r}")
    return UAI_CHECK_LETTERS[int(digits) % 23]


def check_uai(value: str) -> str:
    """``value`` when it is a UAI; :class:`InvalidUai` with the reason otherwise."""
    if not _UAI_FORM.fullmatch(value):
        raise InvalidUai("7 chiffres et une lettre attendus")
    expected = uai_check_letter(value[:7])
    if value[7] != expected:
        raise InvalidUai(f"lettre de contrôle attendue {expected}")
    return value


def is_valid_uai(value: str) -> bool:
    try:
        check_uai(value)
    except InvalidUai:
        return False
    return True


# --- student id ----------------------------------------------------------------------------


def is_valid_student_id(value: str) -> bool:
    return bool(_STUDENT_ID.fullmatch(value))


# --- FrEduVecteur --------------------------------------------------------------------------


class InvalidVector(ValueError):
    """A ``FrEduVecteur`` value (or its parts) without the ÉduConnect form; the message says why."""


@dataclass(frozen=True)
class ChildVector:
    """One ``FrEduVecteur`` value; building one checks every rule of the module docstring."""

    profile: str  # PROFILE_FIRST_DEGREE or PROFILE_SECOND_DEGREE
    family_name: str  # the parent's
    given_name: str  # the parent's
    student_id: str
    uai: str

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise InvalidVector(f"type {self.profile!r} : 1 ou 2 attendu")
        for label, name in (("NOM", self.family_name), ("Prénom", self.given_name)):
            if not name or name != name.strip():
                raise InvalidVector(f"{label} vide ou entouré d'espaces")
            if VECTOR_SEPARATOR in name:
                raise InvalidVector(f"{label} contient {VECTOR_SEPARATOR!r}")
        if not is_valid_student_id(self.student_id):
            raise InvalidVector(f"identifiant d'élève {self.student_id!r} invalide")
        try:
            check_uai(self.uai)
        except InvalidUai as exc:
            raise InvalidVector(f"UAI {self.uai!r} invalide : {exc}") from None

    @property
    def value(self) -> str:
        """The wire value, ``type|NOM|Prénom|studentId|UAI``."""
        return VECTOR_SEPARATOR.join(
            (self.profile, self.family_name, self.given_name, self.student_id, self.uai)
        )


def parse_vector(value: str) -> ChildVector:
    """Parse one value strictly, without normalising it: ``parse_vector(v).value == v``."""
    parts = value.split(VECTOR_SEPARATOR)
    if len(parts) != 5:
        raise InvalidVector(f"5 champs attendus, {len(parts)} trouvés")
    profile, family_name, given_name, student_id, uai = parts
    return ChildVector(profile, family_name, given_name, student_id, uai)


def well_formed_vectors(
    values: Iterable[str], on_invalid: Callable[[str, InvalidVector], None] | None = None
) -> list[ChildVector]:
    """The values that parse, in order; each other one is skipped (and given to ``on_invalid``)."""
    vectors = []
    for value in values:
        try:
            vectors.append(parse_vector(value))
        except InvalidVector as exc:
            if on_invalid is not None:
                on_invalid(value, exc)
    return vectors
