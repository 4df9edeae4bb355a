"""The ENT portal as a SAML SP of ÉduConnect: signed AuthnRequests out, strict Responses in
(``federation.saml_response``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.samlp import IDPEntry, IDPList, Scoping

from federation.errors import ConfigurationError
from federation.saml import SIGNING_ALGORITHM, build_config, metadata_xml, service_block
from federation.saml_response import VerifiedAssertion, parse_strict_response
from federation.settings import Settings


@dataclass(frozen=True)
class OutgoingRequest:
    request_id: str
    url: str


def sp_services(settings: Settings) -> dict[str, dict[str, object]]:
    return {
        "sp": service_block(
            name="Services en ligne",
            endpoints={"assertion_consumer_service": [(f"{settings.base_url}/saml/acs", BINDING_HTTP_POST)]},
            authn_requests_signed=True,
            want_response_signed=True,
            want_assertions_signed=True,
            allow_unsolicited=False,
        )
    }


class SamlServiceProvider:
    """Built once per process (metadata and keys parsed at construction)."""

    def __init__(self, settings: Settings) -> None:
        config = build_config(
            settings,
            sp_services(settings),
            metadata_files=list(settings.peer_metadata),
            name="Services en ligne",
        )
        self.client = Saml2Client(config)
        self.metadata = metadata_xml(config)
        idps = list(self.client.metadata.identity_providers())
        if len(idps) != 1:
            raise ConfigurationError(f"ent.peer_metadata: un seul IdP attendu, trouvé {len(idps)}")
        self.idp_entity_id: str = idps[0]

    def authn_request(self, relay_state: str = "", scoped_idp: str | None = None) -> OutgoingRequest:
        """A signed AuthnRequest (HTTP-Redirect); ``scoped_idp`` asks the IdP for an upstream IdP."""
        extra = {}
        if scoped_idp:
            # SAML core §3.4.1.2: the IdP should proxy to one of the IDPList entries.
            extra["scoping"] = Scoping(idp_list=IDPList(idp_entry=[IDPEntry(provider_id=scoped_idp)]))
        request_id, info = self.client.prepare_for_authenticate(
            entityid=self.idp_entity_id,
            relay_state=relay_state,
            binding=BINDING_HTTP_REDIRECT,
            sign=True,
            sigalg=SIGNING_ALGORITHM,
            **extra,
        )
        location = dict(info["headers"])["Location"]
        return OutgoingRequest(request_id=request_id, url=location)

    def parse_response(self, form: Mapping[str, str], outstanding: Mapping[str, str]) -> VerifiedAssertion:
        return parse_strict_response(self.client, form, outstanding, self.idp_entity_id)
