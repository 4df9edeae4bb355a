"""A SAML SP toward one IdP: the ENT toward ÉduConnect, and ÉduConnect toward ATEN.

Both send signed AuthnRequests on HTTP-Redirect (RSA-SHA256, SAML bindings §3.4.4.1) and read the
answer with :func:`federation.saml_response.parse_strict_response` (DESIGN §5). What tells the two
apart is data: a :class:`SpRole` (entity ID, ACS, name) and which IdP of the peer metadata is the
partner. Built once per process: pysaml2 parses our keys and the peer metadata at construction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.samlp import IDPEntry, IDPList, Scoping

from federation.errors import ConfigurationError
from federation.saml import (
    SIGNING_ALGORITHM,
    build_config,
    expired_entities,
    metadata_xml,
    published_metadata,
    service_block,
)
from federation.saml_response import VerifiedAssertion, parse_strict_response
from federation.settings import Settings


@dataclass(frozen=True)
class SpRole:
    """One SP role of a service: the ENT has one, ÉduConnect one beside its IdP role."""

    entity_id: str
    acs_url: str  # HTTP-POST, the only binding we accept Responses on
    name: str
    slo_url: str | None = None  # SingleLogoutService (HTTP-Redirect and HTTP-POST), if any

    def services(self) -> dict[str, dict[str, object]]:
        """The ``service.sp`` block: signed requests out, signed Response and Assertion in, never
        unsolicited."""
        endpoints: dict[str, list[tuple[str, str]]] = {
            "assertion_consumer_service": [(self.acs_url, BINDING_HTTP_POST)]
        }
        if self.slo_url:
            endpoints["single_logout_service"] = [
                (self.slo_url, BINDING_HTTP_REDIRECT),
                (self.slo_url, BINDING_HTTP_POST),
            ]
        return {
            "sp": service_block(
                name=self.name,
                endpoints=endpoints,
                authn_requests_signed=True,
                want_response_signed=True,
                want_assertions_signed=True,
                allow_unsolicited=False,
            )
        }


@dataclass(frozen=True)
class OutgoingRequest:
    request_id: str
    url: str  # the IdP's SSO endpoint with the signed, deflated request in its query


def sp_metadata(settings: Settings, role: SpRole) -> str:
    """The metadata the IdP registers for this role, from our keys alone (no peer needed)."""
    config = build_config(settings, role.services(), entity_id=role.entity_id, name=role.name)
    return metadata_xml(config, settings)


class SamlSpClient:
    """The SP side of one partnership: ``idp_entity_id`` names the partner in the peer metadata;
    None means « the only IdP there is » (the ENT knows ÉduConnect alone)."""

    def __init__(self, settings: Settings, role: SpRole, idp_entity_id: str | None = None) -> None:
        config = build_config(
            settings,
            role.services(),
            metadata_files=list(settings.peer_metadata),
            entity_id=role.entity_id,
            name=role.name,
        )
        self.client = Saml2Client(config)
        self.published_metadata = published_metadata(config, settings)
        self.idp_entity_id = _partner(settings, self.client.metadata, idp_entity_id)

    @property
    def metadata(self) -> str:
        """Our SP metadata, signed (served at the role's metadata URL)."""
        return self.published_metadata.document()

    def authn_request(
        self, relay_state: str = "", scoped_idp: str | None = None, nameid_format: str | None = None
    ) -> OutgoingRequest:
        """A signed AuthnRequest by HTTP-Redirect; ``scoped_idp`` asks the IdP to proxy to an
        upstream IdP, ``nameid_format`` sets the NameIDPolicy."""
        # SAML core §3.4.1.2: with Scoping, the IdP should proxy to one of the IDPList entries.
        scoping = (
            Scoping(idp_list=IDPList(idp_entry=[IDPEntry(provider_id=scoped_idp)])) if scoped_idp else None
        )
        request_id, info = self.client.prepare_for_authenticate(
            entityid=self.idp_entity_id,
            relay_state=relay_state,
            binding=BINDING_HTTP_REDIRECT,
            nameid_format=nameid_format,
            scoping=scoping,
            sign=True,
            sigalg=SIGNING_ALGORITHM,
        )
        return OutgoingRequest(request_id=request_id, url=dict(info["headers"])["Location"])

    def parse_response(
        self, form: Mapping[str, str], outstanding: Iterable[str], received_at: dt.datetime
    ) -> VerifiedAssertion:
        """The partner's Response, strictly checked; ``outstanding`` are the ids of this browser's
        pending requests (InResponseTo must be one of them), ``received_at`` our time now."""
        # pysaml2 maps each pending id to the page the request came from; we keep none there.
        came_from = dict.fromkeys(outstanding, "/")
        return parse_strict_response(self.client, form, came_from, self.idp_entity_id, received_at)


def _partner(settings: Settings, metadata: Any, wanted: str | None) -> str:
    identity_providers = set(metadata.identity_providers())
    # pysaml2 drops an EntityDescriptor past its validUntil (and only logs it): say so.
    expired = expired_entities(metadata)
    if (wanted is None and not identity_providers and expired) or (
        wanted is not None and wanted not in identity_providers and wanted in expired
    ):
        raise ConfigurationError(f"{settings.service}.peer_metadata: {'; '.join(expired.values())}")
    if wanted is None:
        if len(identity_providers) != 1:
            raise ConfigurationError(
                f"{settings.service}.peer_metadata: un seul IdP attendu, trouvé {len(identity_providers)}"
            )
        return next(iter(identity_providers))
    if wanted not in identity_providers:
        raise ConfigurationError(f"{settings.service}.peer_metadata: métadonnées de {wanted} absentes")
    return wanted
