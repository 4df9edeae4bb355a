"""OpenID Connect clients of ÉduConnect (the ENTs as relying parties), one TOML file each.

Field names follow OpenID Connect Dynamic Client Registration §2 (``redirect_uris``,
``post_logout_redirect_uris``, ``token_endpoint_auth_method``, ``jwks``,
``id_token_signed_response_alg``), so an ENT operator reads them as in any other OP. Files are
written by ``educonnect-bridge oidc client add`` and read once per process.

Client secrets are generated here (32 random bytes), shown once, and stored as SHA-256 hashes.
A fast hash is enough for a 256-bit random value: nobody can enumerate the preimages, whereas a
password hash (argon2id) would spend ~50 ms of CPU on every token request (a lever for denial of
service) and protect nothing more. A human-chosen secret is never accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from federation.errors import ConfigurationError
from federation.keys import OIDC_SIGNING_ALGS

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
SCOPES = ("openid", "profile", "educonnect")
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SECRET_HASH_PREFIX = "sha256:"  # noqa: S105 - a format tag, not a secret
# Private or symmetric JWK members: a client's registered JWKS holds public keys only.
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class OidcClient(ClientMixin):
    client_id: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str
    scopes: tuple[str, ...] = SCOPES
    client_name: str = ""
    post_logout_redirect_uris: tuple[str, ...] = ()
    client_secret_hash: str | None = None
    jwks: Mapping[str, Any] | None = field(default=None, compare=False)
    id_token_signed_response_alg: str = "RS256"  # noqa: S105 - an algorithm name
    # Pairwise ``sub`` sector (OIDC Core §8.1). Default: the client itself. An ENT moving from SAML
    # sets its SAML entityID here and keeps the same subject (the persistent NameID) for each parent.
    sector_identifier: str | None = None
    # OpenID Connect Front-Channel Logout 1.0 §2 and Back-Channel Logout 1.0 §2.2: where the
    # OP tells the client its session ended (a frame of the OP's logout page / a POSTed token).
    frontchannel_logout_uri: str | None = None
    backchannel_logout_uri: str | None = None

    @property
    def sector(self) -> str:
        return self.sector_identifier or self.client_id

    @property
    def client_metadata(self) -> dict[str, Any]:
        """The registration metadata Authlib's endpoints read (userinfo, end_session)."""
        return {
            "client_name": self.client_name,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "frontchannel_logout_uri": self.frontchannel_logout_uri,
            "frontchannel_logout_session_required": True,
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "backchannel_logout_session_required": True,
        }

    @cached_property
    def public_keys(self) -> KeySet:
        return KeySet.import_key_set(dict(self.jwks or {"keys": []}))  # type: ignore[arg-type]

    # --- authlib.oauth2.rfc6749.ClientMixin -------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        """Never: OIDC Core §3.1.2.1 makes ``redirect_uri`` required in every request."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scopes this client may have, in request order; None without ``openid``."""
        requested = list(dict.fromkeys((scope or "").split()))
        if "openid" not in requested:
            return None
        return " ".join(s for s in requested if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string comparison (RFC 9700 §4.1.3): no prefix, case, slash or port leniency."""
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.client_secret_hash:
            return False
        return hmac.compare_digest(hash_client_secret(client_secret), self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_client_secret(secret: str) -> str:
    return SECRET_HASH_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def client_file(directory: Path, client_id: str) -> Path:
    return directory / f"{client_id}.toml"


def load_clients(directory: Path | None) -> dict[str, OidcClient]:
    """Every ``*.toml`` of the directory, validated; an invalid file stops the start."""
    if directory is None or not directory.is_dir():
        return {}
    clients: dict[str, OidcClient] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: TOML invalide ({exc})") from exc
        client = client_from_mapping(data, origin=str(path))
        if path.stem != client.client_id:
            raise ConfigurationError(f"{path}: le fichier doit s'appeler {client.client_id}.toml")
        clients[client.client_id] = client
    return clients


def client_from_mapping(data: Mapping[str, Any], origin: str) -> OidcClient:
    def text(key: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"{origin}: {key} manquant ou invalide")
        return value

    def optional_text(key: str) -> str | None:
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigurationError(f"{origin}: {key} doit être une URI")
        return value

    def texts(key: str, default: Iterable[str] = ()) -> tuple[str, ...]:
        value = data.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigurationError(f"{origin}: {key} doit être une liste de textes")
        return tuple(value)

    client = OidcClient(
        client_id=text("client_id"),
        client_name=str(data.get("client_name", "")),
        redirect_uris=texts("redirect_uris"),
        post_logout_redirect_uris=texts("post_logout_redirect_uris"),
        token_endpoint_auth_method=text("token_endpoint_auth_method", "client_secret_basic"),
        scopes=texts("scopes", SCOPES),
        client_secret_hash=data.get("client_secret_hash"),
        jwks=data.get("jwks"),
        id_token_signed_response_alg=text("id_token_signed_response_alg", "RS256"),
        sector_identifier=data.get("sector_identifier"),
        frontchannel_logout_uri=optional_text("frontchannel_logout_uri"),
        backchannel_logout_uri=optional_text("backchannel_logout_uri"),
    )
    validate_client(client, origin)
    return client


def validate_client(client: OidcClient, origin: str) -> None:
    """Refuse what would make the client unsafe or unusable (raised at registration and at start)."""
    if not CLIENT_ID_PATTERN.match(client.client_id):
        raise ConfigurationError(
            f"{origin}: client_id {client.client_id!r} invalide (lettres, chiffres, . _ -)"
        )
    if not client.redirect_uris:
        raise ConfigurationError(f"{origin}: au moins une redirect_uri est nécessaire")
    logout_uris = (client.frontchannel_logout_uri, client.backchannel_logout_uri)
    for uri in (*client.redirect_uris, *client.post_logout_redirect_uris, *filter(None, logout_uris)):
        check_registered_uri(uri, origin)
    if client.token_endpoint_auth_method not in AUTH_METHODS:
        raise ConfigurationError(f"{origin}: token_endpoint_auth_method parmi {', '.join(AUTH_METHODS)}")
    if "openid" not in client.scopes or not set(client.scopes) <= set(SCOPES):
        raise ConfigurationError(f"{origin}: scopes parmi {', '.join(SCOPES)}, openid compris")
    if client.id_token_signed_response_alg not in OIDC_SIGNING_ALGS:
        raise ConfigurationError(
            f"{origin}: id_token_signed_response_alg parmi {', '.join(OIDC_SIGNING_ALGS)}"
        )
    if client.sector_identifier is not None and not isinstance(client.sector_identifier, str):
        raise ConfigurationError(f"{origin}: sector_identifier doit être un texte")
    method = client.token_endpoint_auth_method
    if method in SECRET_AUTH_METHODS and not (
        isinstance(client.client_secret_hash, str)
        and client.client_secret_hash.startswith(SECRET_HASH_PREFIX)
    ):
        raise ConfigurationError(f"{origin}: client_secret_hash (sha256:…) manquant pour {method}")
    if method not in SECRET_AUTH_METHODS and client.client_secret_hash:
        raise ConfigurationError(f"{origin}: client_secret_hash inutile avec {method}")
    if method == "private_key_jwt":
        _check_public_jwks(client, origin)


def check_registered_uri(uri: str, origin: str) -> None:
    """Absolute, no fragment (RFC 6749 §3.1.2), HTTPS except on the loopback interface."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment:
        raise ConfigurationError(f"{origin}: URI {uri!r} invalide (absolue, sans fragment)")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ConfigurationError(f"{origin}: URI {uri!r} : HTTPS obligatoire hors localhost")


def _check_public_jwks(client: OidcClient, origin: str) -> None:
    keys = (client.jwks or {}).get("keys")
    if not isinstance(keys, list) or not keys:
        raise ConfigurationError(f"{origin}: jwks (clés publiques) nécessaire pour private_key_jwt")
    for key in keys:
        if not isinstance(key, dict) or _PRIVATE_JWK_MEMBERS & set(key):
            raise ConfigurationError(f"{origin}: jwks ne doit contenir que des clés publiques RSA ou EC")
    try:
        client.public_keys  # noqa: B018 - parse now, fail at start rather than at the first token
    except (JoseError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"{origin}: jwks illisible ({exc})") from exc


def write_client(directory: Path, client: OidcClient) -> Path:
    """Write the client's TOML file (validated first); the directory is created if needed."""
    validate_client(client, str(client_file(directory, client.client_id)))
    lines = [
        "# OpenID Connect client of ÉduConnect (educonnect-bridge oidc client add).",
        f"client_id = {_toml_string(client.client_id)}",
        f"client_name = {_toml_string(client.client_name)}",
        f"redirect_uris = {_toml_list(client.redirect_uris)}",
        f"post_logout_redirect_uris = {_toml_list(client.post_logout_redirect_uris)}",
        f"token_endpoint_auth_method = {_toml_string(client.token_endpoint_auth_method)}",
        f"scopes = {_toml_list(client.scopes)}",
        f"id_token_signed_response_alg = {_toml_string(client.id_token_signed_response_alg)}",
    ]
    if client.sector_identifier:
        lines.append(f"sector_identifier = {_toml_string(client.sector_identifier)}")
    if client.frontchannel_logout_uri:
        lines.append(f"frontchannel_logout_uri = {_toml_string(client.frontchannel_logout_uri)}")
    if client.backchannel_logout_uri:
        lines.append(f"backchannel_logout_uri = {_toml_string(client.backchannel_logout_uri)}")
    if client.client_secret_hash:
        lines.append(f"client_secret_hash = {_toml_string(client.client_secret_hash)}")
    for key in (client.jwks or {}).get("keys", []):
        lines.append("")
        lines.append("[[jwks.keys]]")
        for name, value in key.items():
            rendered = _toml_list(value) if isinstance(value, list) else _toml_string(str(value))
            lines.append(f"{name} = {rendered}")
    directory.mkdir(parents=True, exist_ok=True)
    path = client_file(directory, client.client_id)
    path.write_text("\n".join(lines) + "\n")
    return path


def remove_client(directory: Path, client_id: str) -> bool:
    if not CLIENT_ID_PATTERN.match(client_id):
        return False
    path = client_file(directory, client_id)
    if not path.exists():
        return False
    path.unlink()
    return True


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string: same quotes and escapes (\" \\ \n \uXXXX).
    return json.dumps(value, ensure_ascii=False)


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_toml_string(v) for v in values) + "]"
