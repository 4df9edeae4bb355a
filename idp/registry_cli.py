"""``educonnect-bridge registry …``: import the school registry, help school staff with child links.

Mounted on the main command line by ``educonnect_bridge.cli``. Every command works on the IdP's
database (``DATABASE_URL``, SQLite under ``var/`` in the demo).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from federation.database import make_engine, make_session_factory
from federation.errors import ConfigurationError
from federation.settings import load_settings
from idp.domain.school_registry import ImportReport, RegistryFileError, import_registry
from idp.storage.sql_registry import SqlRegistryRepository, UnknownLink

MAX_REFUSED_SHOWN = 200


def open_registry(database_url: str | None = None) -> SqlRegistryRepository:
    if database_url is None:
        try:
            database_url = load_settings("idp").database_url
        except ConfigurationError as exc:
            raise click.ClickException(f"configuration invalide : {exc}") from exc
    return SqlRegistryRepository(make_session_factory(make_engine(database_url)))


def import_file(repository: SqlRegistryRepository, path: Path) -> ImportReport:
    """Import one file, all of it in one transaction; ClickException when the file is broken."""
    now = dt.datetime.now(dt.UTC)
    try:
        return import_registry(repository, path.read_bytes(), now.date(), now)
    except RegistryFileError as exc:
        raise click.ClickException(f"{path} : fichier refusé, rien n'a été importé : {exc}") from exc


def report_lines(path: Path, report: ImportReport) -> list[str]:
    counts = report.counts
    lines = [
        f"{path} : {counts.created} ligne(s) créée(s), {counts.updated} modifiée(s), "
        f"{counts.unchanged} inchangée(s), {len(report.refused)} refusée(s)"
    ]
    lines += [f"  refusée – {refused.message}" for refused in report.refused[:MAX_REFUSED_SHOWN]]
    if len(report.refused) > MAX_REFUSED_SHOWN:
        lines.append(f"  … et {len(report.refused) - MAX_REFUSED_SHOWN} autre(s)")
    return lines


@click.group()
def registry() -> None:
    """School registry: establishments, students, legal representatives, child links."""


@registry.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Exit with status 1 when a row is refused.")
def registry_import(csv_file: Path, strict: bool) -> None:
    """Upsert the registry from CSV_FILE (columns: see README); refused rows are listed."""
    report = import_file(open_registry(), csv_file)
    for line in report_lines(csv_file, report):
        click.echo(line)
    if strict and report.refused:
        raise SystemExit(1)


@registry.command("links")
@click.argument("identifier")
def registry_links(identifier: str) -> None:
    """Show the child links of an ÉduConnect account (IDENTIFIER, e.g. j.dupont1)."""
    repository = open_registry()
    try:
        account_id = repository.account_id_for(identifier)
    except UnknownLink as exc:
        raise click.ClickException(str(exc)) from exc
    statuses = repository.link_statuses(account_id)
    if not statuses:
        click.echo("aucun élève rattaché ou proposé à ce compte")
    for s in statuses:
        state = (
            "signalé (le parent ne se déclare pas représentant légal)"
            if s.reported_at
            else "confirmé"
            if s.confirmed_at
            else "bloqué"
            if s.blocked_at
            else "à confirmer"
        )
        click.echo(f"{s.student_id}  {s.student_name}  {s.uai}  {state}  ({s.failed_attempts} erreur(s))")


@registry.command("unblock")
@click.argument("identifier")
@click.argument("student_id")
@click.option("--by", "actor", required=True, help="Who unblocks (name and role), kept in the audit trail.")
@click.option("--reason", default="", help="Why (e.g. identity checked at the school office).")
def registry_unblock(identifier: str, student_id: str, actor: str, reason: str) -> None:
    """Unblock the link between account IDENTIFIER and student STUDENT_ID after the school checked."""
    actor = actor.strip()
    if not actor:
        raise click.ClickException("--by : indiquez qui débloque")
    repository = open_registry()
    try:
        account_id = repository.account_id_for(identifier)
        previous = repository.unblock(
            account_id, student_id, actor[:200], reason.strip(), dt.datetime.now(dt.UTC)
        )
    except UnknownLink as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"rattachement {identifier} ↔ élève {student_id} débloqué ({previous} erreur(s) effacée(s)) ; "
        "le parent peut de nouveau saisir la date de naissance à sa prochaine connexion"
    )


@registry.command("audit")
@click.option("--identifier", default=None, help="Only this account's entries.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
def registry_audit(identifier: str | None, limit: int) -> None:
    """The audit trail: imports, confirmations, blocks and unblocks (newest first)."""
    repository = open_registry()
    account_id = None
    if identifier:
        try:
            account_id = repository.account_id_for(identifier)
        except UnknownLink as exc:
            raise click.ClickException(str(exc)) from exc
    for entry in repository.audit_trail(limit, account_id):
        who = f" compte {entry.account_id}" if entry.account_id else ""
        student = f" élève {entry.student_id}" if entry.student_id else ""
        origin = f" depuis {entry.client_address}" if entry.client_address else ""
        click.echo(
            f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.action}  par {entry.actor}{who}{student}{origin}  "
            f"{entry.detail}".rstrip()
        )


@registry.command("reports")
@click.option("--uai", default=None, help="Only the pupils of this establishment (UAI, e.g. 0861001W).")
def registry_reports(uai: str | None) -> None:
    """Links parents ended with « Je ne suis pas le représentant légal de cet élève » (newest first)."""
    from idp.storage.sql_self_service import SqlSelfServiceRepository

    try:
        database_url = load_settings("idp").database_url
    except ConfigurationError as exc:
        raise click.ClickException(f"configuration invalide : {exc}") from exc
    repository = SqlSelfServiceRepository(make_session_factory(make_engine(database_url)))
    reports = repository.reported_links(uai.strip().upper() if uai else None)
    if not reports:
        click.echo("aucun signalement")
    for r in reports:
        click.echo(
            f"{r.reported_at:%Y-%m-%d %H:%M:%S}  {r.uai}  élève {r.student_id} {r.student_name}  "
            f"signalé par {r.identifier} ({r.parent_name}) : ne se déclare pas représentant légal"
        )
