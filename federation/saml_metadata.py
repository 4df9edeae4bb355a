"""The metadata documents the services publish, as a federation asks for them.

pysaml2 builds the ``EntityDescriptor`` from a service's configuration (endpoints, keys — during a
rollover every published pair, ``federation.keys`` —, ``Organization``, ``ContactPerson``); this
module adds what pysaml2 does not take from configuration and signs the whole:

* ``validUntil`` and ``cacheDuration`` (SAML metadata §2.3.2, from ``[metadata]``): a consumer
  drops the document after validUntil, and refreshes its copy after cacheDuration;
* the algorithm-support extension (SAML V2.0 Metadata Extensions for Algorithm Support v1.0
  §2.3): ``alg:DigestMethod`` / ``alg:SigningMethod`` exactly as ``federation.algorithm_support``
  lists them — pysaml2 would list every transform the xmlsec1 program knows, MD5 and SHA-1
  included — and ``md:EncryptionMethod`` in each encryption ``KeyDescriptor``;
* an enveloped signature (SAML metadata §3, RSA-SHA256, exclusive c14n) by the service's
  dedicated metadata-signing key, whose certificate the federation operator pins.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from saml2 import md
from saml2.config import Config
from saml2.extension.algsupport import DigestMethod, SigningMethod
from saml2.metadata import entity_descriptor, sign_entity_descriptor
from saml2.sigver import SecurityContext

from federation import algorithm_support
from federation.errors import ConfigurationError
from federation.keys import KeyPair
from federation.saml_backend import tested_backend
from federation.xml_security import CryptoSelfTestError


@dataclass(frozen=True)
class MetadataPublication:
    """How a service signs and dates its metadata."""

    signing_key: KeyPair  # the metadata-signing pair, used for nothing else
    valid_for: dt.timedelta
    cache_duration: dt.timedelta
    crypto_backend: str


def signed_metadata(config: Config, publication: MetadataPublication, now: dt.datetime) -> str:
    """The signed ``EntityDescriptor`` of ``config``, valid from ``now`` for ``valid_for``."""
    descriptor = entity_descriptor(config)
    descriptor.valid_until = _xs_datetime(now + publication.valid_for)
    descriptor.cache_duration = _xs_duration(publication.cache_duration)
    advertise_algorithms(descriptor)
    for role in _roles(descriptor):
        for key_descriptor in role.key_descriptor or []:
            if key_descriptor.use == "encryption":
                key_descriptor.encryption_method = [
                    md.EncryptionMethod(algorithm=uri)
                    for uri in (
                        *algorithm_support.DATA_ENCRYPTION_ALGORITHMS,
                        *algorithm_support.KEY_TRANSPORT_ALGORITHMS,
                    )
                ]
    try:
        backend = tested_backend(publication.crypto_backend)
    except CryptoSelfTestError as exc:  # the service must not start (federation.saml_backend)
        raise ConfigurationError(f"crypto_backend {publication.crypto_backend}: {exc}") from exc
    security = SecurityContext(
        backend,
        key_file=str(publication.signing_key.key_file),
        cert_file=str(publication.signing_key.cert_file),
    )
    _, xml = sign_entity_descriptor(
        descriptor,
        None,
        security,
        sign_alg=algorithm_support.SIGNATURE_ALGORITHMS[0],
        digest_alg=algorithm_support.DIGEST_ALGORITHMS[0],
    )
    return str(xml)


class PublishedMetadata:
    """What /saml/metadata serves: signed once at start, signed again (a later validUntil) once
    the document is older than its cacheDuration, so a long-running process never serves a
    document near or past its validUntil. Built once per process; ``clock`` is passed in."""

    def __init__(
        self,
        config: Config,
        publication: MetadataPublication,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._config, self._publication, self._clock = config, publication, clock
        self._lock = threading.Lock()
        self._signed_at = clock()
        self._document = signed_metadata(config, publication, self._signed_at)

    def document(self) -> str:
        now = self._clock()
        if now - self._signed_at < self._publication.cache_duration:
            return self._document
        with self._lock:
            if now - self._signed_at >= self._publication.cache_duration:
                self._document = signed_metadata(self._config, self._publication, now)
                self._signed_at = now
            return self._document


def advertise_algorithms(descriptor: Any) -> None:
    """Replace pysaml2's algorithm list (every xmlsec1 transform) by ours."""
    if descriptor.extensions is None:
        descriptor.extensions = md.Extensions()
    extensions = descriptor.extensions
    extensions.extension_elements = [
        element
        for element in extensions.extension_elements or []
        if element.namespace != algorithm_support.NAMESPACE
    ]
    for uri in algorithm_support.DIGEST_ALGORITHMS:
        extensions.add_extension_element(DigestMethod(algorithm=uri))
    for uri in algorithm_support.SIGNATURE_ALGORITHMS:
        extensions.add_extension_element(SigningMethod(algorithm=uri))


def _roles(descriptor: Any) -> list[Any]:
    roles: list[Any] = []
    for role in (descriptor.idpsso_descriptor, descriptor.spsso_descriptor):
        if role is None:
            continue
        roles.extend(role if isinstance(role, list) else [role])
    return roles


def _xs_datetime(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xs_duration(duration: dt.timedelta) -> str:
    """An ``xs:duration`` in seconds (``PT21600S``): exact, and what every reader parses."""
    return f"PT{int(duration.total_seconds())}S"
