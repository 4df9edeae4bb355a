"""The school registry (DESIGN §3): establishments, students and their legal representatives.

It is imported from one CSV export (``educonnect-bridge registry import FILE.csv``, columns in the
README): one row per establishment, student or legal representative, told apart by the ``type``
column. The import is an idempotent upsert. Rows that break a rule are refused one by one, with the
reason; a file that cannot be read as a whole (encoding, CSV syntax, missing columns, a row with
the wrong number of fields) is refused entirely, so nothing is ever half-imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from federation.academie_references import InvalidReference, check_aaf_id, check_academie
from federation.vectors import InvalidUai, check_uai, is_valid_student_id

FIRST_DEGREE = 1  # école maternelle / élémentaire
SECOND_DEGREE = 2  # collège, lycée
DEGREES = (FIRST_DEGREE, SECOND_DEGREE)
RANKS = (1, 2)  # responsable légal 1 / 2

DELIMITER = ";"
COLUMNS = (
    "type",
    "uai",
    "nom",
    "prenom",
    "commune",
    "degre",
    "url_ent",
    "contact",
    "eleve",
    "date_naissance",
    "niveau",
    "rang",
    "aten_emetteur",
    "aten_identifiant",
)
# The legal representative in the académie directory (FrEduCtRefId, DESIGN §4): both or neither.
# A file without them (an export made before they existed) still imports and leaves the stored
# académie references as they are; a file with them sets them, an empty pair clears them.
ACADEMIE_COLUMNS = ("academie", "aaf_identifiant")
ESTABLISHMENT, STUDENT, REPRESENTATIVE = "etablissement", "eleve", "responsable"
_FRENCH_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
OLDEST_BIRTH_YEAR = 1900  # a birth date before is a typing error (import and « Ajout d'élèves »)
MAX_LENGTHS = {
    "nom": 200,
    "prenom": 100,
    "commune": 100,
    "url_ent": 1024,
    "contact": 255,
    "niveau": 20,
    "aten_emetteur": 1024,
    "aten_identifiant": 256,
}

# Stable reason codes of a refused row → French wording of the import report.
REASONS: dict[str, str] = {
    "uai_invalide": "UAI invalide",
    "date_impossible": "date de naissance impossible",
    "etablissement_inconnu": "établissement inconnu",
    "eleve_inconnu": "élève inconnu",
    "doublon": "doublon",
    "valeur_manquante": "valeur manquante",
    "valeur_invalide": "valeur invalide",
}


@dataclass(frozen=True)
class Establishment:
    uai: str
    name: str
    commune: str
    degree: int  # FIRST_DEGREE or SECOND_DEGREE
    ent_url: str
    contact: str = ""  # how parents reach the school (shown when a child link is blocked)


@dataclass(frozen=True)
class Student:
    id: str  # the registry's pupil id, the ``studentId`` of FrEduVecteur
    family_name: str
    given_name: str
    birth_date: dt.date
    uai: str
    level: str = ""


@dataclass(frozen=True)
class LegalRepresentative:
    student_id: str
    rank: int
    family_name: str
    given_name: str
    # The parent's ATEN identity when the registry knows it: issuer entityID + persistent NameID.
    aten_issuer: str | None = None
    aten_subject: str | None = None
    # Where the académie directory knows this person (FrEduCtRefId): two-digit code + their id.
    academie: str | None = None
    aaf_id: str | None = None

    @property
    def has_aten_identity(self) -> bool:
        return bool(self.aten_issuer and self.aten_subject)


class RegistryFileError(Exception):
    """The file as a whole cannot be imported; the message says why, in French."""


@dataclass(frozen=True)
class RefusedRow:
    line: int
    reason: str  # a key of REASONS
    detail: str

    @property
    def message(self) -> str:
        return f"ligne {self.line} : {REASONS[self.reason]} ({self.detail})"


@dataclass(frozen=True)
class RegistryImport:
    """What a file brings once validated: the accepted rows and each refused one."""

    establishments: tuple[Establishment, ...] = ()
    students: tuple[Student, ...] = ()
    representatives: tuple[LegalRepresentative, ...] = ()
    refused: tuple[RefusedRow, ...] = ()
    # False for a file without ACADEMIE_COLUMNS: the stored académie references stay untouched.
    with_academie_references: bool = True


@dataclass
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: ImportCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass(frozen=True)
class ImportReport:
    counts: ImportCounts
    refused: tuple[RefusedRow, ...]


class RegistryRepository(Protocol):
    def known_uais(self) -> set[str]: ...

    def known_student_ids(self) -> set[str]: ...

    def apply(self, registry: RegistryImport, now: dt.datetime) -> ImportCounts:
        """Upsert every accepted row in one transaction (all or nothing)."""
        ...


def import_registry(
    repository: RegistryRepository, data: bytes, today: dt.date, now: dt.datetime
) -> ImportReport:
    """Read, validate and upsert a registry file; raises RegistryFileError before any write."""
    rows = read_registry_csv(data)
    registry = validate_registry(rows, repository.known_uais(), repository.known_student_ids(), today)
    counts = repository.apply(registry, now)
    return ImportReport(counts, registry.refused)


@dataclass(frozen=True)
class RegistryRow:
    line: int  # line number in the file (the header is line 1)
    values: Mapping[str, str]


def read_registry_csv(data: bytes) -> list[RegistryRow]:
    """Decode (UTF-8, with or without BOM) and split a registry file into rows."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryFileError(
            f"le fichier n'est pas encodé en UTF-8 (octet {exc.start + 1} illisible)"
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITER, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise RegistryFileError("le fichier est vide")
        names = [name.strip().lower() for name in header]
        missing = [c for c in COLUMNS if c not in names]
        present = [c for c in ACADEMIE_COLUMNS if c in names]
        if present and len(present) != len(ACADEMIE_COLUMNS):
            missing += [c for c in ACADEMIE_COLUMNS if c not in names]
        if missing:
            raise RegistryFileError(
                f"colonnes manquantes : {', '.join(missing)} (séparateur attendu : « {DELIMITER} »)"
            )
        rows = []
        for record in reader:
            if not any(value.strip() for value in record):
                continue  # blank line
            if len(record) != len(names):
                raise RegistryFileError(
                    f"ligne {reader.line_num} : {len(record)} champs au lieu de {len(names)}"
                )
            rows.append(
                RegistryRow(reader.line_num, dict(zip(names, (v.strip() for v in record), strict=True)))
            )
    except csv.Error as exc:
        raise RegistryFileError(f"ligne {reader.line_num} illisible : {exc}") from exc
    return rows


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class _Validation:
    known_uais: Collection[str]
    known_student_ids: Collection[str]
    today: dt.date
    establishments: dict[str, Establishment] = field(default_factory=dict)
    students: dict[str, Student] = field(default_factory=dict)
    representatives: dict[tuple[str, int], LegalRepresentative] = field(default_factory=dict)
    first_lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    refused: list[RefusedRow] = field(default_factory=list)
    with_academie_references: bool = True


def validate_registry(
    rows: Iterable[RegistryRow],
    known_uais: Collection[str],
    known_student_ids: Collection[str],
    today: dt.date,
) -> RegistryImport:
    """Accept or refuse each row; establishments first, then students, then representatives.

    A key seen twice in the file (UAI, student id, student + rank) is a duplicate: the first row
    is kept, the others refused. A student's establishment must be in the file or already known,
    a representative's student likewise.
    """
    rows = list(rows)
    state = _Validation(known_uais, known_student_ids, today)
    state.with_academie_references = not rows or all(c in rows[0].values for c in ACADEMIE_COLUMNS)
    by_type: dict[str, list[RegistryRow]] = {ESTABLISHMENT: [], STUDENT: [], REPRESENTATIVE: []}
    for row in rows:
        kind = row.values.get("type", "").lower()
        if kind in by_type:
            by_type[kind].append(row)
        else:
            state.refused.append(
                RefusedRow(row.line, "valeur_invalide", f"type « {row.values.get('type', '')} » inconnu")
            )
    for kind, check in (
        (ESTABLISHMENT, _establishment),
        (STUDENT, _student),
        (REPRESENTATIVE, _representative),
    ):
        for row in by_type[kind]:
            try:
                check(state, row)
            except _Refused as refused:
                state.refused.append(RefusedRow(row.line, refused.reason, refused.detail))
    return RegistryImport(
        establishments=tuple(state.establishments.values()),
        students=tuple(state.students.values()),
        representatives=tuple(state.representatives.values()),
        refused=tuple(sorted(state.refused, key=lambda r: r.line)),
        with_academie_references=state.with_academie_references,
    )


def _required(row: RegistryRow, column: str) -> str:
    value = row.values.get(column, "")
    if not value:
        raise _Refused("valeur_manquante", f"colonne {column} vide")
    return _bounded(row, column)


def _bounded(row: RegistryRow, column: str) -> str:
    value = row.values.get(column, "")
    limit = MAX_LENGTHS.get(column)
    if limit is not None and len(value) > limit:
        raise _Refused("valeur_invalide", f"colonne {column} : plus de {limit} caractères")
    return value


def _checked_uai(value: str) -> str:
    if not value:
        raise _Refused("valeur_manquante", "colonne uai vide")
    try:
        return check_uai(value)
    except InvalidUai as exc:
        raise _Refused("uai_invalide", f"{value} : {exc}") from None


def _choice(row: RegistryRow, column: str, allowed: tuple[int, ...]) -> int:
    value = _required(row, column)
    if value not in {str(a) for a in allowed}:
        raise _Refused(
            "valeur_invalide", f"colonne {column} : « {value} » au lieu de {' ou '.join(map(str, allowed))}"
        )
    return int(value)


def _not_duplicate(state: _Validation, key: tuple[str, ...], row: RegistryRow, what: str) -> None:
    first = state.first_lines.setdefault(key, row.line)
    if first != row.line:
        raise _Refused("doublon", f"{what} déjà à la ligne {first}")


def _establishment(state: _Validation, row: RegistryRow) -> None:
    uai = _checked_uai(row.values.get("uai", ""))
    _not_duplicate(state, (ESTABLISHMENT, uai), row, f"établissement {uai}")
    url = _required(row, "url_ent")
    if not url.startswith(("https://", "http://")):
        raise _Refused("valeur_invalide", f"url_ent : « {url} » n'est pas une adresse http(s)")
    state.establishments[uai] = Establishment(
        uai=uai,
        name=_required(row, "nom"),
        commune=_required(row, "commune"),
        degree=_choice(row, "degre", DEGREES),
        ent_url=url,
        contact=_bounded(row, "contact"),
    )


def parse_registry_date(value: str, today: dt.date) -> dt.date:
    """``JJ/MM/AAAA`` (French exports) or ``AAAA-MM-JJ``; a real date, not in the future."""
    if match := _FRENCH_DATE.fullmatch(value):
        day, month, year = (int(g) for g in match.groups())
    elif match := _ISO_DATE.fullmatch(value):
        year, month, day = (int(g) for g in match.groups())
    else:
        raise _Refused("valeur_invalide", f"date_naissance « {value} » : JJ/MM/AAAA attendu")
    try:
        date = dt.date(year, month, day)
    except ValueError:
        raise _Refused("date_impossible", f"{value} n'existe pas") from None
    if date > today or year < OLDEST_BIRTH_YEAR:
        raise _Refused("date_impossible", f"{value} n'est pas une date de naissance possible")
    return date


def _student(state: _Validation, row: RegistryRow) -> None:
    student_id = _required(row, "eleve")
    if not is_valid_student_id(student_id):
        raise _Refused(
            "valeur_invalide", f"identifiant d'élève « {student_id} » : 1 à 32 lettres ou chiffres"
        )
    _not_duplicate(state, (STUDENT, student_id), row, f"élève {student_id}")
    uai = _checked_uai(row.values.get("uai", ""))
    if uai not in state.establishments and uai not in state.known_uais:
        raise _Refused("etablissement_inconnu", uai)
    state.students[student_id] = Student(
        id=student_id,
        family_name=_required(row, "nom"),
        given_name=_required(row, "prenom"),
        birth_date=parse_registry_date(_required(row, "date_naissance"), state.today),
        uai=uai,
        level=_bounded(row, "niveau"),
    )


def _representative(state: _Validation, row: RegistryRow) -> None:
    student_id = _required(row, "eleve")
    rank = _choice(row, "rang", RANKS)
    _not_duplicate(
        state, (REPRESENTATIVE, student_id, str(rank)), row, f"responsable {rank} de l'élève {student_id}"
    )
    if student_id not in state.students and student_id not in state.known_student_ids:
        raise _Refused("eleve_inconnu", student_id)
    issuer, subject = _bounded(row, "aten_emetteur"), _bounded(row, "aten_identifiant")
    if bool(issuer) != bool(subject):
        raise _Refused("valeur_invalide", "aten_emetteur et aten_identifiant vont ensemble")
    state.representatives[(student_id, rank)] = LegalRepresentative(
        student_id=student_id,
        rank=rank,
        family_name=_required(row, "nom"),
        given_name=_required(row, "prenom"),
        aten_issuer=issuer or None,
        aten_subject=subject or None,
        **_academie_reference(state, row),
    )


def _academie_reference(state: _Validation, row: RegistryRow) -> dict[str, str | None]:
    if not state.with_academie_references:
        return {}
    academie, aaf_id = (row.values.get(c, "") for c in ACADEMIE_COLUMNS)
    if bool(academie) != bool(aaf_id):
        raise _Refused("valeur_manquante", "academie et aaf_identifiant vont ensemble")
    if not academie:
        return {"academie": None, "aaf_id": None}
    try:
        check_academie(academie)
    except InvalidReference as exc:
        raise _Refused("valeur_invalide", f"colonne academie : {exc}") from None
    try:
        check_aaf_id(aaf_id)
    except InvalidReference as exc:
        raise _Refused("valeur_invalide", f"colonne aaf_identifiant : {exc}") from None
    return {"academie": academie, "aaf_id": aaf_id}
