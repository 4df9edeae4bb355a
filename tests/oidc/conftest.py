"""The IdP as an OpenID provider with a few registered clients, on both storage backends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from joserfc.jwk import RSAKey

from federation.migrations import upgrade
from idp.domain.accounts import Account
from idp.oidc.clients import OidcClient, hash_client_secret, new_client_secret, write_client
from tests.conftest import Backend
from tests.flows.saml_steps import add_parent
from tests.oidc.rp import Rp


@dataclass(frozen=True)
class Registration:
    client_id: str
    redirect_uri: str
    auth_method: str
    secret: str | None = None
    private_key: RSAKey | None = None


@dataclass(frozen=True)
class Clients:
    directory: Path
    registrations: dict[str, Registration]


CONFIDENTIAL = "ent-lycee"  # client_secret_basic, every scope
POST_CLIENT = "ent-college"  # client_secret_post
JWT_CLIENT = "ent-ecole"  # private_key_jwt
PUBLIC_CLIENT = "appli-mobile"  # none: a public client, PKCE still required
ES256_CLIENT = "ent-es256"  # ID tokens signed ES256
PROFILE_CLIENT = "ent-profil"  # openid profile only, no ÉduConnect claims
SECTOR_CLIENT = "ent-migre"  # the sector of its former SAML entityID
SAML_ENTITY_ID = "https://ent.test/saml/metadata"


@pytest.fixture(scope="session")
def oidc_clients(tmp_path_factory: pytest.TempPathFactory) -> Clients:
    directory = tmp_path_factory.mktemp("oidc_clients")
    registrations: dict[str, Registration] = {}

    def register(client_id: str, host: str, method: str, **fields: object) -> None:
        secret = new_client_secret() if method.startswith("client_secret") else None
        key = RSAKey.generate_key(2048, auto_kid=True) if method == "private_key_jwt" else None
        redirect_uri = f"https://{host}/oidc/retour"
        write_client(
            directory,
            OidcClient(
                client_id=client_id,
                client_name=f"Test {client_id}",
                redirect_uris=(redirect_uri,),
                post_logout_redirect_uris=(f"https://{host}/au-revoir",),
                token_endpoint_auth_method=method,
                client_secret_hash=hash_client_secret(secret) if secret else None,
                jwks={"keys": [key.as_dict(private=False)]} if key else None,
                **fields,  # type: ignore[arg-type]
            ),
        )
        registrations[client_id] = Registration(client_id, redirect_uri, method, secret, key)

    register(CONFIDENTIAL, "lycee.test", "client_secret_basic")
    register(POST_CLIENT, "college.test", "client_secret_post")
    register(JWT_CLIENT, "ecole.test", "private_key_jwt")
    register(PUBLIC_CLIENT, "appli.test", "none")
    register(ES256_CLIENT, "es256.test", "client_secret_basic", id_token_signed_response_alg="ES256")
    register(PROFILE_CLIENT, "profil.test", "client_secret_basic", scopes=("openid", "profile"))
    register(SECTOR_CLIENT, "migre.test", "client_secret_basic", sector_identifier=SAML_ENTITY_ID)
    return Clients(directory, registrations)


@pytest.fixture(scope="session", params=["embedded", "postgres+redis"])
def oidc_backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """OIDC state lives in the store and pairwise subjects in the database: both backends."""
    if request.param == "embedded":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'idp.sqlite3'}"
        upgrade(url)
        return Backend("embedded", url, None)
    url = request.getfixturevalue("postgres_schema_url")
    upgrade(url)
    return Backend("postgres+redis", url, request.getfixturevalue("redis_url"))


@pytest.fixture(scope="session")
def op(deployment, oidc_backend: Backend, oidc_clients: Clients) -> Flask:
    from idp import create_app

    settings = deployment.settings(
        "idp",
        oidc_backend.database_url,
        oidc_backend.redis_url,
        oidc_clients_dir=str(oidc_clients.directory),
    )
    return create_app(settings)


@pytest.fixture
def parent(op: Flask) -> Account:
    return add_parent(op)


def make_rp(op: Flask, clients: Clients, client_id: str) -> Rp:
    reg = clients.registrations[client_id]
    return Rp(op, reg.client_id, reg.redirect_uri, reg.auth_method, reg.secret, reg.private_key)


@pytest.fixture
def rp(op: Flask, oidc_clients: Clients) -> Rp:
    return make_rp(op, oidc_clients, CONFIDENTIAL)
