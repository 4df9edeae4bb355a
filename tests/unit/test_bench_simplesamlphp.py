"""The benchmark's SimpleSAMLphp peer: the PHP it writes and the configuration variants of (s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.deployment import metadata_path
from bench.harness import BenchError
from bench.simplesamlphp import _php
from bench.versus_simplesamlphp import _write_noenc_config, _write_ssp_ent_config


def test_php_literals_escape_quotes_and_backslashes() -> None:
    assert _php("it's a\\b") == "'it\\'s a\\\\b'"
    assert _php({0: "exampleauth:UserPass", "u:p": {"sn": ["O'Neil"]}, "on": True}) == (
        "[0 => 'exampleauth:UserPass', 'u:p' => ['sn' => ['O\\'Neil']], 'on' => true]"
    )
    with pytest.raises(TypeError):
        _php(object())


def _config(root: Path) -> Path:
    config = root / "config"
    config.mkdir()
    ent_xml = metadata_path("ent.xml", "inprocess")
    (config / "idp.toml").write_text(
        f'base_url = "https://idp.bench.test"\n[[service_providers]]\nmetadata = "{ent_xml}"\n'
    )
    (config / "ent.toml").write_text(
        'base_url = "https://ent.bench.test"\nstate_dir = "var/ent"\n'
        f'peer_metadata = ["{metadata_path("idp.xml", "inprocess")}"]\n'
    )
    return config


def test_noenc_variant_registers_the_signing_only_ent_metadata(tmp_path: Path) -> None:
    _config(tmp_path)
    _write_noenc_config(tmp_path)
    idp = (tmp_path / "config-noenc" / "idp.toml").read_text()
    assert f'metadata = "{metadata_path("ent.xml", "xmlsec1")}"' in idp
    assert (tmp_path / "config-noenc" / "ent.toml").exists()


def test_noenc_variant_fails_when_the_line_is_not_there(tmp_path: Path) -> None:
    config = _config(tmp_path)
    (config / "idp.toml").write_text('base_url = "https://idp.bench.test"\n')
    with pytest.raises(BenchError):
        _write_noenc_config(tmp_path)


def test_ssp_variant_points_the_ent_at_simplesamlphp_only(tmp_path: Path) -> None:
    _config(tmp_path)
    _write_ssp_ent_config(tmp_path, Path("metadata/ssp-idp.xml"))
    ent = (tmp_path / "config-ssp" / "ent.toml").read_text()
    assert 'peer_metadata = ["metadata/ssp-idp.xml"]' in ent
    assert 'state_dir = "var/ent-ssp"' in ent
    assert 'idp.xml"' not in ent.replace("ssp-idp.xml", "")
