"""The ENT portal « Services en ligne »: a SAML SP of ÉduConnect that sends parents to their ENT."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from federation.saml_backend import check_crypto_backend
from federation.settings import Settings, load_settings
from federation.web import create_base_app
from sp_ent.saml_sp import SamlServiceProvider


@dataclass(frozen=True)
class EntServices:
    settings: Settings
    saml: SamlServiceProvider


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings("ent")
    app = create_base_app(__name__, settings, service_title="Services en ligne")
    saml = SamlServiceProvider(settings)
    check_crypto_backend(saml.client, settings)
    app.extensions["ent"] = EntServices(settings=settings, saml=saml)
    from sp_ent.establishment_views import init_app as init_establishments
    from sp_ent.views import bp

    app.register_blueprint(bp)
    init_establishments(app, settings)
    if settings.protocol == "oidc":
        from sp_ent.oidc_rp import install_relying_party

        install_relying_party(app, settings)
    return app


def services() -> EntServices:
    svc: EntServices = current_app.extensions["ent"]
    return svc
