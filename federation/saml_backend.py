"""Which XML-security backend pysaml2 signs and verifies with, checked at start-up."""

from __future__ import annotations

from typing import Any

from federation.errors import ConfigurationError
from federation.settings import Settings


def check_crypto_backend(entity: Any, settings: Settings) -> None:
    """Install the configured backend on a pysaml2 entity; refuse to start if it cannot sign."""
    if settings.crypto_backend != "xmlsec1":
        raise ConfigurationError(f"{settings.service}.crypto_backend: {settings.crypto_backend} indisponible")
