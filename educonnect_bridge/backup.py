"""``educonnect-bridge db backup`` / ``db restore``: the IdP's PostgreSQL database (the parents'
accounts, the school registry, the audit trail) to one file and back, with PostgreSQL's own
``pg_dump`` and ``pg_restore`` (Debian's postgresql-client, same major version as the server or
newer).

The file is pg_dump's custom format: compressed, restorable as a whole or table by table, and
consistent (one snapshot, taken while the services run). Sessions, pending requests and
throttling counters live in Redis and are not in it: after a restore parents sign in again.
For point-in-time recovery (losing minutes instead of a day) see README « Backups »: WAL
archiving and base backups, done by PostgreSQL itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from federation.errors import ConfigurationError


class BackupError(Exception):
    """pg_dump or pg_restore failed, or the target is not what the command expects."""


@dataclass(frozen=True)
class PostgresTarget:
    """libpq's view of DATABASE_URL: a URI without the password, which goes in PGPASSWORD
    (not on a command line other users of the host can read)."""

    uri: str
    password: str | None

    @classmethod
    def from_database_url(cls, database_url: str) -> PostgresTarget:
        url = make_url(database_url)
        if url.get_backend_name() != "postgresql":
            raise ConfigurationError(
                "db backup / db restore : DATABASE_URL doit désigner PostgreSQL (la base SQLite de la "
                "démo est un fichier : copiez-le, services arrêtés)"
            )
        bare: URL = url.set(drivername="postgresql", password=None)
        return cls(uri=bare.render_as_string(hide_password=False), password=url.password)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} introuvable : installez postgresql-client (Debian)")
    return path


def _run(command: list[str], target: PostgresTarget) -> None:
    done = subprocess.run(command, env=target.env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} a échoué :\n{done.stderr.strip()}")


def backup(database_url: str, output: Path) -> int:
    """Write the whole database to ``output`` (custom format); returns its size in bytes.

    Written beside ``output`` first and renamed at the end: a failed dump never replaces a
    good file of the same name.
    """
    target = PostgresTarget.from_database_url(database_url)
    partial = output.with_name(output.name + ".partiel")
    try:
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={partial}",
                f"--dbname={target.uri}",
            ],
            target,
        )
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return output.stat().st_size


def restore(database_url: str, dump: Path, *, replace: bool = False) -> None:
    """Load ``dump`` into the database of ``database_url``, in one transaction.

    The target must be empty (a freshly created database) unless ``replace``: then the objects
    of the dump are dropped first. Either way a failure leaves the target as it was.
    """
    if not dump.is_file():
        raise BackupError(f"{dump} : fichier de sauvegarde introuvable")
    target = PostgresTarget.from_database_url(database_url)
    tables = _existing_tables(database_url)
    if tables and not replace:
        raise BackupError(
            f"la base cible n'est pas vide ({len(tables)} table(s), dont {sorted(tables)[0]}) : "
            "restaurez dans une base neuve, ou ajoutez --replace pour remplacer son contenu"
        )
    command = [
        _tool("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={target.uri}",
    ]
    if replace:
        command += ["--clean", "--if-exists"]
    _run([*command, str(dump)], target)


def _existing_tables(database_url: str) -> list[str]:
    url = make_url(database_url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            )
            return [str(row[0]) for row in rows]
    except sa.exc.OperationalError as exc:
        raise BackupError(f"base cible injoignable : {exc.orig}") from exc
    finally:
        engine.dispose()
