"""ÉduConnect as a SAML IdP toward the ENTs: the shared IdP core plus per-SP attribute release.

Which attributes each ENT receives is configuration (``[[service_providers]]``, the SP
directory and the ``[sp_aggregate]`` table, DESIGN §4), applied here before signing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from federation.attribute_converters import name_matched
from federation.errors import UnknownPartner
from federation.keys import KeySet
from federation.metadata_aggregate import VerifiedAggregate
from federation.saml import build_config, published_metadata
from federation.saml_backend import check_crypto_backend, encrypts_with_aes_gcm
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
# The key of the aggregate among the metadata sources of the Server (the others are file paths).
AGGREGATE_SOURCE = "sp_aggregate"
log = logging.getLogger("educonnect.sp_registry")


def idp_services(settings: Settings) -> dict[str, dict[str, object]]:
    return idp_service_block(settings, "ÉduConnect", slo_url=settings.base_url + SLO_PATH)


class SamlIdentityProvider(IdentityProviderCore):
    """One immutable registry of SPs: the pysaml2 Server parses their metadata at construction.

    ``idp/sp_registry.py`` builds a new one when the registry changes and swaps it whole."""

    def __init__(
        self,
        settings: Settings,
        providers: Sequence[ServiceProvider] | None = None,
        aggregate: VerifiedAggregate | None = None,
        aggregate_release: tuple[str, ...] = (),
        aggregate_releases: Mapping[str, tuple[str, ...]] | None = None,
        key_set: KeySet | None = None,
    ) -> None:
        """``aggregate_release``: what the SPs of the aggregate receive; ``aggregate_releases``:
        the exceptions, by entity ID; ``key_set``: the keys the process read at start (None:
        read them now)."""
        providers = settings.service_providers if providers is None else providers
        config = build_config(
            settings,
            idp_services(settings),
            metadata_files=[p.metadata for p in providers],
            name="ÉduConnect",
            key_set=key_set,
        )
        server = EncryptingServer(config=config)
        check_crypto_backend(server, settings)
        # Each attribute with the NameFormat of its Name (OID: uri, FrEduVecteur…: basic).
        server.config.attribute_converters = name_matched(server.config.attribute_converters)
        self.providers = _providers_by_entity_id(server, providers)
        if aggregate is not None:
            members = _aggregate_members(server, aggregate, self.providers)
            releases = aggregate_releases or {}
            for entity_id in members:
                attributes = releases.get(entity_id, aggregate_release)
                self.providers[entity_id] = ServiceProvider(
                    metadata=Path(AGGREGATE_SOURCE), attributes=attributes
                )
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
        provider = self.providers.get(request.sp_entity_id)
        if provider is None:  # removed from the registry since its request was checked
            raise UnknownPartner(f"issuer {request.sp_entity_id!r} no longer registered")
        released = provider.attributes
        kept = {name: values for name, values in attributes.items() if name in released}
        return super().build_response(request, subject, kept, authn_instant)


def _providers_by_entity_id(
    server: EncryptingServer, providers: Sequence[ServiceProvider]
) -> dict[str, ServiceProvider]:
    """Entity IDs of each registered SP, read from the metadata pysaml2 already parsed (by file)."""
    by_entity_id: dict[str, ServiceProvider] = {}
    for provider in providers:
        for entity_id, _ in server.metadata.metadata[str(provider.metadata)].items():
            by_entity_id[entity_id] = provider
    return by_entity_id


def _aggregate_members(
    server: EncryptingServer, aggregate: VerifiedAggregate, registered: Mapping[str, ServiceProvider]
) -> list[str]:
    """The SPs of the aggregate, added to the Server's metadata store as one more source.

    An entity also registered by its own file keeps that registration (metadata and release):
    the aggregate's copy of it is dropped, so that one key set answers for one entity ID."""
    source = aggregate.metadata
    for entity_id in [e for e in source.keys() if e in registered]:  # noqa: SIM118 - not a dict
        log.warning(
            "%s : enregistré par son propre fichier de métadonnées, sa copie de l'agrégat est ignorée",
            entity_id,
        )
        del source[entity_id]
    server.metadata.metadata[AGGREGATE_SOURCE] = source
    return [entity_id for entity_id, entity in source.items() if entity.get("spsso_descriptor")]
