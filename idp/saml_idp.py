"""ÉduConnect as a SAML IdP toward the ENTs: the shared IdP core plus per-SP attribute release.

Which attributes each ENT receives is configuration (``[[service_providers]]`` and the SP
directory, DESIGN §4), applied here before signing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from federation.attribute_converters import name_matched
from federation.saml import build_config, published_metadata
from federation.saml_backend import encrypts_with_aes_gcm
from federation.saml_idp import (
    AuthenticationRequest,
    EncryptingServer,
    IdentityProviderCore,
    PostForm,
    idp_service_block,
)
from federation.settings import ServiceProvider, Settings

__all__ = ["AuthenticationRequest", "PostForm", "SamlIdentityProvider", "idp_services"]


SLO_PATH = "/saml/slo"


def idp_services(settings: Settings) -> dict[str, dict[str, object]]:
    return idp_service_block(settings, "ÉduConnect", slo_url=settings.base_url + SLO_PATH)


class SamlIdentityProvider(IdentityProviderCore):
    """Built once per process: the pysaml2 Server parses metadata and keys at construction."""

    def __init__(self, settings: Settings) -> None:
        config = build_config(
            settings,
            idp_services(settings),
            metadata_files=[p.metadata for p in settings.service_providers],
            name="ÉduConnect",
        )
        server = EncryptingServer(config=config)
        # Each attribute with the NameFormat of its Name (OID: uri, FrEduVecteur…: basic).
        server.config.attribute_converters = name_matched(server.config.attribute_converters)
        self.providers = _providers_by_entity_id(server, settings)
        super().__init__(
            server,
            self.providers,
            dt.timedelta(seconds=settings.clock_skew_seconds),
            can_encrypt=encrypts_with_aes_gcm(settings.crypto_backend),
        )
        self.published_metadata = published_metadata(config, settings)
        self.logout_url = f"{settings.base_url}/deconnexion"

    @property
    def metadata(self) -> str:
        """Our IdP metadata, signed (served at /saml/metadata)."""
        return self.published_metadata.document()

    def build_response(
        self,
        request: AuthenticationRequest,
        subject: str,
        attributes: Mapping[str, list[str]],
        authn_instant: dt.datetime,
    ) -> PostForm:
        """Only what this SP's release lists (DESIGN §4) goes into the signed assertion."""
        released = self.providers[request.sp_entity_id].attributes
        kept = {name: values for name, values in attributes.items() if name in released}
        return super().build_response(request, subject, kept, authn_instant)


def _providers_by_entity_id(server: EncryptingServer, settings: Settings) -> dict[str, ServiceProvider]:
    """Entity IDs of each registered SP, read from the metadata pysaml2 already parsed (by file)."""
    providers: dict[str, ServiceProvider] = {}
    for provider in settings.service_providers:
        for entity_id, _ in server.metadata.metadata[str(provider.metadata)].items():
            providers[entity_id] = provider
    return providers
