"""ATEN: an académie's legacy directory behind a SAML IdP (the upstream of the parcours de transition)."""

from __future__ import annotations

from flask import Flask, Response, render_template

from federation.saml import build_config, metadata_xml
from federation.settings import Settings, load_settings
from federation.web import create_base_app
from idp.saml_idp import idp_services


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings("aten")
    app = create_base_app(__name__, settings, service_title="ATEN – Académie de Poitiers")
    metadata = metadata_xml(build_config(settings, idp_services(settings), name="ATEN"))

    @app.get("/saml/metadata")
    def saml_metadata() -> Response:
        return Response(metadata, mimetype="application/samlmetadata+xml")

    @app.get("/")
    def home() -> str:
        return render_template("aten_home.html")

    return app
