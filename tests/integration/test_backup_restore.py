"""« educonnect-bridge db backup / db restore » for real: pg_dump and pg_restore (Debian's
postgresql-client) against the machine's PostgreSQL, the command run as a process; a parent
signs in with their password on the restored database."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from federation.database import make_engine, make_session_factory
from federation.migrations import upgrade
from idp.domain.accounts import Account
from idp.domain.passwords import hash_password
from idp.storage.sql_accounts import SqlAccountRepository, new_account_id
from tests.browser import Browser, page_text
from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Sauvegarde-2026!"


@pytest.fixture
def fresh_database() -> Iterator[Callable[[], str]]:
    """Creates empty databases on the local server; drops them at the end."""
    admin = sa.create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    created: list[str] = []

    def create() -> str:
        name = f"h8_backup_{secrets.token_hex(5)}"
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        created.append(name)
        return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"

    yield create
    with admin.connect() as conn:
        for name in created:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def cli(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "idp.toml").write_text(f'base_url = "https://idp.test"\nstate_dir = "{tmp_path / "var"}"\n')
    env = {
        **os.environ,
        "EDUCONNECT_MODE": "production",
        "EDUCONNECT_CONFIG_DIR": str(config),
        "EDUCONNECT_SECRET_KEY": secrets.token_urlsafe(40),
        "DATABASE_URL": database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "educonnect_bridge", "db", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_parent_signs_in_with_their_password_on_a_restored_backup(fresh_database, deployment, tmp_path):
    source = fresh_database()
    upgrade(source)
    engine = make_engine(source)
    identifier = f"p.sauvegarde{secrets.randbelow(10**6)}"
    SqlAccountRepository(make_session_factory(engine)).add(
        Account(
            id=new_account_id(),
            identifier=identifier,
            password_hash=hash_password(PASSWORD),
            given_name="Paule",
            family_name="Sauvegarde",
        )
    )
    engine.dispose()

    dump = tmp_path / "educonnect.dump"
    backed_up = cli(tmp_path, source, "backup", str(dump))
    assert backed_up.returncode == 0, backed_up.stderr
    assert dump.stat().st_size > 0 and "sauvegarde écrite" in backed_up.stdout

    target = fresh_database()
    restored = cli(tmp_path, target, "restore", str(dump))
    assert restored.returncode == 0, restored.stderr
    assert "base restaurée" in restored.stdout

    from idp import create_app

    idp = create_app(deployment.settings("idp", target, None))
    browser = Browser({"https://idp.test": idp})
    form = browser.get("https://idp.test/connexion")
    wrong = browser.submit(form, identifiant=identifier, mot_de_passe="Pas-le-bon-1")
    assert "L'identifiant ou le mot de passe est incorrect." in page_text(wrong)
    signed_in = browser.submit(
        browser.get("https://idp.test/connexion"), identifiant=identifier, mot_de_passe=PASSWORD
    )
    assert signed_in.status_code == 302, page_text(signed_in)
    assert signed_in.headers["Location"].endswith("/compte")
    assert "Paule" in page_text(browser.follow(signed_in))


def test_a_restore_over_a_database_in_use_is_refused_and_changes_nothing(fresh_database, tmp_path):
    source = fresh_database()
    upgrade(source)
    dump = tmp_path / "educonnect.dump"
    assert cli(tmp_path, source, "backup", str(dump)).returncode == 0

    in_use = fresh_database()
    upgrade(in_use)
    refused = cli(tmp_path, in_use, "restore", str(dump))
    assert refused.returncode != 0
    assert "la base cible n'est pas vide" in refused.stderr and "--replace" in refused.stderr
    assert "Traceback" not in refused.stderr
    replaced = cli(tmp_path, in_use, "restore", "--replace", str(dump))
    assert replaced.returncode == 0, replaced.stderr


def test_bad_inputs_get_a_clear_message(fresh_database, tmp_path):
    target = fresh_database()
    missing = cli(tmp_path, target, "restore", str(tmp_path / "absent.dump"))
    assert missing.returncode != 0 and "fichier de sauvegarde introuvable" in missing.stderr
    not_a_dump = tmp_path / "pas-une-sauvegarde.dump"
    not_a_dump.write_text("bonjour")
    garbage = cli(tmp_path, target, "restore", str(not_a_dump))
    assert garbage.returncode != 0 and "pg_restore a échoué" in garbage.stderr
    sqlite = cli(tmp_path, f"sqlite:///{tmp_path / 'demo.sqlite3'}", "backup", str(tmp_path / "x.dump"))
    assert sqlite.returncode != 0 and "PostgreSQL" in sqlite.stderr
    assert not (tmp_path / "x.dump").exists()
    unreachable = cli(tmp_path, "postgresql://postgres@127.0.0.1:1/none", "backup", str(tmp_path / "y.dump"))
    assert unreachable.returncode != 0 and "pg_dump a échoué" in unreachable.stderr
    assert not (tmp_path / "y.dump").exists() and not (tmp_path / "y.dump.partiel").exists()
