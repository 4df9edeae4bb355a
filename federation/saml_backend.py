"""Which XML-security backend pysaml2 signs and verifies with, checked at start-up.

``inprocess`` (python-xmlsec, the default) or ``xmlsec1`` (pysaml2's own, one program run per
operation). Either way a process signs and verifies once before it accepts traffic and refuses to
start when that fails.
"""

from __future__ import annotations

import functools
from typing import Any

from saml2.sigver import CryptoBackend

from federation.errors import ConfigurationError
from federation.settings import Settings
from federation.xml_security import CryptoSelfTestError, install_backend, make_crypto_backend, self_test


@functools.cache
def tested_backend(name: str) -> CryptoBackend:
    """One backend per name and process, self-tested once (a failure is not cached)."""
    backend = make_crypto_backend(name)
    self_test(backend)
    return backend


def check_crypto_backend(entity: Any, settings: Settings) -> None:
    """Install the configured, self-tested backend on a pysaml2 Server or Saml2Client."""
    try:
        backend = tested_backend(settings.crypto_backend)
    except CryptoSelfTestError as exc:
        name = f"{settings.service}.crypto_backend {settings.crypto_backend}"
        raise ConfigurationError(f"{name}: {exc}") from exc
    if settings.crypto_backend != "xmlsec1":
        install_backend(entity, backend)
