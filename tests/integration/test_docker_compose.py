"""docker-compose.yml is checked by Debian's real docker-compose parser (no engine runs here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "POSTGRES_PASSWORD": "pw",
    "LDAP_ADMIN_PASSWORD": "pw",
    "ATEN_LDAP_BIND_PASSWORD": "pw",
    "EDUCONNECT_SECRET_KEY": "k" * 40,
    "ENT_BASE_URL": "https://ent.example.fr",
    "IDP_BASE_URL": "https://educonnect.example.fr",
    "ATEN_BASE_URL": "https://aten.example.fr",
    "PATH": "/usr/bin:/bin",
}


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose (Debian package) is installed by scripts/install-system-deps.sh"
    return subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def config() -> dict:
    result = compose_config(ENV)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_stack_has_every_service_with_a_healthcheck(config):
    services = config["services"]
    assert {"postgres", "redis", "openldap", "idp", "aten", "ent", "setup"} <= set(services)
    for name in ("postgres", "redis", "openldap", "idp", "aten", "ent"):
        assert services[name]["healthcheck"]["test"], name


def test_services_wait_for_their_dependencies(config):
    for name in ("idp", "aten", "ent"):
        depends = config["services"][name]["depends_on"]
        assert depends["setup"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert config["services"]["aten"]["depends_on"]["openldap"]["condition"] == "service_healthy"


def test_aten_reads_the_openldap_directory_seeded_with_the_schema(config):
    env = config["services"]["aten"]["environment"]
    assert env["ATEN_DIRECTORY_BACKEND"] == "ldap"
    assert env["ATEN_LDAP_URL"] == "ldap://openldap:1389"
    mounts = " ".join(str(v) for v in config["services"]["openldap"]["volumes"])
    assert "config/ldap/schema/aten.ldif" in mounts and "aten.ldif" in mounts
    assert (ROOT / "config" / "ldap" / "schema" / "aten.ldif").exists()


def test_services_run_in_production_mode_with_the_shared_stores(config):
    for name in ("idp", "aten", "ent"):
        env = config["services"][name]["environment"]
        assert env["EDUCONNECT_MODE"] == "production"
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert env["DATABASE_URL"].startswith("postgresql://")


def test_redis_keeps_sessions_across_a_restart_with_aof_on_a_volume(config):
    redis = config["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    (volume,) = redis["volumes"]  # "source:target:mode" (docker-compose 1) or a mapping (compose 2)
    source, target = (
        (volume["source"], volume["target"]) if isinstance(volume, dict) else volume.split(":")[:2]
    )
    assert target == "/data"  # the image's working folder, where the AOF files go
    assert source in config["volumes"]  # a named volume: kept when the container is recreated


def test_missing_secret_stops_the_configuration():
    env = {k: v for k, v in ENV.items() if k != "EDUCONNECT_SECRET_KEY"}
    result = compose_config(env)
    assert result.returncode != 0
    assert "EDUCONNECT_SECRET_KEY" in result.stderr
