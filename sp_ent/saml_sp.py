"""The ENT portal as a SAML SP of ÉduConnect: a configuration of ``federation.saml_sp``.

One SP role (entity ID ``{base}/saml/metadata``, ACS ``{base}/saml/acs``) and one partner, the only
IdP of ``ent.peer_metadata``; « Je n'ai pas de compte Educonnect » scopes the request to ATEN.
"""

from __future__ import annotations

from federation.saml_sp import SamlSpClient, SpRole, sp_metadata
from federation.settings import Settings

SERVICE_NAME = "Services en ligne"
ACS_PATH = "/saml/acs"
SLO_PATH = "/saml/slo"


def ent_sp_role(settings: Settings) -> SpRole:
    return SpRole(
        entity_id=settings.entity_id,
        acs_url=settings.base_url + ACS_PATH,
        name=SERVICE_NAME,
        slo_url=settings.base_url + SLO_PATH,
    )


def sp_services(settings: Settings) -> dict[str, dict[str, object]]:
    """The ENT's ``service.sp`` block (for tests and tools that build a pysaml2 config of it)."""
    return ent_sp_role(settings).services()


def ent_sp_metadata(settings: Settings) -> str:
    """The metadata ÉduConnect registers (``educonnect-bridge metadata export``)."""
    return sp_metadata(settings, ent_sp_role(settings))


def ent_saml_client(settings: Settings) -> SamlSpClient:
    """Built once per process by ``create_app``: ÉduConnect must be the only IdP of the metadata."""
    return SamlSpClient(settings, ent_sp_role(settings))
