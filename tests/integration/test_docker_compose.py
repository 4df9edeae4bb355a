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
    "EDUCONNECT_SMTP_HOST": "smtp.example.fr",
    "EDUCONNECT_MAIL_SENDER": "ÉduConnect <ne-pas-repondre@example.fr>",
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
    assert {"postgres", "redis", "openldap", "idp", "aten", "ent", "setup", "proxy"} <= set(services)
    for name in ("postgres", "redis", "openldap", "idp", "aten", "ent", "proxy"):
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


def test_only_the_proxy_is_published_and_each_service_has_replicas(config):
    services = config["services"]
    for name in ("idp", "aten", "ent"):
        assert not services[name].get("ports"), name  # reached through the proxy only
        assert services[name]["deploy"]["replicas"] >= 2, name
        assert services[name]["environment"]["EDUCONNECT_TRUSTED_PROXIES"] == "1"
    proxy = services["proxy"]
    assert {(p["published"], p["target"]) for p in proxy["ports"]} == {(80, 8080), (443, 8443)}
    assert proxy["healthcheck"]["test"]
    for name in ("idp", "aten", "ent"):
        assert proxy["depends_on"][name]["condition"] == "service_healthy"


def test_replicas_are_set_from_the_environment():
    result = compose_config({**ENV, "IDP_REPLICAS": "5"})
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["services"]["idp"]["deploy"]["replicas"] == 5


def test_the_proxy_runs_the_shipped_configuration_which_haproxy_accepts(config, tmp_path):
    from bench.proxy import check_config, self_signed_pem

    proxy = config["services"]["proxy"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in proxy["volumes"]}
    assert Path(mounts["/etc/haproxy/educonnect"]) == ROOT / "config" / "haproxy"
    dockerfile = (ROOT / "config" / "haproxy" / "Dockerfile").read_text()
    assert '"-f", "/etc/haproxy/educonnect/haproxy.cfg"' in dockerfile
    # haproxy -c with the very environment compose gives the container (certificates: a
    # throw-away one where the TLS directory would be mounted).
    self_signed_pem(tmp_path)
    env = {**proxy["environment"], "PROXY_TLS_CERTS": f"{tmp_path}/", "PATH": "/usr/sbin:/usr/bin:/bin"}
    assert env["IDP_BASE_URL"] == ENV["IDP_BASE_URL"]
    checked = check_config(env)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_backups_run_on_demand_into_the_backup_folder(config):
    backup = config["services"]["backup"]
    assert backup["profiles"] == ["ops"]
    assert "educonnect-bridge db backup /backups/" in " ".join(backup["entrypoint"])
    assert any(v.endswith(":/backups:rw") or v.endswith(":/backups") for v in backup["volumes"])


def test_each_replica_keeps_its_workers_metrics_to_itself_and_the_token_comes_from_the_environment():
    result = compose_config({**ENV, "EDUCONNECT_METRICS_TOKEN": "t" * 40})
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    volumes = {"/app/var", "/app/certs"}
    for name in ("idp", "aten", "ent"):
        env = config["services"][name]["environment"]
        assert env["EDUCONNECT_METRICS_TOKEN"] == "t" * 40
        # Not on the state volume the replicas share: each container's own, emptied at its start.
        directory = env["PROMETHEUS_MULTIPROC_DIR"]
        assert not any(directory.startswith(v) for v in volumes), directory
        mounts = config["services"][name]["volumes"]
        assert {m["target"] if isinstance(m, dict) else m.split(":")[1] for m in mounts} <= volumes


@pytest.mark.parametrize("name", ["EDUCONNECT_SMTP_HOST", "EDUCONNECT_MAIL_SENDER"])
def test_the_mail_relay_and_sender_must_be_set(name):
    result = compose_config({k: v for k, v in ENV.items() if k != name})
    assert result.returncode != 0
    assert f"{name} must" in result.stderr


def idp_mail_settings(compose: dict, state_dir: Path):
    """The IdP's ``[mail]`` as the container reads it: config/ as shipped, compose's environment."""
    from federation.settings import PROJECT_ROOT, load_settings

    env = {k: str(v) for k, v in compose["services"]["idp"]["environment"].items()}
    env |= {"EDUCONNECT_CONFIG_DIR": str(PROJECT_ROOT / "config"), "EDUCONNECT_STATE_DIR": str(state_dir)}
    return load_settings("idp", env).mail


def test_the_idp_mails_through_the_relay_the_environment_names(config, tmp_path):
    mail = idp_mail_settings(config, tmp_path)
    assert (mail.transport, mail.host, mail.port, mail.security) == (
        "smtp",
        "smtp.example.fr",
        587,
        "starttls",
    )
    assert mail.sender == ENV["EDUCONNECT_MAIL_SENDER"] and mail.username is None and mail.ca_file is None
    for name in ("ent", "aten", "setup"):  # only the IdP sends mail
        assert "EDUCONNECT_SMTP_HOST" not in config["services"][name]["environment"], name


def test_implicit_tls_and_credentials_come_from_the_environment(tmp_path):
    tls = {
        "EDUCONNECT_SMTP_SECURITY": "tls",
        "EDUCONNECT_SMTP_USERNAME": "educonnect",
        "EDUCONNECT_SMTP_PASSWORD": "s",
    }
    result = compose_config({**ENV, **tls})
    assert result.returncode == 0, result.stderr
    mail = idp_mail_settings(yaml.safe_load(result.stdout), tmp_path)
    assert (mail.port, mail.security, mail.username, mail.password) == (465, "tls", "educonnect", "s")
