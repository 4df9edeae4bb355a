"""ATEN as a SAML IdP toward ÉduConnect: translates AuthnRequests and Responses only.

The request checks and the signed answer are ``federation.saml_idp``'s, shared with ÉduConnect;
ATEN adds the SPs of ``aten.peer_metadata`` (ÉduConnect acting as SP) as its only partners.
"""

from __future__ import annotations

import datetime as dt

from federation.attribute_converters import name_matched
from federation.errors import ConfigurationError
from federation.saml import build_config, expired_entities, published_metadata
from federation.saml_backend import encrypts_with_aes_gcm
from federation.saml_idp import (
    AuthenticationRequest,
    EncryptingServer,
    IdentityProviderCore,
    PostForm,
    idp_service_block,
)
from federation.settings import Settings

__all__ = ["AtenIdentityProvider", "AuthenticationRequest", "PostForm", "aten_services"]


def aten_services(settings: Settings, title: str) -> dict[str, dict[str, object]]:
    return idp_service_block(settings, title)


class AtenIdentityProvider(IdentityProviderCore):
    """Built once per process: pysaml2 parses the SP metadata and our keys at construction."""

    def __init__(self, settings: Settings, title: str) -> None:
        config = build_config(
            settings, aten_services(settings, title), metadata_files=list(settings.peer_metadata), name=title
        )
        server = EncryptingServer(config=config)
        # Each attribute with the NameFormat of its Name (OID: uri, FrEduVecteur: basic).
        server.config.attribute_converters = name_matched(server.config.attribute_converters)
        metadata = server.metadata  # None without any peer metadata file
        service_providers = frozenset(metadata.service_providers() if metadata else ())
        if not service_providers and not settings.is_demo:
            # pysaml2 drops an SP whose metadata is past its validUntil: say so rather than "missing".
            expired = expired_entities(metadata) if metadata else {}
            detail = "; ".join(expired.values()) or "métadonnées du SP ÉduConnect manquantes"
            raise ConfigurationError(f"aten.peer_metadata: {detail}")
        super().__init__(
            server,
            service_providers,
            dt.timedelta(seconds=settings.clock_skew_seconds),
            can_encrypt=encrypts_with_aes_gcm(settings.crypto_backend),
        )
        self.service_providers = service_providers
        self.published_metadata = published_metadata(config, settings)

    @property
    def metadata(self) -> str:
        """ATEN's IdP metadata, signed (served at /saml/metadata)."""
        return self.published_metadata.document()
