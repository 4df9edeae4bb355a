"""Which Flask app and which SAML metadata a service name stands for: the one place that builds
any of the three services by name (the apps themselves never import each other)."""

from __future__ import annotations

from flask import Flask

from federation.saml import build_config, metadata_xml
from federation.settings import ServiceName, Settings


def create_service_app(service: ServiceName, settings: Settings) -> Flask:
    if service == "idp":
        from idp import create_app as create_idp

        return create_idp(settings)
    if service == "ent":
        from sp_ent import create_app as create_ent

        return create_ent(settings)
    from aten_adapter import create_app as create_aten

    return create_aten(settings)


def own_metadata(settings: Settings) -> dict[str, str]:
    """A service's metadata documents by file name, from its keys and endpoints alone.

    ÉduConnect has two: its IdP role toward the ENTs (idp.xml) and its SP role toward ATEN
    (idp-sp.xml, which ATEN registers).
    """
    if settings.service == "ent":
        from sp_ent.saml_sp import sp_services

        return {"ent.xml": metadata_xml(build_config(settings, sp_services(settings)), settings)}
    if settings.service == "aten":
        from aten_adapter.saml_idp import aten_services

        return {"aten.xml": metadata_xml(build_config(settings, aten_services(settings, "ATEN")), settings)}
    from idp.saml_idp import idp_services
    from idp.saml_sp_aten import aten_sp_metadata

    return {
        "idp.xml": metadata_xml(build_config(settings, idp_services(settings)), settings),
        "idp-sp.xml": aten_sp_metadata(settings),
    }
