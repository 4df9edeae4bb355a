"""Client registration: the TOML files, their validation, and ``educonnect-bridge oidc …``."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from joserfc.jwk import RSAKey

from educonnect_bridge.cli import main
from federation.errors import ConfigurationError
from federation.keys import generate_service_keys, oidc_signing_pair
from idp.oidc.clients import OidcClient, hash_client_secret, load_clients, write_client
from idp.oidc.keys import load_signing_keys

SECRET_HASH = hash_client_secret("s" * 43)


def client(**changes) -> OidcClient:
    fields = {
        "client_id": "ent-test",
        "redirect_uris": ("https://ent.test/oidc/retour",),
        "token_endpoint_auth_method": "client_secret_basic",
        "client_secret_hash": SECRET_HASH,
    }
    return OidcClient(**(fields | changes))


def test_written_client_reads_back_the_same(tmp_path):
    key = RSAKey.generate_key(2048, auto_kid=True)
    registered = client(
        client_id="ent.jwt_1",
        client_name='ENT « Lycée "Victor Hugo" »',
        post_logout_redirect_uris=("https://ent.test/",),
        token_endpoint_auth_method="private_key_jwt",
        client_secret_hash=None,
        jwks={"keys": [key.as_dict(private=False)]},
        scopes=("openid", "profile"),
        id_token_signed_response_alg="ES256",
        sector_identifier="https://ent.test/saml/metadata",
    )
    write_client(tmp_path, registered)
    loaded = load_clients(tmp_path)["ent.jwt_1"]
    assert loaded == registered
    assert loaded.public_keys.keys[0].kid == key.kid


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"redirect_uris": ("http://ent.test/oidc/retour",)}, "HTTPS"),
        ({"redirect_uris": ("https://ent.test/retour#x",)}, "fragment"),
        ({"redirect_uris": ("/oidc/retour",)}, "absolue"),
        ({"redirect_uris": ()}, "redirect_uri"),
        ({"post_logout_redirect_uris": ("http://ent.test/",)}, "HTTPS"),
        ({"client_secret_hash": None}, "client_secret_hash"),
        ({"client_secret_hash": "en-clair"}, "client_secret_hash"),
        ({"token_endpoint_auth_method": "client_secret_jwt"}, "token_endpoint_auth_method"),
        ({"scopes": ("profile",)}, "openid"),
        ({"scopes": ("openid", "email")}, "scopes"),
        ({"id_token_signed_response_alg": "HS256"}, "id_token_signed_response_alg"),
        ({"client_id": "../ent"}, "client_id"),
        ({"token_endpoint_auth_method": "private_key_jwt", "client_secret_hash": None}, "jwks"),
        ({"token_endpoint_auth_method": "none"}, "inutile"),
    ],
)
def test_unsafe_or_incomplete_clients_are_refused(tmp_path, changes, message):
    with pytest.raises(ConfigurationError, match=message):
        write_client(tmp_path, client(**changes))


def test_private_keys_in_a_client_jwks_are_refused(tmp_path):
    private = RSAKey.generate_key(2048).as_dict(private=True)
    registered = client(
        token_endpoint_auth_method="private_key_jwt", client_secret_hash=None, jwks={"keys": [private]}
    )
    with pytest.raises(ConfigurationError, match="publiques"):
        write_client(tmp_path, registered)


def test_loopback_http_redirect_is_allowed_for_the_demo(tmp_path):
    write_client(tmp_path, client(redirect_uris=("http://localhost:8000/oidc/retour",)))


def test_a_bad_file_stops_the_start(tmp_path):
    (tmp_path / "ent-test.toml").write_text('client_id = "autre"\nredirect_uris = ["https://ent.test/cb"]\n')
    with pytest.raises(ConfigurationError):
        load_clients(tmp_path)


@pytest.fixture
def cli_env(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "idp.toml").write_text('base_url = "http://localhost:8001"\n')
    return {"EDUCONNECT_CONFIG_DIR": str(config), "EDUCONNECT_MODE": "demo"}


def test_cli_add_list_remove(tmp_path, cli_env):
    runner = CliRunner()
    added = runner.invoke(
        main,
        [
            "oidc",
            "client",
            "add",
            "ent-lycee",
            "--redirect-uri",
            "https://ent.lycee.test/oidc/retour",
            "--post-logout-redirect-uri",
            "https://ent.lycee.test/",
            "--scope",
            "openid",
            "--scope",
            "educonnect",
        ],
        env=cli_env,
    )
    assert added.exit_code == 0, added.output
    shown = re.search(r"client_secret \(affiché une seule fois.*\) : (\S+)", added.output)
    assert shown is not None, added.output
    secret = shown.group(1)
    stored = (tmp_path / "config" / "oidc_clients" / "ent-lycee.toml").read_text()
    assert secret not in stored and hash_client_secret(secret) in stored
    registered = load_clients(tmp_path / "config" / "oidc_clients")["ent-lycee"]
    assert registered.check_client_secret(secret) and not registered.check_client_secret(secret + "x")
    assert registered.scopes == ("openid", "educonnect")

    again = runner.invoke(
        main, ["oidc", "client", "add", "ent-lycee", "--redirect-uri", "https://x.test/cb"], env=cli_env
    )
    assert again.exit_code != 0 and "existe déjà" in again.output

    listed = runner.invoke(main, ["oidc", "client", "list"], env=cli_env)
    assert "ent-lycee\tclient_secret_basic\thttps://ent.lycee.test/oidc/retour" in listed.output

    removed = runner.invoke(main, ["oidc", "client", "remove", "ent-lycee"], env=cli_env)
    assert removed.exit_code == 0 and load_clients(tmp_path / "config" / "oidc_clients") == {}
    assert runner.invoke(main, ["oidc", "client", "remove", "ent-lycee"], env=cli_env).exit_code != 0


def test_cli_add_private_key_jwt_client_and_secret_file(tmp_path, cli_env):
    key = RSAKey.generate_key(2048, auto_kid=True)
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    runner = CliRunner()
    added = runner.invoke(
        main,
        [
            "oidc",
            "client",
            "add",
            "ent-jwt",
            "--redirect-uri",
            "https://ent.test/cb",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            str(jwks_file),
        ],
        env=cli_env,
    )
    assert added.exit_code == 0 and "client_secret" not in added.output
    secret_file = tmp_path / "secret"
    added = runner.invoke(
        main,
        [
            "oidc",
            "client",
            "add",
            "ent-post",
            "--redirect-uri",
            "https://ent.test/cb2",
            "--auth-method",
            "client_secret_post",
            "--secret-file",
            str(secret_file),
        ],
        env=cli_env,
    )
    assert added.exit_code == 0 and oct(secret_file.stat().st_mode & 0o777) == "0o600"
    clients = load_clients(tmp_path / "config" / "oidc_clients")
    assert clients["ent-post"].check_client_secret(secret_file.read_text().strip())
    assert clients["ent-jwt"].public_keys.keys[0].kid == key.kid


def test_cli_refuses_an_unsafe_redirect_uri(cli_env):
    result = CliRunner().invoke(
        main, ["oidc", "client", "add", "ent-x", "--redirect-uri", "http://ent.test/cb"], env=cli_env
    )
    assert result.exit_code != 0 and "HTTPS" in result.output


def test_certs_generate_writes_the_oidc_keys_and_cli_rotates_them(tmp_path, cli_env):
    certs = tmp_path / "certs"
    generate_service_keys(certs, ("idp",))
    before = {k["kid"] for k in load_signing_keys(certs).jwks["keys"]}
    assert len(before) == 2 and oidc_signing_pair(certs, "ES256").key_file.stat().st_mode & 0o777 == 0o600
    env = cli_env | {"EDUCONNECT_CERTS_DIR": str(certs)}
    runner = CliRunner()
    assert runner.invoke(main, ["oidc", "keys", "rotate"], env=env).exit_code != 0  # nothing announced
    assert runner.invoke(main, ["oidc", "keys", "next"], env=env).exit_code == 0
    announced = load_signing_keys(certs)
    assert len(announced.published) == 4
    assert {k.kid for k in announced.signing.values()} == before
    assert runner.invoke(main, ["oidc", "keys", "rotate"], env=env).exit_code == 0
    rotated = load_signing_keys(certs)
    assert {k.kid for k in rotated.signing.values()}.isdisjoint(before)
    assert {k["kid"] for k in rotated.jwks["keys"]} >= before  # previous keys still published
