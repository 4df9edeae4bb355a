"""ÉduConnect as a SAML SP toward ATEN (parcours de transition, DESIGN §2 B2–B4).

ÉduConnect's SP role has its own entity ID (``{base}/saml/sp/metadata``) and ACS
(``{base}/saml/sp/acs``), separate from its IdP role. ATEN's Response is read by
``federation.saml_response.parse_strict_response``: signed by a key of ATEN's metadata only,
exactly one assertion, InResponseTo among this browser's pending requests, audience, destination,
recipient, ±skew; the caller consumes the assertion ID once.
"""

from __future__ import annotations

from collections.abc import Mapping

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.saml import NAMEID_FORMAT_PERSISTENT

from federation.errors import ConfigurationError, ProtocolError
from federation.saml import SIGNING_ALGORITHM, build_config, metadata_xml, service_block
from federation.saml_response import parse_strict_response
from federation.settings import Settings
from idp.domain.transition import UpstreamIdentity


def sp_entity_id(settings: Settings) -> str:
    return f"{settings.base_url}/saml/sp/metadata"


def aten_sp_services(settings: Settings) -> dict[str, dict[str, object]]:
    return {
        "sp": service_block(
            name="ÉduConnect",
            endpoints={
                "assertion_consumer_service": [(f"{settings.base_url}/saml/sp/acs", BINDING_HTTP_POST)]
            },
            authn_requests_signed=True,
            want_response_signed=True,
            want_assertions_signed=True,
            allow_unsolicited=False,
        )
    }


def aten_sp_metadata(settings: Settings) -> str:
    """The SP-role metadata ATEN registers (no peer metadata needed to produce it)."""
    return metadata_xml(build_config(settings, aten_sp_services(settings), entity_id=sp_entity_id(settings)))


class AtenClient:
    """Built once per process; None-free: the IdP without ATEN configured has no transition."""

    def __init__(self, settings: Settings) -> None:
        if not settings.aten_entity_id:
            raise ConfigurationError("idp.aten_entity_id (ou ATEN_BASE_URL) manquant")
        config = build_config(
            settings,
            aten_sp_services(settings),
            metadata_files=list(settings.peer_metadata),
            entity_id=sp_entity_id(settings),
            name="ÉduConnect",
        )
        self.client = Saml2Client(config)
        self.metadata = metadata_xml(config)
        self.aten_entity_id = settings.aten_entity_id
        if self.aten_entity_id not in set(self.client.metadata.identity_providers()):
            raise ConfigurationError(f"idp.peer_metadata: métadonnées de {self.aten_entity_id} absentes")

    def authn_request(self) -> tuple[str, str]:
        """(request id, URL) of a signed AuthnRequest to ATEN asking for a persistent NameID."""
        request_id, info = self.client.prepare_for_authenticate(
            entityid=self.aten_entity_id,
            binding=BINDING_HTTP_REDIRECT,
            sign=True,
            sigalg=SIGNING_ALGORITHM,
            nameid_format=NAMEID_FORMAT_PERSISTENT,
        )
        return request_id, dict(info["headers"])["Location"]

    def parse_response(
        self, form: Mapping[str, str], outstanding: Mapping[str, str]
    ) -> tuple[str, UpstreamIdentity]:
        """(assertion ID, identity) from a verified ATEN assertion; identity only from the signed part."""
        verified = parse_strict_response(self.client, form, outstanding, self.aten_entity_id)
        if verified.subject_format != NAMEID_FORMAT_PERSISTENT:
            raise ProtocolError(f"ATEN NameID format {verified.subject_format} is not persistent")
        given_name, family_name = verified.first("givenName").strip(), verified.first("sn").strip()
        if not given_name or not family_name:
            raise ProtocolError("ATEN assertion without sn/givenName")
        identity = UpstreamIdentity(
            issuer=verified.issuer,
            subject=verified.subject,
            given_name=given_name,
            family_name=family_name,
            mail=verified.first("mail") or None,
            vectors=tuple(verified.attributes.get("FrEduVecteur", [])),
        )
        return verified.assertion_id, identity
