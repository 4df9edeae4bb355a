"""An independent SAML SP for interop tests: OneLogin's python3-saml (its own XML and signature
code, on xmlsec), in a tiny Flask app. It knows ÉduConnect only from ÉduConnect's metadata
(``OneLogin_Saml2_IdPMetadataParser``), as an ENT on another stack would.

Routes: ``/login`` (SP-initiated SSO), ``/login-post`` (the same, the AuthnRequest signed
enveloped and sent by HTTP-POST), ``/acs``, ``/logout`` (SP-initiated SLO), ``/sls``
(LogoutRequests and LogoutResponses of ÉduConnect), ``/moi`` (who is signed in), ``/metadata``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, render_template_string, request, session
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from federation.keys import generate_key_pair, key_pair

BASE = "https://sp-onelogin.test"


def onelogin_settings(
    idp_metadata_xml: str, certs_dir: Path, want_assertions_encrypted: bool = False
) -> dict[str, Any]:
    """python3-saml's settings; ``want_assertions_encrypted`` also publishes its certificate for
    encryption and refuses a Response whose assertion is not encrypted."""
    pair = key_pair(certs_dir, "onelogin", "signing")
    if not pair.exists():
        generate_key_pair(pair, "sp-onelogin.test")
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(
        idp_metadata_xml, required_sso_binding=Constants.BINDING_HTTP_REDIRECT
    )
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": f"{BASE}/metadata",
            "assertionConsumerService": {"url": f"{BASE}/acs", "binding": Constants.BINDING_HTTP_POST},
            "singleLogoutService": {"url": f"{BASE}/sls", "binding": Constants.BINDING_HTTP_REDIRECT},
            "NameIDFormat": Constants.NAMEID_PERSISTENT,
            "x509cert": pair.cert_pem,
            "privateKey": pair.key_file.read_text(),
        },
        "idp": parsed["idp"],
        "security": {
            "authnRequestsSigned": True,
            "logoutRequestSigned": True,
            "logoutResponseSigned": True,
            "wantMessagesSigned": True,
            "wantAssertionsSigned": True,
            "wantAssertionsEncrypted": want_assertions_encrypted,
            "wantNameId": True,
            "requestedAuthnContext": False,
            "signatureAlgorithm": Constants.RSA_SHA256,
            "digestAlgorithm": Constants.SHA256,
        },
    }


def sp_metadata(settings: dict[str, Any]) -> str:
    saml_settings = OneLogin_Saml2_Settings(settings, sp_validation_only=True)
    metadata = saml_settings.get_sp_metadata()
    errors = saml_settings.validate_metadata(metadata)
    assert not errors, errors
    return metadata.decode() if isinstance(metadata, bytes) else str(metadata)


def create_sp_app(settings: dict[str, Any]) -> Flask:
    app = Flask("onelogin_sp")
    app.secret_key = "onelogin-sp-test-secret-key-of-the-interop-tests"
    app.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_SAMESITE="None")

    def auth() -> OneLogin_Saml2_Auth:
        parts = urlsplit(BASE)
        return OneLogin_Saml2_Auth(
            {
                "https": "on",
                "http_host": parts.netloc,
                "script_name": request.path,
                "get_data": request.args.copy(),
                "post_data": request.form.copy(),
                "query_string": request.query_string.decode(),
            },
            settings,
        )

    @app.get("/login")
    def login() -> Any:
        saml = auth()
        url = saml.login()
        session["request_id"] = saml.get_last_request_id()
        return redirect(url)

    @app.get("/login-post")
    def login_post() -> Any:
        saml_settings = OneLogin_Saml2_Settings(settings)
        authn_request = OneLogin_Saml2_Authn_Request(saml_settings)
        signed = OneLogin_Saml2_Utils.add_sign(
            authn_request.get_xml(),
            saml_settings.get_sp_key(),
            saml_settings.get_sp_cert(),
            sign_algorithm=Constants.RSA_SHA256,
            digest_algorithm=Constants.SHA256,
        )
        session["request_id"] = authn_request.get_id()
        return render_template_string(
            '<form id="saml-post" method="post" action="{{ action }}">'
            '<input type="hidden" name="SAMLRequest" value="{{ value }}"></form>',
            action=settings["idp"]["singleSignOnService"]["url"],
            value=OneLogin_Saml2_Utils.b64encode(signed),
        )

    @app.post("/acs")
    def acs() -> Any:
        saml = auth()
        try:
            saml.process_response(request_id=session.pop("request_id", None))
        except Exception as exc:  # python3-saml refuses some Responses by raising (decryption failed)
            return jsonify(errors=[type(exc).__name__], reason=str(exc)), 400
        if saml.get_errors():
            return jsonify(errors=saml.get_errors(), reason=saml.get_last_error_reason()), 400
        session.update(
            name_id=saml.get_nameid(),
            name_id_format=saml.get_nameid_format(),
            nq=saml.get_nameid_nq(),
            spnq=saml.get_nameid_spnq(),
            session_index=saml.get_session_index(),
        )
        return redirect("/moi")

    @app.get("/moi")
    def me() -> Any:
        return jsonify(name_id=session.get("name_id"), session_index=session.get("session_index"))

    @app.get("/logout")
    def logout() -> Any:
        saml = auth()
        url = saml.logout(
            name_id=session.get("name_id"),
            session_index=session.get("session_index"),
            nq=session.get("nq"),
            name_id_format=session.get("name_id_format"),
            spnq=session.get("spnq"),
        )
        session["logout_request_id"] = saml.get_last_request_id()
        return redirect(url)

    @app.get("/sls")
    def single_logout_service() -> Any:
        saml = auth()
        url = saml.process_slo(
            request_id=session.pop("logout_request_id", None), delete_session_cb=session.clear
        )
        if saml.get_errors():
            return jsonify(errors=saml.get_errors(), reason=saml.get_last_error_reason()), 400
        if url:  # a LogoutRequest of ÉduConnect: answered with a signed LogoutResponse
            return redirect(url)
        return jsonify(logged_out=True)

    return app
