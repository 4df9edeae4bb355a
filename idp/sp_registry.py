"""The registry of the SPs (ENTs) ÉduConnect answers, kept current while the IdP runs.

Three sources: the ``[[service_providers]]`` of ``idp.toml`` (read at start), the SP directory
(``NAME.xml`` + ``NAME.toml``, what ``educonnect-bridge sp add`` writes) and, when
``[sp_aggregate]`` is set, the last good copy of the federation's signed aggregate
(``federation/metadata_aggregate.py``).

Every worker finds a change by itself, cheaply: at most every ``check_seconds`` (5 by default) a
request looks at the sources' file identities (name, inode, mtime, size: a directory listing and
a few ``stat``), which also see a copy another process wrote. When they changed, that request
builds a whole new :class:`~idp.saml_idp.SamlIdentityProvider` (metadata parsed, aggregate
verified again) while the others go on with the current one, then one assignment swaps it: a
request uses one registry from its start to its end, never a half-loaded one. A registry that
does not build (an unreadable file, a refused copy) changes nothing; it is logged, and tried again
when the sources change again. An aggregate whose ``validUntil`` passes is dropped at that moment.

The scheduled refresh of the aggregate runs in a thread of whichever worker first finds it due
(every ``refresh_seconds``, counted from the last attempt of any process: ``status.json``), never
on a request's time; ``educonnect-bridge sp refresh`` does the same on demand.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from saml2.attribute_converter import ac_factory

from federation import metadata_aggregate
from federation.errors import ConfigurationError
from federation.metadata_aggregate import AggregateRefused, AggregateSettings, VerifiedAggregate
from federation.saml import ATTRIBUTE_MAP_DIR, service_key_set
from federation.saml_backend import tested_backend
from federation.saml_idp import AuthenticationRequest, PostForm
from federation.saml_logout import SingleLogout
from federation.settings import (
    DEFAULT_RELEASE,
    ServiceProvider,
    Settings,
    config_dir,
    read_aggregate_releases,
    read_service_provider_directory,
)
from idp.saml_idp import SamlIdentityProvider

log = logging.getLogger("educonnect.sp_registry")

DEFAULT_CHECK_SECONDS = 5
Fingerprint = tuple[tuple[str, int, int, int], ...]


@dataclass(frozen=True)
class RegistrySettings:
    """``[sp_registry]`` (``check_seconds``) and ``[sp_aggregate]`` of ``idp.toml``."""

    check_seconds: float = DEFAULT_CHECK_SECONDS
    aggregate: AggregateSettings | None = None


def registry_settings(settings: Settings, env: Mapping[str, str] | None = None) -> RegistrySettings:
    """Read the two tables from ``settings.extra``; a wrong value stops the start, named."""
    root = config_dir(os.environ if env is None else env).parent
    registry = _table(settings.extra, "sp_registry")
    check = registry.get("check_seconds", DEFAULT_CHECK_SECONDS)
    if not isinstance(check, int | float) or isinstance(check, bool) or not 0 <= check <= 300:
        raise ConfigurationError("idp.sp_registry.check_seconds : nombre de secondes entre 0 et 300 attendu")
    table = _table(settings.extra, "sp_aggregate")
    if not table:
        return RegistrySettings(check_seconds=float(check))
    source = table.get("source")
    signer = table.get("signer_certificate")
    if not isinstance(source, str) or not source or not isinstance(signer, str) or not signer:
        raise ConfigurationError(
            "idp.sp_aggregate : « source » (fichier ou adresse https://) et « signer_certificate » "
            "(le certificat de l'opérateur de la fédération) sont nécessaires"
        )
    if "://" in source and not source.startswith("https://"):
        raise ConfigurationError(f"idp.sp_aggregate.source : adresse https:// attendue ({source})")
    refresh = table.get("refresh_seconds", 3600)
    if not isinstance(refresh, int) or isinstance(refresh, bool) or not 60 <= refresh <= 7 * 86400:
        raise ConfigurationError("idp.sp_aggregate.refresh_seconds : entier entre 60 et 604800 attendu")
    attributes = table.get("attributes", list(DEFAULT_RELEASE))
    if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
        raise ConfigurationError("idp.sp_aggregate.attributes : liste de noms d'attributs attendue")
    ca_file = table.get("ca_file")

    def resolved(value: str) -> Path:
        return Path(value) if Path(value).is_absolute() else root / value

    aggregate = AggregateSettings(
        source=source if "://" in source else str(resolved(source)),
        signer_certificate=resolved(signer),
        copy_dir=settings.state_dir / "sp_aggregate",
        refresh_seconds=refresh,
        ca_file=resolved(ca_file) if isinstance(ca_file, str) and ca_file else None,
        attributes=tuple(attributes),
    )
    if not aggregate.signer_certificate.is_file():
        raise ConfigurationError(f"idp.sp_aggregate.signer_certificate : {signer} absent")
    return RegistrySettings(check_seconds=float(check), aggregate=aggregate)


@dataclass(frozen=True)
class Registry:
    """What a request uses from start to end: the IdP of one registry and its Single Logout."""

    saml: SamlIdentityProvider
    logout: SingleLogout
    fingerprint: Fingerprint
    valid_until: dt.datetime | None  # the aggregate's: the registry is rebuilt when it passes


class LiveRegistry:
    """The current :class:`Registry` of this process, rebuilt when its sources change."""

    def __init__(
        self,
        settings: Settings,
        config: RegistrySettings,
        make_logout: Callable[[SamlIdentityProvider], SingleLogout],
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.settings = settings
        self.config = config
        self.make_logout = make_logout
        self.monotonic = monotonic
        self.wall_clock = wall_clock
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._refused: Fingerprint | None = None
        # Read once per process: every rebuild signs and publishes with the keys of the start,
        # so that after `saml keys next` no worker publishes the next key before the others.
        self.key_set = service_key_set(settings)
        aggregate = config.aggregate
        if aggregate is not None and not aggregate.copy_file.exists():
            self.refresh_aggregate()  # first start: fetch now, so that the workers fork with it
        # At start a registry that does not build stops the IdP, named (ConfigurationError).
        self._current = self._build(self.fingerprint())
        self._next_check = monotonic() + config.check_seconds

    def current(self) -> Registry:
        """The registry for this request; looks for a change at most every ``check_seconds``."""
        registry = self._current
        if self.monotonic() < self._next_check or not self._lock.acquire(blocking=False):
            return registry  # another thread of this worker is looking, or building
        try:
            self._next_check = self.monotonic() + self.config.check_seconds
            now = self.wall_clock()
            self._schedule_refresh(now)
            fingerprint = self.fingerprint()
            expired = registry.valid_until is not None and registry.valid_until <= now
            if (fingerprint != registry.fingerprint and fingerprint != self._refused) or expired:
                self._rebuild(fingerprint)
        finally:
            self._lock.release()
        return self._current

    # --- what the views call (each on one registry) -----------------------------------------------

    @property
    def entity_id(self) -> str:
        return self._current.saml.entity_id

    @property
    def metadata(self) -> str:
        return self.current().saml.metadata

    @property
    def logout_url(self) -> str:
        return self._current.saml.logout_url

    @property
    def server(self) -> Any:
        """The pysaml2 Server of the registry in service (for a caller that needs one message)."""
        return self.current().saml.server

    @property
    def providers(self) -> Mapping[str, ServiceProvider]:
        """The SPs in service now, by entity ID, with their release."""
        return self.current().saml.providers

    def parse_redirect_request(self, args: Mapping[str, str], now: dt.datetime) -> AuthenticationRequest:
        return self.current().saml.parse_redirect_request(args, now)

    def parse_post_request(self, form: Mapping[str, str], now: dt.datetime) -> AuthenticationRequest:
        return self.current().saml.parse_post_request(form, now)

    def build_response(
        self,
        request: AuthenticationRequest,
        subject: str,
        attributes: Mapping[str, list[str]],
        authn_instant: dt.datetime,
    ) -> PostForm:
        return self.current().saml.build_response(request, subject, attributes, authn_instant)

    def single_logout(self) -> SingleLogout:
        return self.current().logout

    # --- the aggregate ------------------------------------------------------------------------------

    def refresh_aggregate(self) -> metadata_aggregate.RefreshOutcome | None:
        """Fetch and check the aggregate now (this thread); None without ``[sp_aggregate]``."""
        aggregate = self.config.aggregate
        if aggregate is None:
            return None
        return metadata_aggregate.refresh(aggregate, self._backend(), _converters(), self.wall_clock())

    def _schedule_refresh(self, now: dt.datetime) -> None:
        aggregate = self.config.aggregate
        if aggregate is None or not _refresh_due(aggregate, now):
            return
        if not self._refreshing.acquire(blocking=False):
            return  # this worker's refresh thread is still at it
        threading.Thread(target=self._refresh_in_background, name="sp-aggregate-refresh", daemon=True).start()

    def _refresh_in_background(self) -> None:
        try:
            aggregate = self.config.aggregate
            # Another worker may have refreshed while this one decided to.
            if aggregate is not None and _refresh_due(aggregate, self.wall_clock()):
                self.refresh_aggregate()
        except Exception:  # a thread that dies silently would stop the schedule: log it
            log.exception("rafraîchissement de l'agrégat de métadonnées en échec")
        finally:
            self._refreshing.release()

    # --- building ------------------------------------------------------------------------------------

    def fingerprint(self) -> Fingerprint:
        """Name, inode, mtime and size of every file the registry is built from."""
        paths = [p.metadata for p in self.settings.service_providers]
        directory = self.settings.service_providers_dir
        if directory is not None:
            with contextlib.suppress(FileNotFoundError):
                paths += [Path(e.path) for e in os.scandir(directory) if e.name.endswith((".xml", ".toml"))]
        if self.config.aggregate is not None:
            paths.append(self.config.aggregate.copy_file)
        identities = []
        for path in sorted(paths):
            try:
                st = path.stat()
            except FileNotFoundError:
                identities.append((str(path), 0, 0, -1))
                continue
            identities.append((str(path), st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(identities)

    def _rebuild(self, fingerprint: Fingerprint) -> None:
        try:
            registry = self._build(fingerprint)
        except Exception as exc:  # any failure (a file, a key, pysaml2) keeps the last good registry
            self._refused = fingerprint
            log.error(
                "registre des SP non rechargé (pid %s) : %s ; le registre précédent reste en service",
                os.getpid(),
                exc,
            )
            return
        previous = set(self._current.saml.providers)
        self._current = registry  # one assignment: the whole new registry, or the old one
        self._refused = None
        now = set(registry.saml.providers)
        log.warning(
            "registre des SP rechargé (pid %s) : %d SP, ajoutés %s, retirés %s",
            os.getpid(),
            len(now),
            sorted(now - previous) or "aucun",
            sorted(previous - now) or "aucun",
        )

    def _build(self, fingerprint: Fingerprint) -> Registry:
        providers = list(self.settings.service_providers)
        releases: dict[str, tuple[str, ...]] = {}
        directory = self.settings.service_providers_dir
        if directory is not None and directory.is_dir():
            providers += read_service_provider_directory(directory)
            releases = read_aggregate_releases(directory)
        aggregate = self._load_copy()
        saml = SamlIdentityProvider(
            self.settings,
            providers,
            aggregate,
            self.config.aggregate.attributes if self.config.aggregate else (),
            releases,
            key_set=self.key_set,
        )
        return Registry(
            saml=saml,
            logout=self.make_logout(saml),
            fingerprint=fingerprint,
            valid_until=aggregate.valid_until if aggregate else None,
        )

    def _load_copy(self) -> VerifiedAggregate | None:
        """The kept copy, verified again; None (logged) when there is none or it is refused."""
        aggregate = self.config.aggregate
        if aggregate is None:
            return None
        try:
            xml = aggregate.copy_file.read_bytes()
        except FileNotFoundError:
            log.error("agrégat de métadonnées : aucune copie valide, ses SP ne sont pas servis")
            return None
        try:
            return metadata_aggregate.verify(
                xml, aggregate.signer_certificate, self._backend(), _converters(), self.wall_clock()
            )
        except AggregateRefused as exc:
            log.error(
                "agrégat de métadonnées : la copie %s est refusée (%s : %s) ; ses SP ne sont plus servis",
                aggregate.copy_file,
                exc.reason,
                exc.detail,
            )
            return None

    def _backend(self) -> Any:
        return tested_backend(self.settings.crypto_backend)


def _refresh_due(aggregate: AggregateSettings, now: dt.datetime) -> bool:
    """``refresh_seconds`` since the last attempt of any process (good or not), or none yet."""
    last = metadata_aggregate.last_attempt(aggregate)
    return last is None or now - last >= dt.timedelta(seconds=aggregate.refresh_seconds)


@functools.cache
def _converters() -> Any:
    return ac_factory(ATTRIBUTE_MAP_DIR)


def _table(extra: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = extra.get(name, {})
    if not isinstance(value, dict):
        raise ConfigurationError(f"idp.{name} : table attendue")
    return value
