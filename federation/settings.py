"""Settings are data: environment + ``config/<service>.toml`` → frozen dataclasses, once at start.

A missing or invalid value raises :class:`ConfigurationError` naming the setting. Outside the
``demo`` mode nothing insecure is filled in silently: the secret key, the database URL and HTTPS
base URLs must be given.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from federation.errors import ConfigurationError
from federation.login_throttle import BrakeLimits

ServiceName = Literal["idp", "ent", "aten"]
SERVICES: tuple[ServiceName, ...] = ("idp", "ent", "aten")
Mode = Literal["demo", "production"]
CRYPTO_BACKENDS = ("xmlsec1", "inprocess")
# How the ENT talks to ÉduConnect: SAML 2.0 (default) or OpenID Connect (sp_ent/oidc/).
PROTOCOLS = ("saml", "oidc")
SAMESITE_VALUES = ("Lax", "Strict", "None")
ID_TOKEN_ALGORITHMS = ("RS256", "ES256")

# The ent.toml tables read into typed sections by this loader.
ENT_TABLES = ("oidc", "directory")
# The tables every service reads into typed sections.
COMMON_TABLES = ("admission", "metadata", "mail")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


AdmissionClass = Literal["light", "default", "expensive"]


@dataclass(frozen=True)
class AdmissionSettings:
    """How long a request may have waited in the reverse proxy's queue (its ``X-Request-Start``)
    before the service refuses it unserved, by class (federation/admission.py)."""

    expensive_budget_ms: int = 100
    default_budget_ms: int = 150
    retry_after_seconds: int = 5

    def budget_ms(self, admission_class: AdmissionClass) -> int | None:
        if admission_class == "expensive":
            return self.expensive_budget_ms
        if admission_class == "default":
            return self.default_budget_ms
        return None


@dataclass(frozen=True)
class CookieSettings:
    name: str
    secure: bool
    samesite: str


@dataclass(frozen=True)
class RedisSentinelSettings:
    """Redis through Sentinel (``REDIS_SENTINELS``, instead of ``REDIS_URL``): the services ask
    the sentinels for the current master of ``service`` and follow it after a failover."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    password: str | None = field(default=None, repr=False)  # the master's (and replicas')
    sentinel_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ContactPerson:
    """A ``<md:ContactPerson>`` of our metadata (SAML metadata §2.3.2.2)."""

    contact_type: Literal["technical", "support"]
    name: str
    email: str


# The organisation a service's metadata names by default (the demo's; a federation operator asks
# each deployment for its own, README « SAML metadata »).
DEFAULT_ORGANIZATIONS = {"idp": "ÉduConnect", "ent": "Services en ligne", "aten": "ATEN"}


@dataclass(frozen=True)
class MetadataSettings:
    """The ``[metadata]`` table: what our published metadata says beyond keys and endpoints."""

    valid_days: int  # validUntil = signing time + this
    cache_duration_hours: int  # cacheDuration: how long a consumer may keep its copy unrefreshed
    organization_name: str
    organization_display_name: str
    organization_url: str
    contacts: tuple[ContactPerson, ...]


@dataclass(frozen=True)
class ServiceProvider:
    """One SP registered with the IdP: its metadata and what we release to it (DESIGN §4)."""

    metadata: Path
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class OidcRelyingPartySettings:
    """The ENT's ``[oidc]`` table (with ``protocol = "oidc"``): ÉduConnect as its OpenID provider."""

    issuer: str
    client_id: str
    # ENT_OIDC_CLIENT_SECRET or the table; None here is not yet an error: the demo writes its
    # secret file after loading these settings (sp_ent.oidc.settings reads it at start).
    client_secret: str | None = field(repr=False)
    id_token_alg: str = "RS256"  # noqa: S105 - an algorithm name


@dataclass(frozen=True)
class EntDirectoryFiles:
    """The ENT's ``directory`` table: its own CSV files of establishment and pupil names."""

    establishments: Path | None = None
    pupils: Path | None = None


MAIL_TRANSPORTS = ("smtp", "mailbox")
MAIL_SECURITY = ("starttls", "tls", "none")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class MailSettings:
    """The ``[mail]`` table (federation/mail.py): an SMTP relay, or in the demo a local mailbox.

    ``security``: ``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or ``none`` (only to a
    relay on this machine). The password comes from ``EDUCONNECT_SMTP_PASSWORD`` or the table.
    """

    transport: str = "smtp"
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None  # a private relay's CA; the system's otherwise
    sender: str = "ÉduConnect <ne-pas-repondre@educonnect.invalid>"
    timeout_seconds: int = 10
    mailbox_dir: Path | None = None  # transport "mailbox": one .eml file per message


@dataclass(frozen=True)
class Settings:
    service: ServiceName
    mode: Mode
    base_url: str
    secret_key: str
    database_url: str
    redis_url: str | None
    redis_key_prefix: str
    state_dir: Path
    certs_dir: Path
    crypto_backend: str
    cookie: CookieSettings
    session_ttl_seconds: int
    pending_request_ttl_seconds: int
    clock_skew_seconds: int
    # Reverse proxies in front of the service whose X-Forwarded-For / -Proto we trust (the
    # client address drives login throttling).
    trusted_proxies: int
    # Queue-time budgets; applied only behind a trusted proxy (it stamps X-Request-Start).
    admission: AdmissionSettings
    # Peers' metadata: the ENT and ATEN read the IdP's, the IdP reads the SPs' and ATEN's.
    peer_metadata: tuple[Path, ...]
    # The IdP's ``[[service_providers]]`` entries; the SP directory's are read (and read again
    # while the IdP runs) by ``read_service_provider_directory``.
    service_providers: tuple[ServiceProvider, ...] = ()
    service_providers_dir: Path | None = None
    # ATEN's entity ID: the ENT names it in <samlp:Scoping> to ask for the transition, the IdP
    # sends its own AuthnRequest there.
    aten_entity_id: str | None = None
    # « Services en ligne », the académie's portal: where a page with no request in flight (after
    # logout, ATEN opened directly) sends the parent back. None: not configured.
    portal_url: str | None = None
    protocol: str = "saml"
    # OpenID Connect clients of the IdP, one TOML file each (« educonnect-bridge oidc client add »).
    oidc_clients_dir: Path | None = None
    # The ENT's typed tables (None / empty for the other services).
    oidc: OidcRelyingPartySettings | None = None
    ent_directory: EntDirectoryFiles = field(default_factory=EntDirectoryFiles)
    # The login brake's budgets (``login_*`` keys, federation/login_throttle.py).
    login_brake: BrakeLimits = field(default_factory=BrakeLimits)
    # The TOML tables no section above reads (ATEN's, see aten_adapter/settings.py).
    extra: Mapping[str, Any] = field(default_factory=dict)
    # What the published metadata says (``[metadata]``); None: the defaults of this service.
    metadata: MetadataSettings | None = None
    # Redis through Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_SERVICE…): None with REDIS_URL.
    redis_sentinel: RedisSentinelSettings | None = None
    # The bearer token a Prometheus scrape of /metrics presents (EDUCONNECT_METRICS_TOKEN); None:
    # /metrics answers 404 to everyone (federation/metrics.py).
    metrics_token: str | None = field(default=None, repr=False)
    # Outgoing mail of ÉduConnect's self-service (``[mail]``; idp only).
    mail: MailSettings = field(default_factory=MailSettings)

    @property
    def is_demo(self) -> bool:
        return self.mode == "demo"

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/saml/metadata"

    @property
    def embedded_store_path(self) -> Path:
        return self.state_dir / "store.sqlite3"


DEFAULT_RELEASE = (
    "sn",
    "givenName",
    "FrEduCtId",
    "FrEduCtDateConnexion",
    "FrEduUrlRetour",
    "FrEduVecteur",
    "FrEduCtPersonAffiliation",
    "FrEduCtRefId",
)


def metadata_settings(settings: Settings) -> MetadataSettings:
    """``settings.metadata``, or this service's defaults for settings built without the loader."""
    if settings.metadata is not None:
        return settings.metadata
    return _Reader(settings.service, {}, {}, PROJECT_ROOT).metadata(settings.base_url)


def config_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("EDUCONNECT_CONFIG_DIR", PROJECT_ROOT / "config"))


def load_settings(service: ServiceName, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``<config dir>/<service>.toml`` and the environment into :class:`Settings`."""
    env = os.environ if env is None else env
    cdir = config_dir(env)
    toml_path = cdir / f"{service}.toml"
    try:
        with toml_path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigurationError(f"{toml_path}: fichier de configuration absent") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{toml_path}: TOML invalide ({exc})") from exc
    return build_settings(service, data, env, root=cdir.parent)


def build_settings(
    service: ServiceName, data: Mapping[str, Any], env: Mapping[str, str], root: Path
) -> Settings:
    reader = _Reader(service, data, env, root)
    mode = reader.choice("mode", "EDUCONNECT_MODE", ("demo", "production"), default="production")
    is_demo = mode == "demo"
    state_dir = reader.path("state_dir", "EDUCONNECT_STATE_DIR", default="var")
    base_url = reader.text("base_url", f"{service.upper()}_BASE_URL").rstrip("/")
    if not is_demo and not base_url.startswith("https://"):
        raise ConfigurationError(f"{service}.base_url: HTTPS obligatoire hors mode demo ({base_url})")
    secret_key = reader.optional_text("secret_key", f"{service.upper()}_SECRET_KEY") or env.get(
        "EDUCONNECT_SECRET_KEY", ""
    )
    if not secret_key:
        if not is_demo:
            raise ConfigurationError(f"{service}.secret_key (ou {service.upper()}_SECRET_KEY) manquant")
        secret_key = _demo_secret(state_dir, service)
    elif len(secret_key) < 32:
        raise ConfigurationError(f"{service}.secret_key: 32 caractères au moins")
    database_url = reader.optional_text("database_url", "DATABASE_URL")
    if not database_url:
        if not is_demo and service == "idp":
            raise ConfigurationError("idp.database_url (ou DATABASE_URL) manquant")
        database_url = f"sqlite:///{state_dir / 'educonnect.sqlite3'}"
    # ÉduConnect and the ENT receive SAML Responses by cross-site POST (from ATEN, from
    # ÉduConnect): their session cookie must travel with it, so SameSite=None outside the demo
    # (all services are same-site on localhost). Forms keep their CSRF tokens either way.
    receives_cross_site_posts = service in ("idp", "ent") and not is_demo
    protocol = reader.choice("protocol", f"{service.upper()}_PROTOCOL", PROTOCOLS, default="saml")
    samesite = reader.choice(
        "cookie_samesite", None, SAMESITE_VALUES, default="None" if receives_cross_site_posts else "Lax"
    )
    secure = not is_demo
    if samesite == "None" and not secure:
        raise ConfigurationError(f"{service}.cookie_samesite: None exige des cookies Secure (hors demo)")
    return Settings(
        service=service,
        mode=mode,  # type: ignore[arg-type]
        base_url=base_url,
        secret_key=secret_key,
        database_url=database_url,
        redis_url=_redis_url_unless_sentinel(reader),
        redis_key_prefix=reader.optional_text("redis_key_prefix", "REDIS_KEY_PREFIX") or "",
        state_dir=state_dir,
        certs_dir=reader.path("certs_dir", "EDUCONNECT_CERTS_DIR", default="certs"),
        crypto_backend=reader.choice(
            "crypto_backend", "EDUCONNECT_CRYPTO_BACKEND", CRYPTO_BACKENDS, default="inprocess"
        ),
        cookie=CookieSettings(name=f"{service}_session", secure=secure, samesite=samesite),
        session_ttl_seconds=reader.integer("session_ttl_seconds", default=1800, low=60, high=86400),
        pending_request_ttl_seconds=reader.integer(
            "pending_request_ttl_seconds", default=1800, low=60, high=86400
        ),
        clock_skew_seconds=reader.integer("clock_skew_seconds", default=180, low=0, high=600),
        trusted_proxies=reader.integer_env(
            "trusted_proxies", "EDUCONNECT_TRUSTED_PROXIES", default=0, low=0, high=5
        ),
        admission=reader.admission(),
        peer_metadata=tuple(reader.path_list("peer_metadata")),
        service_providers=tuple(reader.service_providers()) if service == "idp" else (),
        service_providers_dir=reader.optional_path("service_providers_dir") if service == "idp" else None,
        aten_entity_id=_aten_entity_id(reader, env),
        portal_url=_portal_url(reader, service, is_demo),
        protocol=protocol,
        oidc_clients_dir=reader.path(
            "oidc_clients_dir", "EDUCONNECT_OIDC_CLIENTS_DIR", default="config/oidc_clients"
        )
        if service == "idp"
        else None,
        oidc=reader.oidc_relying_party(is_demo) if service == "ent" and protocol == "oidc" else None,
        ent_directory=reader.ent_directory() if service == "ent" else EntDirectoryFiles(),
        login_brake=reader.brake_limits(),
        extra={
            k: v
            for k, v in data.items()
            if isinstance(v, dict) and k not in COMMON_TABLES and not (service == "ent" and k in ENT_TABLES)
        },
        redis_sentinel=_redis_sentinel(reader),
        metrics_token=_metrics_token(reader),
        metadata=reader.metadata(base_url),
        mail=reader.mail(is_demo, state_dir) if service == "idp" else MailSettings(),
    )


def _metrics_token(reader: _Reader) -> str | None:
    token = reader.optional_text("metrics_token", "EDUCONNECT_METRICS_TOKEN")
    if token is not None and len(token) < 32:
        raise ConfigurationError(f"{reader.service}.metrics_token: 32 caractères au moins")
    return token


def _redis_url_unless_sentinel(reader: _Reader) -> str | None:
    url = reader.optional_text("redis_url", "REDIS_URL")
    if url and reader.optional_text("redis_sentinels", "REDIS_SENTINELS"):
        raise ConfigurationError(
            f"{reader.service}: REDIS_URL et REDIS_SENTINELS sont exclusifs (l'un ou l'autre)"
        )
    return url


def _redis_sentinel(reader: _Reader) -> RedisSentinelSettings | None:
    """``REDIS_SENTINELS=host:port,host:port`` with ``REDIS_SENTINEL_SERVICE`` (the master's name
    in the sentinels' ``sentinel monitor``)."""
    listed = reader.optional_text("redis_sentinels", "REDIS_SENTINELS")
    if listed is None:
        return None
    sentinels = []
    for item in listed.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(
                f"REDIS_SENTINELS: hôte:port attendu, séparés par des virgules ({item.strip()!r})"
            )
        sentinels.append((host.strip("[]"), int(port)))
    service = reader.optional_text("redis_sentinel_service", "REDIS_SENTINEL_SERVICE")
    if service is None:
        raise ConfigurationError("REDIS_SENTINEL_SERVICE manquant avec REDIS_SENTINELS (nom du maître)")
    return RedisSentinelSettings(
        sentinels=tuple(sentinels),
        service=service,
        db=reader.integer_env("redis_db", "REDIS_DB", default=0, low=0, high=15),
        password=reader.optional_text("redis_password", "REDIS_PASSWORD"),
        sentinel_password=reader.optional_text("redis_sentinel_password", "REDIS_SENTINEL_PASSWORD"),
    )


def _aten_entity_id(reader: _Reader, env: Mapping[str, str]) -> str | None:
    explicit = reader.optional_text("aten_entity_id", "ATEN_ENTITY_ID")
    if explicit:
        return explicit
    aten_base = env.get("ATEN_BASE_URL")
    return f"{aten_base.rstrip('/')}/saml/metadata" if aten_base else None


def _portal_url(reader: _Reader, service: str, is_demo: bool) -> str | None:
    url = reader.optional_text("portal_url", "EDUCONNECT_PORTAL_URL")
    if url is None:
        return None
    schemes = ("https://", "http://") if is_demo else ("https://",)
    if not url.startswith(schemes) or any(c.isspace() for c in url):
        raise ConfigurationError(f"{service}.portal_url: adresse http(s), HTTPS hors mode demo ({url})")
    return url


def _demo_secret(state_dir: Path, service: str) -> str:
    """Demo only: a random secret kept under var/ so restarts keep sessions."""
    path = state_dir / f"{service}.secret"
    if path.exists():
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


class _Reader:
    """Looks a key up in the environment first, then in the service's TOML table."""

    def __init__(self, service: str, data: Mapping[str, Any], env: Mapping[str, str], root: Path) -> None:
        self.service, self.data, self.env, self.root = service, data, env, root

    def _raw(self, key: str, env_name: str | None) -> Any:
        if env_name and self.env.get(env_name):
            return self.env[env_name]
        return self.data.get(key)

    def optional_text(self, key: str, env_name: str | None = None) -> str | None:
        value = self._raw(key, env_name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ConfigurationError(f"{self.service}.{key}: texte attendu")
        return value

    def text(self, key: str, env_name: str | None = None) -> str:
        value = self.optional_text(key, env_name)
        if value is None:
            hint = f" (ou {env_name})" if env_name else ""
            raise ConfigurationError(f"{self.service}.{key}{hint} manquant")
        return value

    def choice(self, key: str, env_name: str | None, allowed: tuple[str, ...], default: str) -> str:
        value = self.optional_text(key, env_name) or default
        if value not in allowed:
            raise ConfigurationError(f"{self.service}.{key}: {value!r} n'est pas parmi {', '.join(allowed)}")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigurationError(f"{self.service}.{key}: entier entre {low} et {high} attendu")
        return value

    def integer_env(self, key: str, env_name: str, default: int, low: int, high: int) -> int:
        raw = self.env.get(env_name)
        if raw is None or raw == "":
            return self.integer(key, default, low, high)
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise ConfigurationError(f"{env_name}: entier entre {low} et {high} attendu")
        return int(raw)

    def brake_limits(self) -> BrakeLimits:
        default = BrakeLimits()
        return BrakeLimits(
            account_attempts=self.integer("login_account_attempts", default.account_attempts, 1, 1000),
            device_attempts=self.integer("login_device_attempts", default.device_attempts, 1, 1000),
            address_attempts=self.integer("login_address_attempts", default.address_attempts, 1, 100000),
            window_seconds=self.integer("login_window_seconds", default.window_seconds, 60, 86400),
        )

    def _resolve(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.root / path

    def path(self, key: str, env_name: str | None, default: str) -> Path:
        return self._resolve(self.optional_text(key, env_name) or default)

    def path_list(self, key: str) -> list[Path]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigurationError(f"{self.service}.{key}: liste de chemins attendue")
        return [self._resolve(v) for v in value]

    def table(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigurationError(f"{self.service}.{key}: table attendue")
        return value

    def _table_text(self, table: Mapping[str, Any], name: str, key: str) -> str | None:
        value = table.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ConfigurationError(f"{self.service}.{name}.{key}: texte attendu")
        return value

    def oidc_relying_party(self, is_demo: bool) -> OidcRelyingPartySettings:
        """The ``[oidc]`` table; the secret may come from ENT_OIDC_CLIENT_SECRET instead."""
        table = self.table("oidc")
        issuer = (self._table_text(table, "oidc", "issuer") or "").rstrip("/")
        client_id = self._table_text(table, "oidc", "client_id")
        if not issuer or not client_id:
            raise ConfigurationError(
                f"{self.service}.oidc.issuer et {self.service}.oidc.client_id sont nécessaires "
                "avec protocol = oidc"
            )
        if not is_demo and not issuer.startswith("https://"):
            raise ConfigurationError(
                f"{self.service}.oidc.issuer: HTTPS obligatoire hors mode demo ({issuer})"
            )
        alg = self._table_text(table, "oidc", "id_token_signed_response_alg") or "RS256"
        if alg not in ID_TOKEN_ALGORITHMS:
            raise ConfigurationError(
                f"{self.service}.oidc.id_token_signed_response_alg: RS256 ou ES256, pas {alg}"
            )
        secret = self.env.get("ENT_OIDC_CLIENT_SECRET") or self._table_text(table, "oidc", "client_secret")
        return OidcRelyingPartySettings(
            issuer=issuer, client_id=client_id, client_secret=secret, id_token_alg=alg
        )

    def admission(self) -> AdmissionSettings:
        """The ``[admission]`` table; EDUCONNECT_ADMISSION_*_MS override the two budgets."""
        table = self.table("admission")
        reader = _Reader(f"{self.service}.admission", table, self.env, self.root)
        defaults = AdmissionSettings()
        return AdmissionSettings(
            expensive_budget_ms=reader.integer_env(
                "expensive_budget_ms",
                "EDUCONNECT_ADMISSION_EXPENSIVE_MS",
                default=defaults.expensive_budget_ms,
                low=1,
                high=60000,
            ),
            default_budget_ms=reader.integer_env(
                "default_budget_ms",
                "EDUCONNECT_ADMISSION_DEFAULT_MS",
                default=defaults.default_budget_ms,
                low=1,
                high=60000,
            ),
            retry_after_seconds=reader.integer(
                "retry_after_seconds", default=defaults.retry_after_seconds, low=1, high=3600
            ),
        )

    def metadata(self, base_url: str) -> MetadataSettings:
        """The ``[metadata]`` table; every key has a default (the demo runs with none)."""
        table = self.table("metadata")
        reader = _Reader(f"{self.service}.metadata", table, {}, self.root)
        organization = reader.optional_text("organization_name") or DEFAULT_ORGANIZATIONS[self.service]
        host = base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        url = reader.optional_text("organization_url") or base_url + "/"
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(f"{self.service}.metadata.organization_url: adresse http(s) attendue")
        valid_days = reader.integer("valid_days", default=10, low=1, high=365)
        cache_duration_hours = reader.integer("cache_duration_hours", default=6, low=1, high=24 * 30)
        if cache_duration_hours >= valid_days * 24:
            # SAML metadata §2.3.1: a partner may keep its copy for cacheDuration; it must not
            # outlive validUntil, or partners would hold metadata that is no longer valid.
            raise ConfigurationError(
                f"{self.service}.metadata.cache_duration_hours ({cache_duration_hours} h) doit être "
                f"inférieur à valid_days ({valid_days} j = {valid_days * 24} h) : un partenaire garderait "
                "sinon en cache des métadonnées dont le validUntil est passé"
            )
        return MetadataSettings(
            valid_days=valid_days,
            cache_duration_hours=cache_duration_hours,
            organization_name=organization,
            organization_display_name=reader.optional_text("organization_display_name") or organization,
            organization_url=url,
            contacts=(
                reader.contact("technical_contact", "technical", "Équipe technique", f"technique@{host}"),
                reader.contact("support_contact", "support", "Assistance", f"assistance@{host}"),
            ),
        )

    def contact(
        self, key: str, contact_type: Literal["technical", "support"], name: str, email: str
    ) -> ContactPerson:
        table = self.table(key)
        email = self._table_text(table, key, "email") or email
        email = email.removeprefix("mailto:")
        if email.count("@") != 1 or any(c.isspace() for c in email):
            raise ConfigurationError(f"{self.service}.{key}.email: adresse électronique attendue ({email})")
        return ContactPerson(
            contact_type=contact_type, name=self._table_text(table, key, "name") or name, email=email
        )

    def mail(self, is_demo: bool, state_dir: Path) -> MailSettings:
        """The ``[mail]`` table; the demo delivers into ``<state dir>/mailbox`` by default."""
        table = self.table("mail")
        reader = _Reader(f"{self.service}.mail", table, self.env, self.root)
        transport = reader.choice(
            "transport",
            "EDUCONNECT_MAIL_TRANSPORT",
            MAIL_TRANSPORTS,
            default="mailbox" if is_demo else "smtp",
        )
        if transport == "mailbox" and not is_demo:
            raise ConfigurationError(f"{self.service}.mail.transport: mailbox réservé au mode demo")
        security = reader.choice("security", "EDUCONNECT_SMTP_SECURITY", MAIL_SECURITY, default="none")
        host = reader.optional_text("host", "EDUCONNECT_SMTP_HOST") or "localhost"
        if transport == "smtp" and security == "none" and host not in LOOPBACK_HOSTS:
            raise ConfigurationError(
                f"{self.service}.mail.security: starttls ou tls pour un relais distant ({host})"
            )
        default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
        ca_file = reader.optional_text("ca_file", "EDUCONNECT_SMTP_CA_FILE")
        username = reader.optional_text("username", "EDUCONNECT_SMTP_USERNAME")
        password = reader.optional_text("password", "EDUCONNECT_SMTP_PASSWORD")
        if (username is None) != (password is None):
            raise ConfigurationError(f"{self.service}.mail: username et password vont ensemble")
        if username and security == "none" and not is_demo:
            raise ConfigurationError(f"{self.service}.mail: identifiants seulement sur TLS")
        return MailSettings(
            transport=transport,
            host=host,
            port=reader.integer_env("port", "EDUCONNECT_SMTP_PORT", default=default_port, low=1, high=65535),
            security=security,
            username=username,
            password=password,
            ca_file=self._resolve(ca_file) if ca_file else None,
            sender=reader.optional_text("sender", "EDUCONNECT_MAIL_SENDER") or MailSettings.sender,
            timeout_seconds=reader.integer("timeout_seconds", default=10, low=1, high=120),
            mailbox_dir=reader.path("mailbox_dir", None, default=str(state_dir / "mailbox"))
            if transport == "mailbox"
            else None,
        )

    def ent_directory(self) -> EntDirectoryFiles:
        """The ``directory`` table; relative paths are resolved like every other path here."""
        table = self.table("directory")

        def csv_file(key: str) -> Path | None:
            value = self._table_text(table, "directory", key)
            return self._resolve(value) if value else None

        return EntDirectoryFiles(establishments=csv_file("establishments"), pupils=csv_file("pupils"))

    def service_providers(self) -> list[ServiceProvider]:
        """The explicit ``[[service_providers]]`` entries (the SP directory is read apart)."""
        providers = []
        for entry in self.data.get("service_providers", []):
            if not isinstance(entry, dict) or "metadata" not in entry:
                raise ConfigurationError(f"{self.service}.service_providers: 'metadata' manquant")
            providers.append(service_provider(self._resolve(entry["metadata"]), entry))
        return providers

    def optional_path(self, key: str) -> Path | None:
        value = self.optional_text(key)
        return self._resolve(value) if value else None


def read_service_provider_directory(directory: Path) -> list[ServiceProvider]:
    """Every ``NAME.xml`` of the SP directory, released what ``NAME.toml`` beside it lists.

    An ENT operator registers an SP by dropping its metadata (and optionally a ``.toml`` beside
    it with ``attributes = [...]``) into that directory: no code change, no restart (the IdP
    reads it again when it changes, ``idp/sp_registry.py``).
    """
    providers = []
    for xml in sorted(directory.glob("*.xml")):
        release: dict[str, Any] = {}
        sidecar = xml.with_suffix(".toml")
        if sidecar.exists():
            try:
                with sidecar.open("rb") as fh:
                    release = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigurationError(f"{sidecar}: TOML invalide ({exc})") from exc
        providers.append(service_provider(xml, release))
    return providers


def read_aggregate_releases(directory: Path) -> dict[str, tuple[str, ...]]:
    """Releases for SPs of the metadata aggregate: a ``NAME.toml`` with no ``NAME.xml`` beside it
    that names its SP, ``entity_id = "..."``, with ``attributes = [...]``. One naming no SP (left
    behind by a removed ``NAME.xml``) releases nothing to anyone."""
    releases: dict[str, tuple[str, ...]] = {}
    for sidecar in sorted(directory.glob("*.toml")):
        if sidecar.with_suffix(".xml").exists():
            continue
        try:
            with sidecar.open("rb") as fh:
                entry = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{sidecar}: TOML invalide ({exc})") from exc
        entity_id = entry.get("entity_id")
        if entity_id is None:
            continue
        if not isinstance(entity_id, str) or not entity_id or "attributes" not in entry:
            raise ConfigurationError(f"{sidecar}: 'entity_id' (texte) et 'attributes' sont nécessaires")
        releases[entity_id] = service_provider(sidecar, entry).attributes
    return releases


def service_provider(metadata: Path, entry: Mapping[str, Any]) -> ServiceProvider:
    attributes = entry.get("attributes", list(DEFAULT_RELEASE))
    if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
        raise ConfigurationError(f"{metadata}: 'attributes' doit être une liste de noms")
    return ServiceProvider(metadata=metadata, attributes=tuple(attributes))
