"""``educonnect-bridge registry import`` on SQLite and on the real PostgreSQL: upsert, reports,
idempotence, and nothing imported from a broken file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from educonnect_bridge.cli import main
from federation.migrations import upgrade
from idp.domain.school_registry import ACADEMIE_COLUMNS, COLUMNS
from idp.storage.registry_models import (
    EstablishmentRow,
    LegalRepresentativeRow,
    RegistryAuditRow,
    StudentRow,
)
from tests.registry_helpers import random_student_id, random_uai, registry_for, sessions_for

DEMO_CSV = Path(__file__).resolve().parents[2] / "config" / "demo" / "registry.csv"
HEADER = ";".join(COLUMNS)


def line(kind: str, **values: str) -> str:
    return ";".join([kind, *(values.get(c, "") for c in COLUMNS[1:])])


def registry_file(tmp_path: Path, *lines: str, name: str = "registre.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def run(database_url: str, tmp_path: Path, *args: str):
    env = {
        "DATABASE_URL": database_url,
        "EDUCONNECT_MODE": "demo",
        "EDUCONNECT_STATE_DIR": str(tmp_path / "var"),
    }
    return CliRunner().invoke(main, ["registry", *args], env=env, catch_exceptions=False)


def count(database_url: str, model: type, **where: str) -> int:
    with sessions_for(database_url)() as db:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return db.scalar(query) or 0


@pytest.fixture
def school() -> dict[str, str]:
    return {"uai": random_uai(), "pupil": random_student_id(), "other": random_student_id()}


def good_lines(school: dict[str, str], commune: str = "Poitiers") -> list[str]:
    uai, pupil = school["uai"], school["pupil"]
    return [
        line(
            "etablissement",
            uai=uai,
            nom="Collège Test",
            commune=commune,
            degre="2",
            url_ent="https://e.test/",
        ),
        line(
            "eleve",
            uai=uai,
            nom="DURAND",
            prenom="Léa",
            eleve=pupil,
            date_naissance="14/03/2013",
            niveau="5e",
        ),
        line("responsable", nom="Durand", prenom="Marie", eleve=pupil, rang="1"),
    ]


def test_cli_imports_reports_and_reimports_idempotently(database_url, tmp_path, school):
    path = registry_file(tmp_path, *good_lines(school))
    first = run(database_url, tmp_path, "import", str(path))
    assert first.exit_code == 0, first.output
    assert "3 ligne(s) créée(s), 0 modifiée(s), 0 inchangée(s), 0 refusée(s)" in first.output
    again = run(database_url, tmp_path, "import", str(path))
    assert "0 ligne(s) créée(s), 0 modifiée(s), 3 inchangée(s), 0 refusée(s)" in again.output
    assert count(database_url, StudentRow, id=school["pupil"]) == 1
    assert count(database_url, LegalRepresentativeRow, student_id=school["pupil"]) == 1
    changed = registry_file(tmp_path, *good_lines(school, commune="Niort"), name="modifie.csv")
    third = run(database_url, tmp_path, "import", str(changed))
    assert "0 ligne(s) créée(s), 1 modifiée(s), 2 inchangée(s)" in third.output
    with sessions_for(database_url)() as db:
        assert db.get(EstablishmentRow, school["uai"]).commune == "Niort"  # type: ignore[union-attr]


def test_cli_lists_each_refused_row_with_its_reason(database_url, tmp_path, school):
    uai = school["uai"]
    bad_uai = uai[:7] + ("A" if uai[7] != "A" else "B")
    path = registry_file(
        tmp_path,
        *good_lines(school),
        line("etablissement", uai=bad_uai, nom="X", commune="Y", degre="1", url_ent="https://e.test/"),
        line("eleve", uai=uai, nom="A", prenom="B", eleve=school["other"], date_naissance="30/02/2014"),
        line(
            "eleve",
            uai=random_uai(),
            nom="A",
            prenom="B",
            eleve=random_student_id(),
            date_naissance="01/02/2014",
        ),
        line(
            "eleve", uai=uai, nom="DURAND", prenom="Léa", eleve=school["pupil"], date_naissance="14/03/2013"
        ),
    )
    result = run(database_url, tmp_path, "import", str(path))
    assert result.exit_code == 0
    assert "3 ligne(s) créée(s), 0 modifiée(s), 0 inchangée(s), 4 refusée(s)" in result.output
    assert f"ligne 5 : UAI invalide ({bad_uai} : lettre de contrôle attendue {uai[7]})" in result.output
    assert "ligne 6 : date de naissance impossible (30/02/2014 n'existe pas)" in result.output
    assert "ligne 7 : établissement inconnu" in result.output
    assert f"ligne 8 : doublon (élève {school['pupil']} déjà à la ligne 3)" in result.output
    assert count(database_url, StudentRow, id=school["other"]) == 0
    strict = run(database_url, tmp_path, "import", "--strict", str(path))
    assert strict.exit_code == 1


@pytest.mark.parametrize(
    "content",
    [
        "latin-1",
        "missing-column",
        "wrong-field-count",
        "bad-quoting",
    ],
)
def test_a_broken_file_imports_nothing(database_url, tmp_path, school, content):
    lines = good_lines(school)
    if content == "latin-1":
        path = tmp_path / "registre.csv"
        path.write_bytes(("\n".join([HEADER, *lines]) + "\n").encode("latin-1"))
    elif content == "missing-column":
        path = tmp_path / "registre.csv"
        path.write_text(
            "\n".join([HEADER.replace(";niveau", ""), *(row.replace(";5e", "") for row in lines)])
        )
    elif content == "wrong-field-count":  # broken at the very last line: the good rows above stay out too
        path = registry_file(tmp_path, *lines, lines[-1] + ";")
    else:
        path = registry_file(tmp_path, *lines, 'eleve;"' + school["uai"] + '"x' + ";" * 12)
    before = count(database_url, RegistryAuditRow)
    result = CliRunner().invoke(
        main,
        ["registry", "import", str(path)],
        env={"DATABASE_URL": database_url, "EDUCONNECT_MODE": "demo", "EDUCONNECT_STATE_DIR": str(tmp_path)},
    )
    assert result.exit_code == 1
    assert "fichier refusé, rien n'a été importé" in result.output
    assert count(database_url, EstablishmentRow, uai=school["uai"]) == 0
    assert count(database_url, StudentRow, id=school["pupil"]) == 0
    assert count(database_url, RegistryAuditRow) == before


def test_a_failure_while_writing_leaves_nothing_behind(database_url, school, monkeypatch):
    from idp.domain.school_registry import import_registry, read_registry_csv, validate_registry
    from idp.storage import sql_registry

    data = "\n".join([HEADER, *good_lines(school)]).encode()
    original = sql_registry._upsert
    calls = []

    def failing(db, row, model, values, now):  # the student row fails after the establishment
        calls.append(model)
        if model is StudentRow:
            raise RuntimeError("disk full")
        return original(db, row, model, values, now)

    monkeypatch.setattr(sql_registry, "_upsert", failing)
    repo = registry_for(database_url)
    assert validate_registry(read_registry_csv(data), set(), set(), dt.date(2026, 11, 30)).refused == ()
    with pytest.raises(RuntimeError):
        import_registry(repo, data, dt.date(2026, 11, 30), dt.datetime.now(dt.UTC))
    assert EstablishmentRow in calls
    assert count(database_url, EstablishmentRow, uai=school["uai"]) == 0


def test_the_demo_registry_imports_cleanly_twice(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    upgrade(url)
    first = run(url, tmp_path, "import", str(DEMO_CSV))
    assert "0 refusée(s)" in first.output and "22 ligne(s) créée(s)" in first.output
    second = run(url, tmp_path, "import", str(DEMO_CSV))
    assert "0 ligne(s) créée(s), 0 modifiée(s), 22 inchangée(s), 0 refusée(s)" in second.output


# --- académie references (FrEduCtRefId): academie + aaf_identifiant ------------------------


def references_file(tmp_path: Path, school: dict[str, str], academie: str, aaf: str) -> Path:
    """good_lines with the two académie columns, the representative's set to these values."""
    lines = [
        f"{text};{academie};{aaf}" if text.startswith("responsable;") else f"{text};;"
        for text in good_lines(school)
    ]
    path = tmp_path / "registre-aaf.csv"
    header = ";".join((HEADER, *ACADEMIE_COLUMNS))
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def stored_reference(database_url: str, student_id: str) -> tuple[str | None, str | None]:
    with sessions_for(database_url)() as db:
        rep = db.scalars(
            select(LegalRepresentativeRow).where(LegalRepresentativeRow.student_id == student_id)
        )
        (row,) = rep.all()
        return row.academie, row.aaf_id


def test_academie_references_are_imported_kept_by_an_older_file_and_cleared_by_an_empty_pair(
    database_url, tmp_path, school
):
    result = run(database_url, tmp_path, "import", str(references_file(tmp_path, school, "13", "4100001")))
    assert result.exit_code == 0 and "0 refusée(s)" in result.output, result.output
    assert stored_reference(database_url, school["pupil"]) == ("13", "4100001")
    # An export made before the columns existed: imports, the reference stays.
    older = registry_file(tmp_path, *good_lines(school))
    result = run(database_url, tmp_path, "import", str(older))
    assert result.exit_code == 0 and "0 refusée(s)" in result.output, result.output
    assert stored_reference(database_url, school["pupil"]) == ("13", "4100001")
    # A bad value: the row is refused with the reason, the stored reference untouched.
    result = run(database_url, tmp_path, "import", str(references_file(tmp_path, school, "99", "4100001")))
    assert "refusée – ligne 4 : valeur invalide (colonne academie : « 99 » : code d'académie inconnu" in (
        result.output
    ), result.output
    assert stored_reference(database_url, school["pupil"]) == ("13", "4100001")
    # Both columns present and empty: the reference is cleared.
    result = run(database_url, tmp_path, "import", str(references_file(tmp_path, school, "", "")))
    assert "1 modifiée(s)" in result.output and "0 refusée(s)" in result.output, result.output
    assert stored_reference(database_url, school["pupil"]) == (None, None)
