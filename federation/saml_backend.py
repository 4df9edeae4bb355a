"""Which XML-security backend pysaml2 signs and verifies with, checked at start-up.

``inprocess`` (python-xmlsec, the default) or ``xmlsec1`` (pysaml2's own, one program run per
operation). Either way a service signs and verifies once before it accepts traffic and refuses to
start when that fails.
"""

from __future__ import annotations

from typing import Any

from federation.errors import ConfigurationError
from federation.settings import Settings
from federation.xml_security import CryptoSelfTestError, install_backend, make_crypto_backend, self_test


def check_crypto_backend(entity: Any, settings: Settings) -> None:
    """Install the configured backend on a pysaml2 Server or Saml2Client after a self-test."""
    backend = make_crypto_backend(settings.crypto_backend)
    try:
        self_test(backend)
    except CryptoSelfTestError as exc:
        raise ConfigurationError(
            f"{settings.service}.crypto_backend {settings.crypto_backend}: {exc}"
        ) from exc
    if settings.crypto_backend != "xmlsec1":
        install_backend(entity, backend)
