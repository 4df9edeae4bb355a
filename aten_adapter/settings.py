"""ATEN's own settings: the ``[directory]`` and ``[academie]`` tables of ``aten.toml``
(``settings.extra``) with ``ATEN_*`` environment overrides, read once at start.

A missing or invalid value raises :class:`ConfigurationError` naming it. The demo falls back to
the LDIF file ``config/demo/aten.ldif``; in production the backend and its source must be named
explicitly, so that demo accounts with published passwords can never answer in production.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from federation.errors import ConfigurationError
from federation.settings import Settings, config_dir

DirectoryBackend = Literal["ldif", "ldap"]
DIRECTORY_BACKENDS: tuple[DirectoryBackend, ...] = ("ldif", "ldap")
DEMO_LDIF_FILE = "config/demo/aten.ldif"
SERVICE_TITLE = "ATEN"
# Environment variable overriding each key of the [directory] table.
DIRECTORY_ENV = {
    "backend": "ATEN_DIRECTORY_BACKEND",
    "ldif_file": "ATEN_LDIF_FILE",
    "ldap_url": "ATEN_LDAP_URL",
    "ldap_base_dn": "ATEN_LDAP_BASE_DN",
    "ldap_bind_dn": "ATEN_LDAP_BIND_DN",
    "ldap_bind_password": "ATEN_LDAP_BIND_PASSWORD",
    "ldap_start_tls": "ATEN_LDAP_START_TLS",
    "ldap_ca_file": "ATEN_LDAP_CA_FILE",
    "ldap_timeout_seconds": "ATEN_LDAP_TIMEOUT_SECONDS",
}
_TRUE, _FALSE = ("1", "true", "yes", "oui"), ("0", "false", "no", "non")


@dataclass(frozen=True)
class LdapSettings:
    """A real LDAP server (OpenLDAP) reached with ldap3; see directory/ldap_directory.py."""

    url: str
    base_dn: str
    bind_dn: str
    bind_password: str = field(repr=False)
    start_tls: bool = False
    ca_file: Path | None = None
    timeout_seconds: int = 5

    @property
    def is_encrypted(self) -> bool:
        return self.url.startswith("ldaps://") or self.start_tls


@dataclass(frozen=True)
class DirectorySettings:
    backend: DirectoryBackend
    ldif_file: Path | None = None
    ldap: LdapSettings | None = None


@dataclass(frozen=True)
class AtenSettings:
    # « Académie de Poitiers »: the académie whose ATEN this is, on every page (None: not named).
    academie: str | None
    directory: DirectorySettings
    service_title: str = SERVICE_TITLE

    @property
    def service_name(self) -> str:
        """The académie's name for this service: « ATEN – Académie de Poitiers »."""
        return f"{self.service_title} – {self.academie}" if self.academie else self.service_title

    @property
    def notice(self) -> str:
        """The banner of every ATEN page: the parent has left ÉduConnect for the académie's ATEN."""
        of = f", le service de l'{self.academie[0].lower()}{self.academie[1:]}" if self.academie else ""
        return (
            f"Vous êtes sur ATEN{of} : votre ancien compte, utilisé une dernière fois pour créer "
            "votre compte ÉduConnect."
        )


def load_aten_settings(settings: Settings, env: Mapping[str, str]) -> AtenSettings:
    table = settings.extra.get("academie", {})
    academie = table.get("name") if isinstance(table, Mapping) else None
    if academie is not None and (not isinstance(academie, str) or not academie.strip()):
        raise ConfigurationError("aten.academie.name: texte attendu (« Académie de Poitiers »)")
    return AtenSettings(academie=academie, directory=load_directory_settings(settings, env))


def load_directory_settings(settings: Settings, env: Mapping[str, str]) -> DirectorySettings:
    reader = _DirectoryReader(settings.extra.get("directory", {}), env, config_dir(env).parent)
    default_backend = "ldif" if settings.is_demo else None
    backend = reader.text("backend", default_backend)
    if backend not in DIRECTORY_BACKENDS:
        raise ConfigurationError(
            f"aten.directory.backend: {backend!r} n'est pas parmi {', '.join(DIRECTORY_BACKENDS)}"
        )
    if backend == "ldif":
        path = reader.path("ldif_file", DEMO_LDIF_FILE if settings.is_demo else None)
        if path is None or not path.is_file():
            raise ConfigurationError(f"aten.directory.ldif_file: fichier LDIF absent ({path})")
        return DirectorySettings(backend="ldif", ldif_file=path)
    return DirectorySettings(backend="ldap", ldap=_ldap_settings(reader, settings.is_demo))


def _ldap_settings(reader: _DirectoryReader, is_demo: bool) -> LdapSettings:
    url = reader.text("ldap_url").rstrip("/")  # ldap3 refuses "ldap://host:389/"
    parts = urlsplit(url)
    if parts.scheme not in ("ldap", "ldaps") or not parts.hostname or parts.path or parts.query:
        raise ConfigurationError(
            f"aten.directory.ldap_url: ldap://hôte:port ou ldaps://hôte:port attendu ({url})"
        )
    ldap = LdapSettings(
        url=url,
        base_dn=reader.text("ldap_base_dn"),
        bind_dn=reader.text("ldap_bind_dn"),
        bind_password=reader.text("ldap_bind_password"),
        start_tls=reader.boolean("ldap_start_tls", default=False),
        ca_file=reader.path("ldap_ca_file", None),
        timeout_seconds=reader.integer("ldap_timeout_seconds", default=5, low=1, high=60),
    )
    if ldap.start_tls and parts.scheme == "ldaps":
        raise ConfigurationError("aten.directory.ldap_start_tls: inutile avec ldaps://")
    # Parents' passwords travel in the bind: outside the demo they are encrypted unless they never
    # leave this machine.
    if not is_demo and not ldap.is_encrypted and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            "aten.directory.ldap_url: ldaps:// ou ldap_start_tls = true obligatoire hors mode demo"
        )
    if ldap.ca_file is not None and not ldap.ca_file.is_file():
        raise ConfigurationError(f"aten.directory.ldap_ca_file: fichier absent ({ldap.ca_file})")
    return ldap


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _DirectoryReader:
    """A key of ``[directory]``: its ``ATEN_*`` environment variable first, then the table."""

    def __init__(self, table: Any, env: Mapping[str, str], root: Path) -> None:
        if not isinstance(table, Mapping):
            raise ConfigurationError("aten.directory: table attendue")
        self.table, self.env, self.root = table, env, root

    def _raw(self, key: str) -> Any:
        env_name = DIRECTORY_ENV[key]
        if self.env.get(env_name):
            return self.env[env_name]
        return self.table.get(key)

    def _name(self, key: str) -> str:
        return f"aten.directory.{key} (ou {DIRECTORY_ENV[key]})"

    def text(self, key: str, default: str | None = None) -> str:
        value = self._raw(key)
        if value is None or value == "":
            value = default
        if value is None:
            raise ConfigurationError(f"{self._name(key)} manquant")
        if not isinstance(value, str):
            raise ConfigurationError(f"{self._name(key)}: texte attendu")
        return value

    def path(self, key: str, default: str | None) -> Path | None:
        value = self._raw(key) or default
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigurationError(f"{self._name(key)}: chemin attendu")
        path = Path(value)
        return path if path.is_absolute() else self.root / path

    def boolean(self, key: str, default: bool) -> bool:
        value = self._raw(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        raise ConfigurationError(f"{self._name(key)}: true ou false attendu")

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._raw(key)
        if value is None or value == "":
            return default
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigurationError(f"{self._name(key)}: entier entre {low} et {high} attendu")
        return value
