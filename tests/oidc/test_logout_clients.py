"""``frontchannel_logout_uri`` / ``backchannel_logout_uri`` per client: in the client file and the
CLI (OpenID Connect Front-Channel Logout 1.0 §2, Back-Channel Logout 1.0 §2.2)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from educonnect_bridge.cli import main
from federation.errors import ConfigurationError
from idp.oidc.clients import load_clients
from tests.oidc.test_clients import cli_env  # noqa: F401 - the fixture

FRONT = "https://ent.lycee.test/oidc/deconnexion-frontale"
BACK = "https://ent.lycee.test/oidc/deconnexion-serveur"


def add(cli_env, *options: str):  # noqa: F811 - the fixture's value
    return CliRunner().invoke(
        main,
        [
            "oidc",
            "client",
            "add",
            "ent-lycee",
            "--redirect-uri",
            "https://ent.lycee.test/oidc/retour",
            *options,
        ],
        env=cli_env,
    )


def test_cli_registers_both_logout_uris(tmp_path, cli_env):  # noqa: F811
    added = add(cli_env, "--frontchannel-logout-uri", FRONT, "--backchannel-logout-uri", BACK)
    assert added.exit_code == 0, added.output
    client = load_clients(tmp_path / "config" / "oidc_clients")["ent-lycee"]
    assert (client.frontchannel_logout_uri, client.backchannel_logout_uri) == (FRONT, BACK)
    assert client.client_metadata["backchannel_logout_session_required"] is True


@pytest.mark.parametrize("option", ["--frontchannel-logout-uri", "--backchannel-logout-uri"])
def test_a_logout_uri_in_clear_http_or_with_a_fragment_is_refused(cli_env, option):  # noqa: F811
    for uri in ("http://ent.lycee.test/deconnexion", "https://ent.lycee.test/deconnexion#x"):
        refused = add(cli_env, option, uri)
        assert refused.exit_code != 0 and uri in refused.output, refused.output


def test_a_client_file_with_a_logout_uri_that_is_not_text_stops_the_start(tmp_path):
    directory = tmp_path / "clients"
    directory.mkdir()
    (directory / "ent.toml").write_text(
        'client_id = "ent"\nredirect_uris = ["https://ent.test/cb"]\ntoken_endpoint_auth_method = "none"\n'
        "backchannel_logout_uri = 3\n"
    )
    with pytest.raises(ConfigurationError, match="backchannel_logout_uri"):
        load_clients(directory)
