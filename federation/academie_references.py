"""``FrEduCtRefId``: where an académie directory (AAF) knows a person, the ENT's join key.

ÉduConnect releases one value per académie that knows the parent as a legal representative
(DESIGN §4); the school registry gives, per representative, the académie code and the person's
identifier in that académie's directory. The ENT (edificeio/entcore, ``SSOEduConnect``) keeps the
values that start with ``{AAF}``, splits the rest on ``|`` into exactly three fields and looks up
the user whose ``externalId`` is ``<ACADÉMIE>-<identifier>``.

A value is ``{AAF}<académie>|PersRelEleve|<identifier>``:

* ``académie``: the two-digit code of the académie (``13`` for Poitiers), one of :data:`ACADEMIES`;
* ``PersRelEleve``: the kind of directory record, a legal representative (the ENT does not read it);
* ``identifier``: the person's id in the académie directory, 1 to 64 ASCII letters or digits (so
  never ``|`` nor a space, and never empty, which the ENT's split would drop).

Nothing is normalised: ``parse_reference(v).value == v``; an :class:`AcademieReference` cannot be
built from parts that break a rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REFERENCE_ATTRIBUTE = "FrEduCtRefId"  # its SAML Name (basic name format) and OIDC claim
AAF_PREFIX = "{AAF}"
SEPARATOR = "|"
REPRESENTATIVE_RECORD = "PersRelEleve"
AAF_ID_PATTERN = "[A-Za-z0-9]{1,64}"
AAF_ID_MAX_LENGTH = 64
_AAF_ID = re.compile(AAF_ID_PATTERN)

# The académies and their two-digit codes (Éducation nationale nomenclature).
ACADEMIES: dict[str, str] = {
    "01": "Paris",
    "02": "Aix-Marseille",
    "03": "Besançon",
    "04": "Bordeaux",
    "05": "Caen",
    "06": "Clermont-Ferrand",
    "07": "Dijon",
    "08": "Grenoble",
    "09": "Lille",
    "10": "Lyon",
    "11": "Montpellier",
    "12": "Nancy-Metz",
    "13": "Poitiers",
    "14": "Rennes",
    "15": "Strasbourg",
    "16": "Toulouse",
    "17": "Nantes",
    "18": "Orléans-Tours",
    "19": "Reims",
    "20": "Amiens",
    "21": "Rouen",
    "22": "Limoges",
    "23": "Nice",
    "24": "Créteil",
    "25": "Versailles",
    "27": "Corse",
    "28": "La Réunion",
    "31": "Martinique",
    "32": "Guadeloupe",
    "33": "Guyane",
    "40": "Nouvelle-Calédonie",
    "41": "Polynésie française",
    "42": "Wallis-et-Futuna",
    "43": "Mayotte",
    "44": "Saint-Pierre-et-Miquelon",
    "70": "Normandie",
}


class InvalidReference(ValueError):
    """Not a ``FrEduCtRefId`` (or one of its parts); the message says why, in French."""


def check_academie(code: str) -> str:
    """``code`` when it is an académie code; :class:`InvalidReference` with the reason otherwise."""
    if code not in ACADEMIES:
        raise InvalidReference(f"« {code} » : code d'académie inconnu (2 chiffres, 13 pour Poitiers)")
    return code


def check_aaf_id(value: str) -> str:
    if not _AAF_ID.fullmatch(value):
        raise InvalidReference(f"« {value} » : 1 à {AAF_ID_MAX_LENGTH} lettres ou chiffres attendus")
    return value


@dataclass(frozen=True, order=True)
class AcademieReference:
    academie: str  # two-digit code, a key of ACADEMIES
    person_id: str  # the person's id in that académie's directory

    def __post_init__(self) -> None:
        check_academie(self.academie)
        check_aaf_id(self.person_id)

    @property
    def value(self) -> str:
        """The wire value, ``{AAF}<académie>|PersRelEleve|<identifier>``."""
        return AAF_PREFIX + SEPARATOR.join((self.academie, REPRESENTATIVE_RECORD, self.person_id))


def parse_reference(value: str) -> AcademieReference:
    """Parse one value strictly, without normalising it: ``parse_reference(v).value == v``."""
    if not value.startswith(AAF_PREFIX):
        raise InvalidReference(f"{AAF_PREFIX} attendu en tête")
    parts = value[len(AAF_PREFIX) :].split(SEPARATOR)
    if len(parts) != 3:
        raise InvalidReference(f"3 champs attendus, {len(parts)} trouvés")
    academie, record, person_id = parts
    if record != REPRESENTATIVE_RECORD:
        raise InvalidReference(f"« {record} » au lieu de {REPRESENTATIVE_RECORD}")
    return AcademieReference(academie, person_id)
