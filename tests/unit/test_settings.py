"""Settings: a missing or invalid value stops start-up and names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.errors import ConfigurationError
from federation.login_throttle import BrakeLimits
from federation.settings import build_settings, load_settings, read_service_provider_directory

ROOT = Path("/srv/educonnect")
GOOD = {
    "base_url": "https://idp.example.fr",
    "secret_key": "s" * 40,
    "database_url": "postgresql://db/educonnect",
}


def test_production_settings_are_read_into_typed_values():
    settings = build_settings("idp", GOOD, {}, ROOT)
    assert settings.mode == "production"
    assert settings.entity_id == "https://idp.example.fr/saml/metadata"
    assert settings.cookie.secure and settings.cookie.name == "idp_session"
    assert settings.state_dir == ROOT / "var"
    assert settings.clock_skew_seconds == 180


@pytest.mark.parametrize(
    ("missing", "named"),
    [("secret_key", "idp.secret_key"), ("database_url", "idp.database_url"), ("base_url", "idp.base_url")],
)
def test_missing_setting_outside_demo_is_named(missing, named):
    data = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(ConfigurationError, match=named.replace(".", r"\.")):
        build_settings("idp", data, {}, ROOT)


def test_http_base_url_is_refused_outside_demo():
    with pytest.raises(ConfigurationError, match="HTTPS"):
        build_settings("idp", {**GOOD, "base_url": "http://idp.example.fr"}, {}, ROOT)


def test_short_secret_is_refused():
    with pytest.raises(ConfigurationError, match="secret_key"):
        build_settings("idp", {**GOOD, "secret_key": "court"}, {}, ROOT)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("crypto_backend", "openssl"),
        ("clock_skew_seconds", 3600),
        ("session_ttl_seconds", "long"),
        ("cookie_samesite", "Parfois"),
        ("peer_metadata", "idp.xml"),
    ],
)
def test_invalid_values_are_named(key, value):
    with pytest.raises(ConfigurationError, match=key):
        build_settings("idp", {**GOOD, key: value}, {}, ROOT)


def test_samesite_none_needs_secure_cookies():
    with pytest.raises(ConfigurationError, match="cookie_samesite"):
        build_settings(
            "ent",
            {"base_url": "http://localhost:8000", "cookie_samesite": "None"},
            {"EDUCONNECT_MODE": "demo"},
            ROOT,
        )


def test_environment_overrides_the_file(tmp_path):
    env = {
        "DATABASE_URL": "postgresql://other/db",
        "IDP_SECRET_KEY": "e" * 40,
        "REDIS_URL": "redis://r:6379/0",
    }
    settings = build_settings("idp", GOOD, env, ROOT)
    assert settings.database_url == "postgresql://other/db"
    assert settings.secret_key == "e" * 40
    assert settings.redis_url == "redis://r:6379/0"


def test_demo_mode_generates_and_keeps_a_secret(tmp_path):
    data = {"base_url": "http://localhost:8001", "state_dir": str(tmp_path)}
    first = build_settings("idp", data, {"EDUCONNECT_MODE": "demo"}, tmp_path)
    second = build_settings("idp", data, {"EDUCONNECT_MODE": "demo"}, tmp_path)
    assert len(first.secret_key) >= 32 and first.secret_key == second.secret_key
    assert not first.cookie.secure
    assert first.database_url.startswith("sqlite:///")


def test_missing_or_broken_file_is_named(tmp_path):
    with pytest.raises(ConfigurationError, match=r"ent\.toml"):
        load_settings("ent", {"EDUCONNECT_CONFIG_DIR": str(tmp_path)})
    (tmp_path / "ent.toml").write_text("base_url = ")
    with pytest.raises(ConfigurationError, match="TOML invalide"):
        load_settings("ent", {"EDUCONNECT_CONFIG_DIR": str(tmp_path)})


def test_service_provider_directory_registers_metadata_with_its_release(tmp_path):
    sp_dir = tmp_path / "sps"
    sp_dir.mkdir()
    (sp_dir / "lycee.xml").write_text("<md/>")
    (sp_dir / "lycee.toml").write_text('attributes = ["sn"]\n')
    (sp_dir / "college.xml").write_text("<md/>")
    settings = build_settings("idp", {**GOOD, "service_providers_dir": str(sp_dir)}, {}, tmp_path)
    assert settings.service_providers_dir == sp_dir
    releases = {p.metadata.name: p.attributes for p in read_service_provider_directory(sp_dir)}
    assert releases["lycee.xml"] == ("sn",)
    assert "FrEduCtId" in releases["college.xml"]


def test_services_receiving_saml_posts_send_their_cookie_cross_site_outside_the_demo():
    idp = build_settings("idp", GOOD, {}, ROOT)
    ent = build_settings("ent", {**GOOD, "base_url": "https://ent.example.fr"}, {}, ROOT)
    aten = build_settings("aten", {**GOOD, "base_url": "https://aten.example.fr"}, {}, ROOT)
    assert (idp.cookie.samesite, ent.cookie.samesite, aten.cookie.samesite) == ("None", "None", "Lax")
    assert idp.cookie.secure and ent.cookie.secure
    demo = build_settings("ent", {"base_url": "http://localhost:8000"}, {"EDUCONNECT_MODE": "demo"}, ROOT)
    assert demo.cookie.samesite == "Lax" and not demo.cookie.secure


def test_trusted_proxies_from_the_environment():
    assert build_settings("idp", GOOD, {}, ROOT).trusted_proxies == 0
    assert build_settings("idp", GOOD, {"EDUCONNECT_TRUSTED_PROXIES": "1"}, ROOT).trusted_proxies == 1
    with pytest.raises(ConfigurationError, match="EDUCONNECT_TRUSTED_PROXIES"):
        build_settings("idp", GOOD, {"EDUCONNECT_TRUSTED_PROXIES": "beaucoup"}, ROOT)


@pytest.mark.parametrize("service", ["idp", "ent", "aten"])
def test_shipped_configuration_loads_in_demo_with_the_in_process_backend(service, tmp_path):
    from federation.settings import PROJECT_ROOT

    env = {
        "EDUCONNECT_MODE": "demo",
        "EDUCONNECT_CONFIG_DIR": str(PROJECT_ROOT / "config"),
        "EDUCONNECT_STATE_DIR": str(tmp_path),  # the demo secret is written there, not in var/
    }
    settings = load_settings(service, env)
    assert settings.crypto_backend == "inprocess"  # AES-GCM encryption needs it (README)
    assert settings.base_url.startswith("http://localhost:800")


def test_the_portal_url_is_optional_https_outside_the_demo_and_from_the_environment():
    assert build_settings("idp", GOOD, {}, ROOT).portal_url is None
    portal = "https://ent.ac-poitiers.fr/"
    assert build_settings("idp", {**GOOD, "portal_url": portal}, {}, ROOT).portal_url == portal
    assert build_settings("aten", GOOD, {"EDUCONNECT_PORTAL_URL": portal}, ROOT).portal_url == portal
    for refused in ("http://ent.ac-poitiers.fr/", "javascript:alert(1)", "https://ent.test/ x"):
        with pytest.raises(ConfigurationError, match=r"idp\.portal_url"):
            build_settings("idp", {**GOOD, "portal_url": refused}, {}, ROOT)


@pytest.mark.parametrize("service", ["idp", "ent", "aten"])
def test_shipped_configuration_loads_in_production_with_the_compose_environment(service, tmp_path):
    """docker-compose.yml runs config/ as shipped with EDUCONNECT_MODE=production: every http://
    demo value there must be overridden by a variable the compose file sets."""
    import yaml

    from federation.settings import PROJECT_ROOT

    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    names = compose["x-service"]["environment"]
    values = {
        "ENT_BASE_URL": "https://ent.ac-poitiers.fr",
        "IDP_BASE_URL": "https://educonnect.ac-poitiers.fr",
        "ATEN_BASE_URL": "https://aten.ac-poitiers.fr",
    }
    env = {
        name: value.replace("${ENT_BASE_URL:?ENT_BASE_URL}", values["ENT_BASE_URL"])
        .replace("${ATEN_BASE_URL:?ATEN_BASE_URL}", values["ATEN_BASE_URL"])
        .replace("${IDP_BASE_URL:?IDP_BASE_URL}", values["IDP_BASE_URL"])
        for name, value in names.items()
        if "${" not in value or "BASE_URL" in value
    }
    env |= {
        "EDUCONNECT_CONFIG_DIR": str(PROJECT_ROOT / "config"),
        "EDUCONNECT_STATE_DIR": str(tmp_path),
        "EDUCONNECT_SECRET_KEY": "s" * 40,
        "DATABASE_URL": "postgresql://educonnect@postgres:5432/educonnect",
        "ENT_OIDC_CLIENT_SECRET": "x" * 32,
    }
    settings = load_settings(service, env)
    assert settings.mode == "production" and settings.base_url.startswith("https://")
    if service != "ent":
        assert settings.portal_url == "https://ent.ac-poitiers.fr/"


def test_redis_sentinels_from_the_environment():
    env = {
        "REDIS_SENTINELS": "sentinel-1:26379, sentinel-2:26379,[::1]:26380",
        "REDIS_SENTINEL_SERVICE": "educonnect",
        "REDIS_PASSWORD": "maitre-secret",
        "REDIS_DB": "2",
    }
    settings = build_settings("idp", GOOD, env, ROOT)
    assert settings.redis_url is None
    sentinel = settings.redis_sentinel
    assert sentinel is not None
    assert sentinel.sentinels == (("sentinel-1", 26379), ("sentinel-2", 26379), ("::1", 26380))
    assert (sentinel.service, sentinel.db, sentinel.password) == ("educonnect", 2, "maitre-secret")
    assert "maitre-secret" not in repr(settings)
    assert build_settings("idp", GOOD, {}, ROOT).redis_sentinel is None


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REDIS_SENTINELS": "sentinel-1:26379"}, "REDIS_SENTINEL_SERVICE"),
        ({"REDIS_SENTINELS": "sentinel-1", "REDIS_SENTINEL_SERVICE": "m"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "sentinel-1:99999", "REDIS_SENTINEL_SERVICE": "m"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "a:1,,b:2", "REDIS_SENTINEL_SERVICE": "m"}, "REDIS_SENTINELS"),
        (
            {"REDIS_SENTINELS": "sentinel-1:26379", "REDIS_SENTINEL_SERVICE": "m", "REDIS_URL": "redis://r"},
            "exclusifs",
        ),
        ({"REDIS_SENTINELS": "s:1", "REDIS_SENTINEL_SERVICE": "m", "REDIS_DB": "16"}, "REDIS_DB"),
    ],
)
def test_bad_redis_sentinel_settings_are_named(env, named):
    with pytest.raises(ConfigurationError, match=named):
        build_settings("idp", GOOD, env, ROOT)


def test_login_brake_limits_are_read_and_checked():
    assert build_settings("idp", GOOD, {}, ROOT).login_brake == BrakeLimits()
    data = {**GOOD, "login_account_attempts": 5, "login_device_attempts": 3, "login_window_seconds": 900}
    limits = build_settings("aten", data, {}, ROOT).login_brake
    assert limits == BrakeLimits(
        account_attempts=5, device_attempts=3, address_attempts=100, window_seconds=900
    )
    for key, value in (("login_account_attempts", 0), ("login_window_seconds", "1h")):
        with pytest.raises(ConfigurationError, match=key):
            build_settings("idp", {**GOOD, key: value}, {}, ROOT)


@pytest.mark.parametrize(("valid_days", "cache_hours"), [(1, 24), (1, 30), (2, 48), (10, 24 * 30)])
def test_metadata_cache_duration_not_shorter_than_valid_until_is_refused(valid_days, cache_hours):
    """A partner that caches metadata for cacheDuration would hold a copy past its validUntil."""
    metadata = {"valid_days": valid_days, "cache_duration_hours": cache_hours}
    with pytest.raises(ConfigurationError, match=r"cache_duration_hours .* valid_days"):
        build_settings("idp", {**GOOD, "metadata": metadata}, {}, ROOT)


def test_metadata_cache_duration_shorter_than_valid_until_is_accepted():
    metadata = {"valid_days": 2, "cache_duration_hours": 47}
    read = build_settings("idp", {**GOOD, "metadata": metadata}, {}, ROOT).metadata
    assert read is not None and read.cache_duration_hours == 47
