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
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from federation.settings import ServiceName

BASE_URLS: dict[ServiceName, str] = {
    "idp": "https://idp.bench.test",
    "ent": "https://ent.bench.test",
    "aten": "https://aten.bench.test",
}
PASSWORD = "Ecole-2026!"  # noqa: S105 - the throw-away accounts of the benchmark
ATEN_PASSWORD = "Aten-Bench-2026"  # noqa: S105 - every ATEN parent of the benchmark
# The OpenID Connect relying party of scenario (e), registered like an ENT (client_secret_post).
OIDC_CLIENT_ID = "bench-rp"
OIDC_CLIENT_SECRET = "bench-secret-not-for-production"  # noqa: S105 - throw-away
OIDC_REDIRECT_URI = "https://rp.bench.test/oidc/retour"
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
    aten_parents: int = 0  # ATEN parents aten_uid(0..n-1), all with ATEN_PASSWORD, no account yet

    def config_dir(self, crypto_backend: str = "inprocess") -> Path:
        return config_dir_for(self.root, crypto_backend)

    def env(self, crypto_backend: str) -> dict[str, str]:
        """The environment a service of this deployment runs with."""
        return {k: v for k, v in os.environ.items() if not _is_setting(k)} | {
            "EDUCONNECT_MODE": "production",
            "EDUCONNECT_CONFIG_DIR": str(self.config_dir(crypto_backend)),
            "EDUCONNECT_SECRET_KEY": self.secret_key,
            "EDUCONNECT_CRYPTO_BACKEND": crypto_backend,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
        }


METADATA_FILES = ("aten.xml", "ent.xml", "idp.xml", "idp-sp.xml")  # what own_metadata exports


def config_dir_for(root: Path, crypto_backend: str) -> Path:
    """``config/`` for the services on inprocess, ``config-xmlsec1/`` for those on xmlsec1."""
    return root / ("config" if crypto_backend == "inprocess" else f"config-{crypto_backend}")


def metadata_path(file_name: str, crypto_backend: str) -> str:
    """Where the metadata a service on ``crypto_backend`` exports is kept (relative to the root).

    A service on xmlsec1 publishes no encryption key (an IdP on xmlsec1 refuses an SP that
    does): its peers on xmlsec1 register that metadata.
    """
    suffix = "" if crypto_backend == "inprocess" else f"-{crypto_backend}"
    return f"metadata/{file_name.replace('.xml', f'{suffix}.xml')}"


def _write_config(root: Path, aten_parents: int) -> None:
    """The TOMLs of each crypto backend (the same but for the metadata files they name), the ATEN
    directory and the OIDC client; relative paths resolve against the deployment root."""
    from federation.settings import CRYPTO_BACKENDS

    shared = root / "config"
    (shared / "demo").mkdir(parents=True)
    _write_oidc_client(shared / "oidc_clients")
    # ATEN on a directory file of its own: parents without an ÉduConnect account, for (c).
    (shared / "demo" / "aten.ldif").write_text(_aten_ldif(aten_parents))
    aten_entity_id = f"{BASE_URLS['aten']}/saml/metadata"
    common = 'certs_dir = "certs"\n'
    for crypto in CRYPTO_BACKENDS:
        config_dir = config_dir_for(root, crypto)
        config_dir.mkdir(exist_ok=True)
        peer = {name: metadata_path(name, crypto) for name in METADATA_FILES}
        (config_dir / "idp.toml").write_text(
            f'base_url = "{BASE_URLS["idp"]}"\nstate_dir = "var/idp"\n{common}'
            f'peer_metadata = ["{peer["aten.xml"]}"]\naten_entity_id = "{aten_entity_id}"\n'
            f'[[service_providers]]\nmetadata = "{peer["ent.xml"]}"\n'
        )
        (config_dir / "ent.toml").write_text(
            f'base_url = "{BASE_URLS["ent"]}"\nstate_dir = "var/ent"\n{common}'
            f'peer_metadata = ["{peer["idp.xml"]}"]\naten_entity_id = "{aten_entity_id}"\n'
        )
        (config_dir / "aten.toml").write_text(
            f'base_url = "{BASE_URLS["aten"]}"\nstate_dir = "var/aten"\n{common}'
            f'peer_metadata = ["{peer["idp-sp.xml"]}"]\n'
            '[directory]\nbackend = "ldif"\nldif_file = "config/demo/aten.ldif"\n'
        )


def aten_uid(index: int) -> str:
    return f"bench.aten{index}"


def _aten_ldif(count: int) -> str:
    """``count`` ATEN parents, each a distinct family name (so each identifier is new)."""
    from aten_adapter.domain.password_hashes import hash_salted

    password_hash = hash_salted(ATEN_PASSWORD)
    entries = [
        "dn: dc=bench,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: bench\no: Bench\n",
        "dn: ou=parents,dc=bench,dc=test\nobjectClass: organizationalUnit\nou: parents\n",
    ]
    for i in range(count):
        uid = aten_uid(i)
        family = "Transition" + "".join(chr(ord("a") + int(d)) for d in str(i))  # letters only
        entries.append(
            f"dn: uid={uid},ou=parents,dc=bench,dc=test\nobjectClass: inetOrgPerson\n"
            f"objectClass: atenResponsable\nuid: {uid}\ncn: Claire {family}\nsn: {family}\n"
            f"givenName: Claire\nuserPassword: {password_hash}\natenPersistentId: {secrets.token_hex(16)}\n"
        )
    return "\n".join(entries)


def _write_oidc_client(directory: Path) -> None:
    """The IdP's default ``oidc_clients_dir`` (``config/oidc_clients``, from the deployment root)."""
    from idp.oidc.clients import client_file, hash_client_secret

    directory.mkdir()
    client_file(directory, OIDC_CLIENT_ID).write_text(
        f'client_id = "{OIDC_CLIENT_ID}"\nclient_name = "Benchmark RP"\n'
        f'redirect_uris = ["{OIDC_REDIRECT_URI}"]\ntoken_endpoint_auth_method = "client_secret_post"\n'
        f'client_secret_hash = "{hash_client_secret(OIDC_CLIENT_SECRET)}"\n'
    )


def _export_keys_and_metadata(dep: Deployment) -> None:
    from educonnect_bridge.composition import own_metadata
    from federation.keys import generate_service_keys
    from federation.settings import CRYPTO_BACKENDS, SERVICES, load_settings

    generate_service_keys(dep.root / "certs", SERVICES)
    (dep.root / "metadata").mkdir()
    for crypto in CRYPTO_BACKENDS:
        for service in SERVICES:
            for file_name, xml in own_metadata(load_settings(service, dep.env(crypto))).items():
                (dep.root / metadata_path(file_name, crypto)).write_text(xml)


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
def deployment(
    postgres_url: str, redis_url: str, accounts: int, aten_parents: int = 0
) -> Iterator[Deployment]:
    from federation.migrations import upgrade

    with (
        tempfile.TemporaryDirectory(prefix="educonnect-bench-") as tmp,
        postgres_schema(postgres_url) as database_url,
        redis_database(redis_url),
    ):
        root = Path(tmp)
        _write_config(root, aten_parents)
        dep = Deployment(root, database_url, redis_url, secrets.token_urlsafe(40), (), aten_parents)
        _export_keys_and_metadata(dep)
        upgrade(database_url)
        yield replace(dep, identifiers=_seed_accounts(database_url, accounts))
