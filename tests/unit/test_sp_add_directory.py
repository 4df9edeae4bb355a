"""``sp add`` writes where the IdP reads (``service_providers_dir`` of idp.toml), or refuses."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from educonnect_bridge.cli import main

METADATA = (
    '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://ent-x.test/sp">'
    '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
    'Location="https://ent-x.test/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>'
)


def test_without_a_service_providers_dir_sp_add_refuses_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "idp.toml").write_text('base_url = "https://idp.test"\n')
    metadata = tmp_path / "ent-x.xml"
    metadata.write_text(METADATA)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    env = {"EDUCONNECT_CONFIG_DIR": str(config)}
    result = CliRunner().invoke(main, ["sp", "add", str(metadata)], env=env)
    assert result.exit_code == 1
    assert "ne nomme aucun dossier de fournisseurs de services" in result.output
    assert "l'IdP ne lirait pas ce fichier" in result.output
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
