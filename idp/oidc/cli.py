"""``educonnect-bridge oidc …``: registered clients and ID token signing keys of the IdP.

A command group of the IdP, mounted on the command line by ``educonnect_bridge.cli`` (which also
registers the demo ENT as a client: that needs the ENT, so it lives there, not here).

Paths come from ``config/idp.toml`` (``oidc_clients_dir``, ``certs_dir``) or the environment, read
without the IdP's full settings so an operator needs no secret key to register a client.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import click

from federation.errors import ConfigurationError
from federation.keys import OIDC_SIGNING_ALGS
from federation.settings import config_dir
from idp.oidc.clients import (
    AUTH_METHODS,
    SCOPES,
    SECRET_AUTH_METHODS,
    OidcClient,
    client_file,
    hash_client_secret,
    load_clients,
    new_client_secret,
    remove_client,
    write_client,
)
from idp.oidc.keys import generate_next_keys, rotate_keys


def _idp_path(key: str, env_name: str, default: str) -> Path:
    config = config_dir(os.environ)
    value = os.environ.get(env_name)
    if not value:
        try:
            with (config / "idp.toml").open("rb") as fh:
                value = tomllib.load(fh).get(key)
        except FileNotFoundError:
            value = None
    path = Path(value or default)
    return path if path.is_absolute() else config.parent / path


def clients_dir() -> Path:
    return _idp_path("oidc_clients_dir", "EDUCONNECT_OIDC_CLIENTS_DIR", "config/oidc_clients")


def certs_dir() -> Path:
    return _idp_path("certs_dir", "EDUCONNECT_CERTS_DIR", "certs")


@click.group("oidc")
def oidc() -> None:
    """OpenID Connect: the relying parties (ENTs) and the ID token signing keys."""


@oidc.group("client")
def client() -> None:
    """Relying parties registered with the IdP (one TOML file each; restart the IdP after a change)."""


@client.command("add")
@click.argument("client_id")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True, help="Exact URI (repeatable).")
@click.option("--post-logout-redirect-uri", "post_logout_uris", multiple=True, help="Exact URI (repeatable).")
@click.option(
    "--auth-method", type=click.Choice(AUTH_METHODS), default="client_secret_basic", show_default=True
)
@click.option(
    "--jwks-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public JWKS of the client (private_key_jwt).",
)
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES), help="Default: all.")
@click.option("--id-token-alg", type=click.Choice(OIDC_SIGNING_ALGS), default="RS256", show_default=True)
@click.option("--sector", help="Pairwise sub sector, e.g. the ENT's SAML entityID to keep its subjects.")
@click.option(
    "--frontchannel-logout-uri", help="OpenID Connect Front-Channel Logout: loaded in a frame at logout."
)
@click.option("--backchannel-logout-uri", help="OpenID Connect Back-Channel Logout: receives a logout token.")
@click.option("--name", default="", help="Name shown to operators.")
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the generated secret to this file (0600) instead of printing it.",
)
@click.option("--force", is_flag=True, help="Replace an existing client (its secret changes).")
def client_add(
    client_id: str,
    redirect_uris: tuple[str, ...],
    post_logout_uris: tuple[str, ...],
    auth_method: str,
    jwks_file: Path | None,
    scopes: tuple[str, ...],
    id_token_alg: str,
    sector: str | None,
    frontchannel_logout_uri: str | None,
    backchannel_logout_uri: str | None,
    name: str,
    secret_file: Path | None,
    force: bool,
) -> None:
    """Register CLIENT_ID; a client secret is generated and shown once (only its hash is kept)."""
    directory = clients_dir()
    if client_file(directory, client_id).exists() and not force:
        raise click.ClickException(f"{client_id} existe déjà (--force pour le remplacer)")
    secret = new_client_secret() if auth_method in SECRET_AUTH_METHODS else None
    try:
        jwks = json.loads(jwks_file.read_text()) if jwks_file else None
    except ValueError as exc:
        raise click.ClickException(f"{jwks_file}: JSON invalide ({exc})") from exc
    registered = OidcClient(
        client_id=client_id,
        client_name=name,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_uris,
        token_endpoint_auth_method=auth_method,
        scopes=scopes or SCOPES,
        client_secret_hash=hash_client_secret(secret) if secret else None,
        jwks=jwks,
        id_token_signed_response_alg=id_token_alg,
        sector_identifier=sector,
        frontchannel_logout_uri=frontchannel_logout_uri,
        backchannel_logout_uri=backchannel_logout_uri,
    )
    try:
        path = write_client(directory, registered)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{client_id} enregistré dans {path} ; redémarrez l'IdP")
    if secret and secret_file:
        write_secret(secret_file, secret)
        click.echo(f"client_secret écrit dans {secret_file}")
    elif secret:
        click.echo(f"client_secret (affiché une seule fois, à transmettre à l'ENT) : {secret}")


@client.command("list")
def client_list() -> None:
    """The registered clients, their authentication method and redirect URIs."""
    try:
        clients = load_clients(clients_dir())
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    if not clients:
        click.echo(f"aucun client dans {clients_dir()}")
    for registered in clients.values():
        uris = ", ".join(registered.redirect_uris)
        click.echo(f"{registered.client_id}\t{registered.token_endpoint_auth_method}\t{uris}")


@client.command("remove")
@click.argument("client_id")
def client_remove(client_id: str) -> None:
    """Unregister CLIENT_ID (its codes and tokens stop working when the IdP restarts)."""
    if not remove_client(clients_dir(), client_id):
        raise click.ClickException(f"{client_id} n'est pas enregistré dans {clients_dir()}")
    click.echo(f"{client_id} supprimé ; redémarrez l'IdP")


@oidc.group("keys")
def keys() -> None:
    """ID token signing keys: announce the next ones, then rotate."""


@keys.command("next")
@click.option("--force", is_flag=True, help="Replace next keys already announced.")
def keys_next(force: bool) -> None:
    """Generate the next RS256/ES256 keys: published in the JWKS after a restart, not signing yet."""
    written = generate_next_keys(certs_dir(), force=force)
    click.echo(f"{len(written)} clé(s) suivante(s) écrite(s) dans {certs_dir()} ; redémarrez l'IdP")


@keys.command("rotate")
def keys_rotate() -> None:
    """Sign with the next keys; the current ones stay published as previous (restart the IdP)."""
    rotated = rotate_keys(certs_dir())
    if not rotated:
        raise click.ClickException(
            "aucune clé suivante : lancez d'abord « educonnect-bridge oidc keys next »"
        )
    click.echo(f"rotation faite pour {', '.join(rotated)} ; redémarrez l'IdP")


def write_secret(path: Path, secret: str) -> None:
    """0600 from the start: the secret is never readable by others, even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
