"""ATEN fixtures: a real slapd (session), the demo LDIF, ATEN apps and the test SP.

Each ATEN app gets its own state directory (embedded store), so throttling counters never leak
from one test into another. Apps run with the strict production settings of ``deployment``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from aten_adapter import create_app
from aten_adapter.directory.ldif_directory import LdifDirectory
from aten_adapter.settings import LdapSettings
from federation.settings import Settings
from tests.aten.educonnect_sp import ATEN, EduConnectSp, write_sp_metadata
from tests.browser import Browser
from tests.conftest import Deployment
from tests.ldap_server import BASE_DN, DEMO_LDIF, SERVICE_DN, SERVICE_PASSWORD, SlapdServer, start_slapd

PARENTS_DN = f"ou=parents,{BASE_DN}"
LDIF_TABLE = {"backend": "ldif", "ldif_file": str(DEMO_LDIF)}


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdServer]:
    server = start_slapd(tmp_path_factory.mktemp("slapd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ldap_settings(slapd: SlapdServer) -> LdapSettings:
    return LdapSettings(
        url=slapd.url,
        base_dn=PARENTS_DN,
        bind_dn=SERVICE_DN,
        bind_password=SERVICE_PASSWORD,
        timeout_seconds=3,
    )


def ldap_table(settings: LdapSettings) -> dict[str, Any]:
    return {
        "backend": "ldap",
        "ldap_url": settings.url,
        "ldap_base_dn": settings.base_dn,
        "ldap_bind_dn": settings.bind_dn,
        "ldap_bind_password": settings.bind_password,
    }


@pytest.fixture(scope="session")
def ldif_directory() -> LdifDirectory:
    return LdifDirectory.from_file(DEMO_LDIF)


@pytest.fixture(scope="session")
def sp_metadata_file(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sp_metadata(deployment, tmp_path_factory.mktemp("sp") / "educonnect-sp.xml")


def aten_settings(
    deployment: Deployment, state_dir: Path, peer_metadata: list[Path], directory: dict[str, Any]
) -> Settings:
    return deployment.settings(
        "aten",
        "sqlite://",
        None,
        state_dir=str(state_dir),
        peer_metadata=[str(p) for p in peer_metadata],
        directory=directory,
    )


@pytest.fixture
def aten_app(deployment: Deployment, sp_metadata_file: Path, tmp_path: Path) -> Flask:
    """ATEN on the demo LDIF file."""
    return create_app(aten_settings(deployment, tmp_path / "var", [sp_metadata_file], LDIF_TABLE), env={})


@pytest.fixture(scope="session")
def aten_metadata_file(
    deployment: Deployment, sp_metadata_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """ATEN's metadata as its /saml/metadata serves it (same keys and URLs for every app)."""
    directory = tmp_path_factory.mktemp("aten-metadata")
    app = create_app(aten_settings(deployment, directory / "var", [sp_metadata_file], LDIF_TABLE), env={})
    response = app.test_client().get("/saml/metadata", base_url=ATEN)
    assert response.status_code == 200
    path = directory / "aten.xml"
    path.write_bytes(response.get_data())
    return path


@pytest.fixture
def educonnect_sp(deployment: Deployment, aten_metadata_file: Path) -> EduConnectSp:
    return EduConnectSp.build(deployment, aten_metadata_file)


@pytest.fixture
def browser(aten_app: Flask) -> Browser:
    return Browser({ATEN: aten_app})
