"""``[sp_registry]`` and ``[sp_aggregate]`` of idp.toml: read once at start, wrong values named."""

from __future__ import annotations

import pytest

from federation.errors import ConfigurationError
from federation.settings import build_settings
from idp.sp_registry import DEFAULT_CHECK_SECONDS, registry_settings

GOOD = {
    "base_url": "https://idp.example.fr",
    "secret_key": "s" * 40,
    "database_url": "sqlite://",
}


def settings(tmp_path, **tables):
    return build_settings("idp", {**GOOD, "state_dir": str(tmp_path / "var"), **tables}, {}, tmp_path)


def test_without_an_aggregate_the_files_are_the_registry(tmp_path):
    config = registry_settings(settings(tmp_path))
    assert config.aggregate is None and config.check_seconds == DEFAULT_CHECK_SECONDS


def test_an_aggregate_is_read_with_its_copy_in_the_state_dir(tmp_path):
    signer = tmp_path / "operator.crt"
    signer.write_text("-----BEGIN CERTIFICATE-----\n")
    table = {"source": "https://federation.example.fr/ent.xml", "signer_certificate": str(signer)}
    aggregate = registry_settings(settings(tmp_path, sp_aggregate=table)).aggregate
    assert aggregate is not None
    assert aggregate.copy_dir == tmp_path / "var" / "sp_aggregate"
    assert aggregate.refresh_seconds == 3600 and "FrEduVecteur" in aggregate.attributes


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"source": "http://federation.example.fr/ent.xml"}, "https://"),
        ({"signer_certificate": ""}, "signer_certificate"),
        ({"signer_certificate": "/nonexistent/operator.crt"}, "absent"),
        ({"refresh_seconds": 5}, "refresh_seconds"),
        ({"attributes": "sn"}, "attributes"),
    ],
)
def test_a_wrong_aggregate_setting_stops_the_start(tmp_path, table, message):
    signer = tmp_path / "operator.crt"
    signer.write_text("-----BEGIN CERTIFICATE-----\n")
    base = {"source": str(tmp_path / "ent.xml"), "signer_certificate": str(signer)}
    with pytest.raises(ConfigurationError, match=message):
        registry_settings(settings(tmp_path, sp_aggregate={**base, **table}))


def test_check_seconds_is_bounded(tmp_path):
    with pytest.raises(ConfigurationError, match="check_seconds"):
        registry_settings(settings(tmp_path, sp_registry={"check_seconds": 3600}))
