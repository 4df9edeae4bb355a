"""ÉduConnect as a SAML SP toward ATEN (parcours de transition, DESIGN §2 B2–B4): a configuration
of ``federation.saml_sp``.

ÉduConnect's SP role has its own entity ID (``{base}/saml/sp/metadata``) and ACS
(``{base}/saml/sp/acs``), separate from its IdP role. It asks ATEN for a persistent NameID and
reads the identity only from the signed assertion; the caller consumes the assertion ID once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from saml2.saml import NAMEID_FORMAT_PERSISTENT

from federation.errors import ConfigurationError, ProtocolError
from federation.saml_sp import SamlSpClient, SpRole, sp_metadata
from federation.settings import Settings
from idp.domain.transition import UpstreamIdentity

SERVICE_NAME = "ÉduConnect"


def sp_entity_id(settings: Settings) -> str:
    return f"{settings.base_url}/saml/sp/metadata"


def aten_sp_role(settings: Settings) -> SpRole:
    return SpRole(
        entity_id=sp_entity_id(settings), acs_url=f"{settings.base_url}/saml/sp/acs", name=SERVICE_NAME
    )


def aten_sp_metadata(settings: Settings) -> str:
    """The SP-role metadata ATEN registers (no peer metadata needed to produce it)."""
    return sp_metadata(settings, aten_sp_role(settings))


class AtenClient:
    """Built once per process; the IdP without ATEN configured refuses to start."""

    def __init__(self, settings: Settings) -> None:
        if not settings.aten_entity_id:
            raise ConfigurationError("idp.aten_entity_id (ou ATEN_BASE_URL) manquant")
        self.sp = SamlSpClient(settings, aten_sp_role(settings), idp_entity_id=settings.aten_entity_id)
        self.client = self.sp.client
        self.aten_entity_id = settings.aten_entity_id

    @property
    def metadata(self) -> str:
        """ÉduConnect's SP-role metadata, signed (served at /saml/sp/metadata)."""
        return self.sp.metadata

    def authn_request(self) -> tuple[str, str]:
        """(request id, URL) of a signed AuthnRequest to ATEN asking for a persistent NameID."""
        outgoing = self.sp.authn_request(nameid_format=NAMEID_FORMAT_PERSISTENT)
        return outgoing.request_id, outgoing.url

    def parse_response(
        self, form: Mapping[str, str], outstanding: Iterable[str], received_at: dt.datetime
    ) -> tuple[str, UpstreamIdentity]:
        """(assertion ID, identity) from a verified ATEN assertion; ``outstanding``: the ids of this
        browser's pending requests to ATEN, ``received_at``: our time now."""
        verified = self.sp.parse_response(form, outstanding, received_at)
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
