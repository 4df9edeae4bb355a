"""Choix de l'établissement (DESIGN §2 D): which establishments a parent may enter, and their names.

The establishments are those of the ``FrEduVecteur`` values ÉduConnect released
(``type|NOM|Prénom|studentId|UAI``, one per confirmed child, read by :mod:`federation.vectors`):
a choice is only ever checked against that set, never trusted from a form or a URL. Names come
from the ENT's own directory (two CSV files, see README); an establishment the directory does not
know is shown by its UAI.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from federation.errors import ConfigurationError
from federation.vectors import (
    VECTOR_ATTRIBUTE,
    ChildVector,
    is_valid_student_id,
    is_valid_uai,
    well_formed_vectors,
)
from sp_ent.errors import EstablishmentNotReleased

ESTABLISHMENT_COLUMNS = ("uai", "nom", "commune", "degre")
PUPIL_COLUMNS = ("eleve", "prenom", "nom", "niveau", "uai")


def released_children(attributes: Mapping[str, Sequence[str]]) -> list[ChildVector]:
    """The well-formed FrEduVecteur values of the assertion (others are ignored)."""
    return well_formed_vectors(attributes.get(VECTOR_ATTRIBUTE, ()))


def released_uais(attributes: Mapping[str, Sequence[str]]) -> list[str]:
    """The children's establishments, each once, in the order ÉduConnect listed them."""
    return list(dict.fromkeys(child.uai for child in released_children(attributes)))


def chosen_establishment(uai: str, attributes: Mapping[str, Sequence[str]]) -> str:
    """The parent's choice if ÉduConnect released a child there; EstablishmentNotReleased otherwise."""
    if uai not in released_uais(attributes):
        raise EstablishmentNotReleased(f"UAI {uai[:16]!r} not among the released establishments")
    return uai


@dataclass(frozen=True)
class Establishment:
    uai: str
    name: str
    commune: str = ""
    degree: str = ""  # "1" or "2" when the directory knows it


@dataclass(frozen=True)
class Pupil:
    student_id: str
    given_name: str
    family_name: str
    level: str
    uai: str


@dataclass(frozen=True)
class EntDirectory:
    """The ENT's own knowledge of establishments and pupils (names only: no birth dates)."""

    establishments: Mapping[str, Establishment] = field(default_factory=dict)
    pupils: Mapping[str, Pupil] = field(default_factory=dict)

    def establishment(self, uai: str) -> Establishment:
        return self.establishments.get(uai) or Establishment(uai, f"Établissement {uai}")

    def pupil(self, student_id: str) -> Pupil | None:
        return self.pupils.get(student_id)


def _rows(text: str, columns: tuple[str, ...], source: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";", strict=True)
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigurationError(f"{source} : colonnes manquantes : {', '.join(missing)}")
    try:
        return [{c: (row.get(c) or "").strip() for c in columns} for row in reader]
    except csv.Error as exc:
        raise ConfigurationError(f"{source} : ligne {reader.line_num} illisible ({exc})") from exc


def read_establishments(text: str, source: str = "établissements") -> dict[str, Establishment]:
    found = {}
    for row in _rows(text, ESTABLISHMENT_COLUMNS, source):
        if not is_valid_uai(row["uai"]) or not row["nom"]:
            raise ConfigurationError(f"{source} : UAI invalide ou nom vide ({row['uai']!r})")
        found[row["uai"]] = Establishment(row["uai"], row["nom"], row["commune"], row["degre"])
    return found


def read_pupils(text: str, source: str = "élèves") -> dict[str, Pupil]:
    found = {}
    for row in _rows(text, PUPIL_COLUMNS, source):
        if not is_valid_student_id(row["eleve"]) or not is_valid_uai(row["uai"]):
            raise ConfigurationError(f"{source} : élève ou UAI invalide ({row['eleve']!r})")
        found[row["eleve"]] = Pupil(row["eleve"], row["prenom"], row["nom"], row["niveau"], row["uai"])
    return found


def load_directory(establishments_csv: Path | None, pupils_csv: Path | None) -> EntDirectory:
    """Read once at start-up; a configured file that is missing or broken stops the start."""

    def text(path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{path} : illisible ({exc})") from exc

    return EntDirectory(
        establishments=read_establishments(text(establishments_csv), str(establishments_csv))
        if establishments_csv
        else {},
        pupils=read_pupils(text(pupils_csv), str(pupils_csv)) if pupils_csv else {},
    )
