"""The school registry's domain: reading and validating the CSV export (UAIs: test_vectors.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from idp.domain.school_registry import (
    ACADEMIE_COLUMNS,
    COLUMNS,
    ImportCounts,
    RegistryFileError,
    RegistryImport,
    import_registry,
    read_registry_csv,
    validate_registry,
)

TODAY = dt.date(2026, 11, 30)
HEADER = ";".join(COLUMNS)
DEMO_CSV = Path(__file__).resolve().parents[2] / "config" / "demo" / "registry.csv"


def row(kind: str, **values: str) -> str:
    return ";".join([kind, *(values.get(c, "") for c in COLUMNS[1:])])


def establishment(uai: str = "0860001J", degre: str = "2", **more: str) -> str:
    values = {"uai": uai, "nom": "Collège Test", "commune": "Poitiers", "degre": degre}
    values |= {"url_ent": f"https://ent.test/etablissement/{uai}"} | more
    return row("etablissement", **values)


def pupil(eleve: str = "100001", uai: str = "0860001J", date: str = "14/03/2013", **more: str) -> str:
    values = {"eleve": eleve, "uai": uai, "nom": "DURAND", "prenom": "Léa", "date_naissance": date} | more
    return row("eleve", **values)


def representative(eleve: str = "100001", rang: str = "1", **more: str) -> str:
    return row("responsable", **({"eleve": eleve, "rang": rang, "nom": "Durand", "prenom": "Marie"} | more))


def validate(*lines: str, known_uais: set[str] | None = None, known_students: set[str] | None = None):
    data = "\n".join([HEADER, *lines]).encode()
    return validate_registry(read_registry_csv(data), known_uais or set(), known_students or set(), TODAY)


# --- accepted rows ----------------------------------------------------------------------------


def test_a_complete_file_is_accepted():
    result = validate(
        establishment(contact="Secrétariat : 05 36 49 10 02"),
        pupil(niveau="5e"),
        representative(aten_emetteur="https://aten.test/saml/metadata", aten_identifiant="abc"),
        representative(rang="2", nom="Durand", prenom="Paul"),
    )
    assert result.refused == ()
    (etab,) = result.establishments
    assert (etab.uai, etab.degree, etab.contact) == ("0860001J", 2, "Secrétariat : 05 36 49 10 02")
    (student,) = result.students
    assert (student.id, student.birth_date, student.level) == ("100001", dt.date(2013, 3, 14), "5e")
    first, second = result.representatives
    assert first.has_aten_identity and not second.has_aten_identity


def test_rows_may_come_in_any_order_and_iso_dates_are_accepted():
    result = validate(representative(), pupil(date="2013-03-14"), establishment())
    assert result.refused == () and len(result.representatives) == 1
    assert result.students[0].birth_date == dt.date(2013, 3, 14)


def test_known_establishments_and_students_are_accepted_references():
    result = validate(
        pupil(), representative(eleve="100009"), known_uais={"0860001J"}, known_students={"100009"}
    )
    assert result.refused == ()


def test_the_demo_registry_is_valid():
    rows = read_registry_csv(DEMO_CSV.read_bytes())
    result = validate_registry(rows, set(), set(), TODAY)
    assert result.refused == ()
    degrees = {e.degree for e in result.establishments}
    assert len(result.establishments) >= 4 and degrees == {1, 2}


# --- refused rows: one reason each ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason", "detail"),
    [
        (establishment(uai="0860001A"), "uai_invalide", "lettre de contrôle attendue J"),
        (establishment(uai="86001J"), "uai_invalide", "7 chiffres et une lettre"),
        (pupil(uai="0860001A"), "uai_invalide", "0860001A"),
        (pupil(date="31/02/2013"), "date_impossible", "31/02/2013 n'existe pas"),
        (pupil(date="29/02/2015"), "date_impossible", "n'existe pas"),
        (pupil(date="01/01/2027"), "date_impossible", "pas une date de naissance possible"),
        (pupil(date="14-03-2013"), "valeur_invalide", "JJ/MM/AAAA"),
        (pupil(uai="0860002K"), "etablissement_inconnu", "0860002K"),
        (representative(eleve="999999"), "eleve_inconnu", "999999"),
        (establishment(uai="0860002K", degre="3"), "valeur_invalide", "degre"),
        (establishment(uai="0860002K", url_ent="ent.test"), "valeur_invalide", "url_ent"),
        (establishment(uai="0860002K", nom=""), "valeur_manquante", "nom"),
        (pupil(prenom=""), "valeur_manquante", "prenom"),
        (pupil(eleve="10 01"), "valeur_invalide", "identifiant d'élève"),
        (representative(eleve="100000", rang="3"), "valeur_invalide", "rang"),
        (
            representative(eleve="100000", aten_emetteur="https://aten.test/saml/metadata"),
            "valeur_invalide",
            "aten_identifiant",
        ),
        (row("professeur", nom="X"), "valeur_invalide", "type « professeur » inconnu"),
        (establishment(uai="0860002K", nom="x" * 201), "valeur_invalide", "plus de 200 caractères"),
    ],
)
def test_each_kind_of_bad_row_is_refused_with_its_reason(line, reason, detail):
    result = validate(establishment(), pupil(eleve="100000"), line)
    assert len(result.refused) == 1, result.refused
    refused = result.refused[0]
    assert (refused.line, refused.reason) == (4, reason)
    assert detail in refused.message and refused.message.startswith("ligne 4 : ")
    assert len(result.establishments) == 1 and len(result.students) == 1  # the good rows stay


@pytest.mark.parametrize(
    ("lines", "what"),
    [
        (
            [establishment(), establishment(commune="Niort"), pupil()],
            "établissement 0860001J déjà à la ligne 2",
        ),
        ([establishment(), pupil(), pupil(date="15/03/2013")], "élève 100001 déjà à la ligne 3"),
        (
            [establishment(), pupil(), representative(), representative(prenom="Paul")],
            "responsable 1 de l'élève 100001 déjà à la ligne 4",
        ),
    ],
)
def test_duplicates_keep_the_first_row_and_refuse_the_others(lines, what):
    result = validate(*lines)
    (refused,) = result.refused
    assert refused.reason == "doublon" and what in refused.message
    assert result.establishments[0].commune == "Poitiers"
    assert result.students[0].birth_date == dt.date(2013, 3, 14)
    assert all(r.given_name == "Marie" for r in result.representatives)


def test_rows_depending_on_a_refused_row_are_refused_too():
    result = validate(establishment(uai="0860001A"), pupil(uai="0860001J"), representative())
    assert [r.reason for r in result.refused] == ["uai_invalide", "etablissement_inconnu", "eleve_inconnu"]
    # HEADER is an older export's, without ACADEMIE_COLUMNS: no académie reference is touched.
    assert result == RegistryImport(refused=result.refused, with_academie_references=False)


# --- broken files: nothing at all ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "le fichier est vide"),
        (("\n".join([HEADER, establishment()])).encode("latin-1"), "n'est pas encodé en UTF-8"),
        (b"type,uai,nom\netablissement,0860001J,X", "colonnes manquantes"),
        (";".join(COLUMNS[:-1]).encode() + b"\n", "colonnes manquantes : aten_identifiant"),
        (("\n".join([HEADER, establishment() + ";en trop"])).encode(), "ligne 2 : 15 champs au lieu de 14"),
        (("\n".join([HEADER, establishment(), 'eleve;"0860001J;DURAND'])).encode(), "illisible"),
        (("\n".join([HEADER, establishment(), 'eleve;"0860001J"x;DURAND' + ";" * 11])).encode(), "illisible"),
    ],
)
def test_a_broken_file_is_refused_as_a_whole(data, message):
    with pytest.raises(RegistryFileError, match=message):
        read_registry_csv(data)


def test_bom_blank_lines_and_header_case_are_tolerated():
    data = ("\ufeff" + HEADER.upper() + "\n\n" + establishment() + "\n;;;\n").encode()
    assert [r.line for r in read_registry_csv(data)] == [3]


class FakeRegistry:
    def __init__(self) -> None:
        self.applied: list[RegistryImport] = []

    def known_uais(self) -> set[str]:
        return {"0790012J"}

    def known_student_ids(self) -> set[str]:
        return set()

    def apply(self, registry: RegistryImport, now: dt.datetime) -> ImportCounts:
        self.applied.append(registry)
        return ImportCounts(created=len(registry.students))


def test_import_writes_nothing_when_the_file_is_broken():
    repo = FakeRegistry()
    with pytest.raises(RegistryFileError):
        import_registry(repo, b"\xff\xfe", TODAY, dt.datetime(2026, 11, 30, tzinfo=dt.UTC))
    assert repo.applied == []


def test_import_validates_against_what_the_repository_knows():
    repo = FakeRegistry()
    data = "\n".join([HEADER, pupil(uai="0790012J"), pupil(eleve="100002", uai="0860001J")]).encode()
    report = import_registry(repo, data, TODAY, dt.datetime(2026, 11, 30, tzinfo=dt.UTC))
    assert report.counts.created == 1
    assert [r.reason for r in report.refused] == ["etablissement_inconnu"]


# --- académie references (FrEduCtRefId): academie + aaf_identifiant ------------------------

WITH_REFERENCES = ";".join((*COLUMNS, *ACADEMIE_COLUMNS))


def with_references(*lines: str, academie: str = "", aaf: str = "") -> list[str]:
    """``lines`` (old-format rows) with the two columns; the representatives' get these values."""
    rows = []
    for line in lines:
        extra = (academie, aaf) if line.startswith("responsable;") else ("", "")
        rows.append(";".join((line, *extra)))
    return rows


def validate_with_references(*lines: str) -> RegistryImport:
    data = "\n".join([WITH_REFERENCES, *lines]).encode()
    return validate_registry(read_registry_csv(data), set(), set(), TODAY)


def test_a_representative_gets_its_academie_reference():
    result = validate_with_references(
        *with_references(establishment(), pupil(), representative(), academie="13", aaf="4100001")
    )
    assert result.refused == () and result.with_academie_references
    (rep,) = result.representatives
    assert (rep.academie, rep.aaf_id) == ("13", "4100001")


def test_both_academie_columns_empty_is_no_reference():
    result = validate_with_references(*with_references(establishment(), pupil(), representative()))
    assert result.refused == () and result.with_academie_references
    assert (result.representatives[0].academie, result.representatives[0].aaf_id) == (None, None)


@pytest.mark.parametrize(
    ("academie", "aaf", "reason", "message"),
    [
        ("99", "4100001", "valeur_invalide", "colonne academie : « 99 » : code d'académie inconnu"),
        ("3", "4100001", "valeur_invalide", "colonne academie : « 3 » : code d'académie inconnu"),
        (
            "13",
            "41 00",
            "valeur_invalide",
            "colonne aaf_identifiant : « 41 00 » : 1 à 64 lettres ou chiffres",
        ),
        ("13", "a|b", "valeur_invalide", "colonne aaf_identifiant : « a|b »"),
        ("13", "x" * 65, "valeur_invalide", "1 à 64 lettres ou chiffres"),
        ("13", "", "valeur_manquante", "academie et aaf_identifiant vont ensemble"),
        ("", "4100001", "valeur_manquante", "academie et aaf_identifiant vont ensemble"),
    ],
)
def test_bad_academie_references_are_refused_with_the_reason(academie, aaf, reason, message):
    lines = with_references(establishment(), pupil(), representative(), academie=academie, aaf=aaf)
    result = validate_with_references(*lines)
    (refused,) = result.refused
    assert refused.line == 4 and refused.reason == reason and message in refused.message
    assert result.representatives == ()


def test_a_file_with_only_one_academie_column_is_refused_whole():
    data = "\n".join([HEADER + ";academie", establishment() + ";"]).encode()
    with pytest.raises(RegistryFileError, match="colonnes manquantes : aaf_identifiant"):
        read_registry_csv(data)


def test_an_older_file_without_the_academie_columns_still_imports():
    result = validate(establishment(), pupil(), representative())
    assert result.refused == () and not result.with_academie_references
    assert len(result.representatives) == 1


def test_the_demo_registry_gives_every_representative_an_academie_reference():
    result = validate_registry(read_registry_csv(DEMO_CSV.read_bytes()), set(), set(), TODAY)
    assert result.refused == () and result.with_academie_references
    assert {(r.academie, r.aaf_id is not None) for r in result.representatives} == {("13", True)}
