"""Shared fixtures: one deployment (keys, metadata) per test session, strict production settings.

Every flow test runs twice: on the embedded defaults (SQLite + embedded store) and on the real
PostgreSQL (127.0.0.1:5432, database ``test``, a fresh schema per session) + Redis (127.0.0.1:6379,
database 14, every key under a prefix of this run), and once on the embedded defaults with the
xmlsec1 crypto backend. Nothing reaches the network beyond loopback.

The metadata is exported once per crypto backend: ``ent.xml`` etc. by services on ``inprocess``,
``ent-xmlsec1.xml`` etc. by services on ``xmlsec1`` (signing key only: an IdP on xmlsec1 refuses
an SP that publishes an encryption key). A service is given its peers' metadata of its backend.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from educonnect_bridge.composition import own_metadata
from federation.keys import generate_service_keys
from federation.migrations import upgrade
from federation.settings import CRYPTO_BACKENDS, SERVICES, ServiceName, Settings, build_settings
from tests.mail_server import SmtpServer

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/14"
# Every Redis key of this test run starts with it: runs sharing the server never meet (keys have
# TTLs, nothing to clean up).
RUN_PREFIX = f"test-{secrets.token_hex(4)}:"
BASE_URLS = {"ent": "https://ent.test", "idp": "https://idp.test", "aten": "https://aten.test"}


@dataclass(frozen=True)
class Deployment:
    root: Path
    certs_dir: Path
    metadata_dir: Path

    def metadata(self, file_name: str, crypto_backend: str = "inprocess") -> Path:
        """A metadata document as services on ``crypto_backend`` export it (``ent.xml``: inprocess)."""
        suffix = "" if crypto_backend == "inprocess" else f"-{crypto_backend}"
        return self.metadata_dir / file_name.replace(".xml", f"{suffix}.xml")

    def settings(
        self, service: ServiceName, database_url: str, redis_url: str | None, **overrides: Any
    ) -> Settings:
        crypto = overrides.get("crypto_backend", "inprocess")
        data: dict[str, Any] = {
            "base_url": BASE_URLS[service],
            "secret_key": secrets.token_urlsafe(40),
            "database_url": database_url,
            "state_dir": str(self.root / "var" / service),
            "certs_dir": str(self.certs_dir),
            "cookie_samesite": "None",
        }
        if service == "ent":
            data["peer_metadata"] = [str(self.metadata("idp.xml", crypto))]
            data["aten_entity_id"] = f"{BASE_URLS['aten']}/saml/metadata"
        if service == "idp":
            data["service_providers"] = [{"metadata": str(self.metadata("ent.xml", crypto))}]
            data["peer_metadata"] = [str(self.metadata("aten.xml", crypto))]
            data["aten_entity_id"] = f"{BASE_URLS['aten']}/saml/metadata"
        if service == "aten":
            data["peer_metadata"] = [str(self.metadata("idp-sp.xml", crypto))]
        data.update(overrides)
        env = {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": RUN_PREFIX} if redis_url else {}
        return build_settings(service, data, env, root=self.root)


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    root = tmp_path_factory.mktemp("deployment")
    dep = Deployment(root=root, certs_dir=root / "certs", metadata_dir=root / "metadata")
    generate_service_keys(dep.certs_dir, SERVICES)
    dep.metadata_dir.mkdir()
    for crypto in CRYPTO_BACKENDS:
        for service in SERVICES:
            settings = dep.settings(
                service, "sqlite://", None, peer_metadata=[], service_providers=[], crypto_backend=crypto
            )
            for name, xml in own_metadata(settings).items():
                dep.metadata(name, crypto).write_text(xml)
    return dep


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None
    crypto: str = "inprocess"


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    import sqlalchemy as sa

    schema = f"t_{secrets.token_hex(6)}"
    engine = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    redis.Redis.from_url(REDIS_URL).ping()
    return REDIS_URL


@pytest.fixture(scope="session", params=["embedded", "embedded+xmlsec1", "postgres+redis"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """Storage and crypto backends: the flows and their negative tests run on each."""
    if request.param.startswith("embedded"):
        db_path = tmp_path_factory.mktemp("sqlite") / "idp.sqlite3"
        url = f"sqlite:///{db_path}"
        upgrade(url)
        crypto = "xmlsec1" if request.param.endswith("xmlsec1") else "inprocess"
        return Backend(request.param, url, None, crypto)
    url = request.getfixturevalue("postgres_schema_url")
    upgrade(url)
    return Backend("postgres+redis", url, request.getfixturevalue("redis_url"))


DEMO_LDIF = Path(__file__).resolve().parents[1] / "config" / "demo" / "aten.ldif"


@dataclass
class Stack:
    idp: Flask
    ent: Flask
    aten: Flask
    backend: Backend

    def apps(self) -> dict[str, Flask]:
        return {BASE_URLS["ent"]: self.ent, BASE_URLS["idp"]: self.idp, BASE_URLS["aten"]: self.aten}


@pytest.fixture(scope="session")
def stack(deployment: Deployment, backend: Backend) -> Stack:
    from aten_adapter import create_app as create_aten
    from idp import create_app as create_idp
    from sp_ent import create_app as create_ent

    idp = create_idp(
        deployment.settings("idp", backend.database_url, backend.redis_url, crypto_backend=backend.crypto)
    )
    ent = create_ent(
        deployment.settings("ent", backend.database_url, backend.redis_url, crypto_backend=backend.crypto)
    )
    aten_settings = deployment.settings(
        "aten",
        backend.database_url,
        backend.redis_url,
        crypto_backend=backend.crypto,
        directory={"backend": "ldif", "ldif_file": str(DEMO_LDIF)},
    )
    aten = create_aten(aten_settings, env={})
    return Stack(idp=idp, ent=ent, aten=aten, backend=backend)


def settings_with(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **changes)


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) for the module's tests, and what it received."""
    server = SmtpServer.start(tmp_path_factory.mktemp("smtp"))
    yield server
    server.stop()
