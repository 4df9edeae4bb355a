"""The ENT's typed settings sections: ``[oidc]`` and ``directory`` of ent.toml, read by the loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from federation.errors import ConfigurationError
from federation.settings import EntDirectoryFiles, build_settings

ROOT = Path("/srv/educonnect")
ENT = {"base_url": "https://ent.example.fr", "secret_key": "s" * 40}
OIDC = {"issuer": "https://educonnect.example.fr/", "client_id": "ent-lycee-x", "client_secret": "secret"}


def ent(env: dict[str, str] | None = None, **data: Any):
    return build_settings("ent", {**ENT, **data}, env or {}, ROOT)


def test_directory_files_are_paths_resolved_against_the_root():
    settings = ent(directory={"establishments": "config/etablissements.csv", "pupils": "/data/eleves.csv"})
    assert settings.ent_directory == EntDirectoryFiles(
        establishments=ROOT / "config/etablissements.csv", pupils=Path("/data/eleves.csv")
    )
    assert "directory" not in settings.extra  # read once, here, not again by a view


def test_without_a_directory_table_there_are_no_files():
    assert ent().ent_directory == EntDirectoryFiles(establishments=None, pupils=None)


@pytest.mark.parametrize("table", [{"establishments": 3}, "config/etablissements.csv"])
def test_an_invalid_directory_table_is_named(table):
    with pytest.raises(ConfigurationError, match=r"ent\.directory"):
        ent(directory=table)


def test_oidc_section_is_typed_with_protocol_oidc():
    settings = ent(protocol="oidc", oidc=OIDC)
    assert settings.oidc is not None
    assert settings.oidc.issuer == "https://educonnect.example.fr"  # no trailing slash
    assert (settings.oidc.client_id, settings.oidc.client_secret) == ("ent-lycee-x", "secret")
    assert settings.oidc.id_token_alg == "RS256"
    assert "oidc" not in settings.extra
    assert "secret" not in repr(settings.oidc)


def test_oidc_section_is_not_read_with_protocol_saml():
    assert ent(oidc={"issuer": "http://pas-https.test"}).oidc is None


def test_the_environment_gives_the_client_secret():
    settings = ent({"ENT_OIDC_CLIENT_SECRET": "from-env"}, protocol="oidc", oidc=OIDC)
    assert settings.oidc is not None and settings.oidc.client_secret == "from-env"
    settings = ent({"ENT_PROTOCOL": "oidc"}, oidc={k: v for k, v in OIDC.items() if k != "client_secret"})
    assert settings.oidc is not None and settings.oidc.client_secret is None  # the RP refuses it at start


@pytest.mark.parametrize(
    ("oidc", "named"),
    [
        ({"client_id": "ent"}, "ent.oidc.issuer"),
        ({"issuer": "https://idp.test"}, "ent.oidc.client_id"),
        ({**OIDC, "issuer": "http://idp.test"}, "HTTPS"),
        ({**OIDC, "id_token_signed_response_alg": "HS256"}, "id_token_signed_response_alg"),
        ({**OIDC, "client_id": 7}, "ent.oidc.client_id"),
    ],
)
def test_invalid_oidc_section_is_named(oidc, named):
    with pytest.raises(ConfigurationError, match=named.replace(".", r"\.")):
        ent(protocol="oidc", oidc=oidc)


def test_other_services_keep_their_tables_in_extra():
    aten = build_settings("aten", {**ENT, "directory": {"backend": "ldif"}}, {}, ROOT)
    assert aten.extra["directory"] == {"backend": "ldif"}
    assert aten.ent_directory == EntDirectoryFiles() and aten.oidc is None
