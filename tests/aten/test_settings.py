"""The [directory] table of aten.toml and its ATEN_* environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from aten_adapter.settings import load_aten_settings, load_directory_settings
from federation.errors import ConfigurationError
from federation.settings import PROJECT_ROOT, build_settings, load_settings
from tests.ldap_server import DEMO_LDIF

LDAP = {
    "backend": "ldap",
    "ldap_url": "ldaps://annuaire.ac-poitiers.fr:636",
    "ldap_base_dn": "ou=parents,dc=ac-poitiers,dc=fr",
    "ldap_bind_dn": "cn=aten-adapter,ou=services,dc=ac-poitiers,dc=fr",
    "ldap_bind_password": "Secret-Service-1",
}


def settings(mode: str = "production", **tables):
    data = {"base_url": "https://aten.test", "secret_key": "s" * 40, "mode": mode, **tables}
    return build_settings("aten", data, {}, root=PROJECT_ROOT)


def test_demo_defaults_to_the_demo_ldif_file():
    directory = load_directory_settings(settings("demo"), {})
    assert directory.backend == "ldif"
    assert directory.ldif_file == PROJECT_ROOT / "config" / "demo" / "aten.ldif"


def test_the_shipped_aten_toml_loads_in_demo_mode(tmp_path):
    shipped = load_settings("aten", {"EDUCONNECT_MODE": "demo", "EDUCONNECT_STATE_DIR": str(tmp_path)})
    aten = load_aten_settings(shipped, {})
    assert aten.directory.backend == "ldif"
    assert aten.academie == "Académie de Poitiers"


def test_production_never_falls_back_to_the_demo_accounts():
    with pytest.raises(ConfigurationError, match=r"aten\.directory\.backend .*ATEN_DIRECTORY_BACKEND"):
        load_directory_settings(settings(), {})
    with pytest.raises(ConfigurationError, match=r"aten\.directory\.ldif_file"):
        load_directory_settings(settings(directory={"backend": "ldif"}), {})


def test_explicit_ldif_file_in_production():
    directory = load_directory_settings(
        settings(directory={"backend": "ldif", "ldif_file": str(DEMO_LDIF)}), {}
    )
    assert directory.ldif_file == DEMO_LDIF


def test_missing_ldif_file_is_named(tmp_path):
    absent = tmp_path / "absent.ldif"
    with pytest.raises(ConfigurationError, match=r"absent\.ldif"):
        load_directory_settings(settings(directory={"backend": "ldif", "ldif_file": str(absent)}), {})


def test_unknown_backend_is_named():
    with pytest.raises(ConfigurationError, match="'sql'"):
        load_directory_settings(settings(directory={"backend": "sql"}), {})


def test_ldap_table():
    ldap = load_directory_settings(settings(directory=LDAP), {}).ldap
    assert ldap is not None
    assert ldap.url == "ldaps://annuaire.ac-poitiers.fr:636" and ldap.is_encrypted
    assert ldap.bind_password == "Secret-Service-1"
    assert "Secret-Service-1" not in repr(ldap)


def test_environment_overrides_the_table():
    env = {
        "ATEN_DIRECTORY_BACKEND": "ldap",
        "ATEN_LDAP_URL": "ldap://openldap:1389/",
        "ATEN_LDAP_START_TLS": "true",
        "ATEN_LDAP_BIND_PASSWORD": "Depuis-Env-2",
    }
    ldap = load_directory_settings(settings(directory={**LDAP, "backend": "ldif"}), env).ldap
    assert ldap is not None
    assert ldap.url == "ldap://openldap:1389"  # ldap3 refuses a trailing slash
    assert ldap.start_tls and ldap.bind_password == "Depuis-Env-2"


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("ldap_url", "ATEN_LDAP_URL"),
        ("ldap_base_dn", "ATEN_LDAP_BASE_DN"),
        ("ldap_bind_dn", "ATEN_LDAP_BIND_DN"),
        ("ldap_bind_password", "ATEN_LDAP_BIND_PASSWORD"),
    ],
)
def test_each_missing_ldap_value_is_named(missing, named):
    table = {k: v for k, v in LDAP.items() if k != missing}
    with pytest.raises(ConfigurationError, match=named):
        load_directory_settings(settings(directory=table), {})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ldap_url", "http://annuaire:389"),
        ("ldap_url", "ldap:///"),
        ("ldap_url", "ldap://annuaire:389/dc=fr"),
        ("ldap_start_tls", "peut-être"),
        ("ldap_timeout_seconds", 0),
        ("ldap_ca_file", "/nulle/part/ca.pem"),
    ],
)
def test_invalid_ldap_values_are_named(key, value):
    with pytest.raises(ConfigurationError, match=key):
        load_directory_settings(settings(directory={**LDAP, key: value}), {})


def test_clear_ldap_to_another_host_is_refused_outside_the_demo():
    table = {**LDAP, "ldap_url": "ldap://annuaire.ac-poitiers.fr:389"}
    with pytest.raises(ConfigurationError, match="ldap_start_tls"):
        load_directory_settings(settings(directory=table), {})
    assert load_directory_settings(settings(directory={**table, "ldap_start_tls": True}), {}).ldap
    assert load_directory_settings(settings("demo", directory=table), {}).ldap  # demo only


def test_clear_ldap_on_loopback_is_allowed():
    table = {**LDAP, "ldap_url": "ldap://127.0.0.1:3890"}
    assert load_directory_settings(settings(directory=table), {}).ldap


def test_the_academie_names_the_service_on_every_page():
    aten = load_aten_settings(settings("demo", academie={"name": "Académie de Limoges"}), {})
    assert aten.service_title == "ATEN"  # the parents' word, in every page title
    assert aten.service_name == "ATEN – Académie de Limoges"  # the SAML metadata's Organization
    assert aten.notice.startswith("Vous êtes sur ATEN, le service de l'académie de Limoges : ")
    unnamed = load_aten_settings(settings("demo"), {})
    assert unnamed.service_name == "ATEN" and unnamed.notice.startswith("Vous êtes sur ATEN : ")
    for wrong in ("", "  ", 42):
        with pytest.raises(ConfigurationError, match="academie"):
            load_aten_settings(settings("demo", academie={"name": wrong}), {})


def test_relative_ldif_path_is_resolved_from_the_project_root():
    directory = load_directory_settings(
        settings(directory={"backend": "ldif", "ldif_file": "config/demo/aten.ldif"}), {}
    )
    assert directory.ldif_file == Path(PROJECT_ROOT, "config/demo/aten.ldif")
