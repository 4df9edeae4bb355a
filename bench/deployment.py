"""A throw-away deployment for one benchmark run: keys, metadata and TOMLs in a temporary config
directory, a fresh PostgreSQL schema (migrated, seeded, dropped at the end) and a Redis database
number of its own (flushed at the start and at the end).

Settings are the production ones (``EDUCONNECT_MODE=production``: ``https://`` base URLs, a real
secret key, PostgreSQL and Redis required, ``Secure`` cookies); only the transport differs: the
services listen on plain HTTP on 127.0.0.1 and the load client maps the public names to ports.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from federation.settings import PROJECT_ROOT, ServiceName

BASE_URLS: dict[ServiceName, str] = {
    "idp": "https://idp.bench.test",
    "ent": "https://ent.bench.test",
    "aten": "https://aten.bench.test",
}
PASSWORD = "Ecole-2026!"  # noqa: S105 - the throw-away accounts of the benchmark
# Variables of the caller's environment that would override the deployment's own settings.
_OVERRIDDEN = ("DATABASE_URL", "REDIS_URL", "ATEN_ENTITY_ID")


def _is_setting(name: str) -> bool:
    return (
        name in _OVERRIDDEN or name.startswith("EDUCONNECT_") or name.endswith(("_BASE_URL", "_SECRET_KEY"))
    )


@dataclass(frozen=True)
class Deployment:
    root: Path
    database_url: str
    redis_url: str
    secret_key: str
    identifiers: tuple[str, ...]  # seeded accounts, all with PASSWORD

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    def env(self, crypto_backend: str) -> dict[str, str]:
        """The environment a service of this deployment runs with."""
        return {k: v for k, v in os.environ.items() if not _is_setting(k)} | {
            "EDUCONNECT_MODE": "production",
            "EDUCONNECT_CONFIG_DIR": str(self.config_dir),
            "EDUCONNECT_SECRET_KEY": self.secret_key,
            "EDUCONNECT_CRYPTO_BACKEND": crypto_backend,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
        }


def _write_config(config_dir: Path) -> None:
    """The three TOMLs; relative paths resolve against the deployment root (the config's parent)."""
    aten_entity_id = f"{BASE_URLS['aten']}/saml/metadata"
    common = 'certs_dir = "certs"\n'
    (config_dir / "demo").mkdir(parents=True)
    (config_dir / "idp.toml").write_text(
        f'base_url = "{BASE_URLS["idp"]}"\nstate_dir = "var/idp"\n{common}'
        f'peer_metadata = ["metadata/aten.xml"]\naten_entity_id = "{aten_entity_id}"\n'
        '[[service_providers]]\nmetadata = "metadata/ent.xml"\n'
    )
    (config_dir / "ent.toml").write_text(
        f'base_url = "{BASE_URLS["ent"]}"\nstate_dir = "var/ent"\n{common}'
        f'peer_metadata = ["metadata/idp.xml"]\naten_entity_id = "{aten_entity_id}"\n'
    )
    # ATEN on the demo directory file (copied), for the transition flow (c).
    shutil.copy(PROJECT_ROOT / "config" / "demo" / "aten.ldif", config_dir / "demo" / "aten.ldif")
    (config_dir / "aten.toml").write_text(
        f'base_url = "{BASE_URLS["aten"]}"\nstate_dir = "var/aten"\n{common}'
        'peer_metadata = ["metadata/idp-sp.xml"]\n'
        '[directory]\nbackend = "ldif"\nldif_file = "config/demo/aten.ldif"\n'
    )


def _export_keys_and_metadata(dep: Deployment) -> None:
    from federation.cli import own_metadata
    from federation.keys import generate_service_keys
    from federation.settings import SERVICES, load_settings

    generate_service_keys(dep.root / "certs", SERVICES)
    metadata_dir = dep.root / "metadata"
    metadata_dir.mkdir()
    for service in SERVICES:
        for file_name, xml in own_metadata(load_settings(service, dep.env("inprocess"))).items():
            (metadata_dir / file_name).write_text(xml)


def _seed_accounts(database_url: str, count: int) -> tuple[str, ...]:
    from federation.database import make_engine, make_session_factory
    from idp.domain.accounts import Account
    from idp.domain.passwords import hash_password
    from idp.storage.sql_accounts import SqlAccountRepository, new_account_id

    engine = make_engine(database_url)
    repo = SqlAccountRepository(make_session_factory(engine))
    identifiers = tuple(f"bench.parent{i}" for i in range(count))
    for i, identifier in enumerate(identifiers):
        repo.add(
            Account(
                id=new_account_id(),
                identifier=identifier,
                password_hash=hash_password(PASSWORD),
                given_name="Claire",
                family_name=f"Martin{i}",
            )
        )
    engine.dispose()
    return identifiers


@contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """A fresh schema, as a database URL whose search_path points at it; dropped on exit."""
    import sqlalchemy as sa

    from federation.database import normalised_url

    schema = f"bench_{secrets.token_hex(6)}"
    engine = sa.create_engine(normalised_url(server_url))
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        parts = urlsplit(server_url)
        query = "&".join(q for q in (parts.query, f"options=-csearch_path%3D{schema}") if q)
        yield urlunsplit(parts._replace(query=query))
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@contextmanager
def redis_database(url: str) -> Iterator[str]:
    """The benchmark's own Redis database number, empty at the start, emptied at the end."""
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@contextmanager
def deployment(postgres_url: str, redis_url: str, accounts: int) -> Iterator[Deployment]:
    from federation.migrations import upgrade

    with (
        tempfile.TemporaryDirectory(prefix="educonnect-bench-") as tmp,
        postgres_schema(postgres_url) as database_url,
        redis_database(redis_url),
    ):
        root = Path(tmp)
        _write_config(root / "config")
        dep = Deployment(root, database_url, redis_url, secrets.token_urlsafe(40), ())
        _export_keys_and_metadata(dep)
        upgrade(database_url)
        yield replace(dep, identifiers=_seed_accounts(database_url, accounts))
