"""The benchmark's SimpleSAMLphp peer: the PHP it writes and the configuration variants of (s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.deployment import metadata_path
from bench.harness import BenchError
from bench.load import RunResult
from bench.measurement import Measurement
from bench.simplesamlphp import _php
from bench.versus_simplesamlphp import (
    ENCRYPTED,
    PEER,
    PLAIN,
    _outcome,
    _write_noenc_config,
    _write_ssp_ent_config,
)


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


def _run(label: str, ops: int, cpu_seconds: float) -> Measurement:
    run = RunResult(completed=ops, wall=10.0, latencies=[0.01] * ops)
    return Measurement(label, 1, "0", "1", 8, run, cpu_seconds)


def test_targets_are_the_median_of_the_rounds_ratios_per_server_cpu_second() -> None:
    rounds = [
        {  # ÉduConnect 200 and 100 SSO per CPU-second, SimpleSAMLphp 100: 2× and 1×
            ENCRYPTED: _run(ENCRYPTED, 1000, 10.0),
            PLAIN: _run(PLAIN, 1000, 5.0),
            PEER: _run(PEER, 1000, 10.0),
        },
        {ENCRYPTED: _run(ENCRYPTED, 900, 5.0), PLAIN: _run(PLAIN, 900, 3.0), PEER: _run(PEER, 600, 6.0)},
        {ENCRYPTED: _run(ENCRYPTED, 500, 10.0), PLAIN: _run(PLAIN, 500, 2.0), PEER: _run(PEER, 400, 4.0)},
    ]
    same, encrypted = _outcome(rounds, [], {"php-fpm": 9.0, "nginx": 1.0}).targets
    assert same.value == pytest.approx(2.5)  # rounds 2.0, 3.0, 2.5
    assert same.threshold == 2.0 and same.passed
    assert encrypted.value == pytest.approx(1.0)  # rounds 1.0, 1.8, 0.5
    assert encrypted.threshold == 1.8 and not encrypted.passed


def test_no_ratio_when_the_peer_used_no_cpu() -> None:
    rounds = [{ENCRYPTED: _run(ENCRYPTED, 10, 1.0), PLAIN: _run(PLAIN, 10, 1.0), PEER: _run(PEER, 0, 0.0)}]
    same, encrypted = _outcome(rounds, [], {}).targets
    assert same.value is None and not same.passed
    assert encrypted.value is None
