"""Portal pages: the two buttons, the assertion consumer and the landing page."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.errors import ConfigurationError, SessionExpired
from federation.sessions import rotate_session
from federation.stores import consume_once
from federation.web import csrf, get_store, saml_metadata_response
from sp_ent import oidc_rp, services
from sp_ent.establishment_views import landing_for

bp = Blueprint("ent", __name__, template_folder="templates")

PENDING_KEY = "pending_requests"
MAX_PENDING = 5  # a few tabs at once; older requests are forgotten


@bp.get("/")
def portal() -> str:
    return render_template("portal.html")


@bp.get("/saml/metadata")
def metadata() -> ResponseReturnValue:
    return saml_metadata_response(services().saml.metadata)


@bp.get("/connexion/educonnect")
def login_educonnect() -> ResponseReturnValue:
    """« Je dispose d'un compte Educonnect »: a signed AuthnRequest to ÉduConnect (flow A2)."""
    if services().settings.protocol == "oidc":
        return oidc_rp.start_login(idp_hint=None)
    return _send_authn_request(scoped_idp=None)


@bp.get("/connexion/sans-compte")
def transition() -> ResponseReturnValue:
    """« Je n'ai pas de compte Educonnect »: the same request, scoped to ATEN (flow B1)."""
    if services().settings.protocol == "oidc":
        return oidc_rp.start_login(idp_hint=oidc_rp.ATEN_HINT)
    aten = services().settings.aten_entity_id
    if not aten:
        raise ConfigurationError("ent.aten_entity_id manquant")
    return _send_authn_request(scoped_idp=aten)


def _send_authn_request(scoped_idp: str | None) -> ResponseReturnValue:
    outgoing = services().saml.authn_request(scoped_idp=scoped_idp)
    pending = dict(session.get(PENDING_KEY, {}))
    pending[outgoing.request_id] = int(time.time())
    session[PENDING_KEY] = dict(sorted(pending.items(), key=lambda kv: kv[1])[-MAX_PENDING:])
    return redirect(outgoing.url)


@bp.post("/saml/acs")
@csrf.exempt  # cross-site POST from the IdP; protected by the signature and InResponseTo instead
def assertion_consumer() -> ResponseReturnValue:
    pending: dict[str, int] = dict(session.get(PENDING_KEY, {}))
    ttl = services().settings.pending_request_ttl_seconds
    outstanding = {rid: "/" for rid, issued in pending.items() if issued + ttl > time.time()}
    if not outstanding:
        raise SessionExpired("no pending AuthnRequest in this browser")
    parent = services().saml.parse_response(request.form, outstanding)
    consume_once(get_store(current_app), "ent-assertion", parent.assertion_id, ttl)
    pending.pop(parent.in_response_to, None)
    session.clear()
    rotate_session(session)
    session["parent"] = {
        "subject": parent.subject,
        "given_name": parent.first("givenName"),
        "family_name": parent.first("sn"),
        "attributes": parent.attributes,
    }
    return redirect(url_for(".landing"))


@bp.get("/accueil")
def landing() -> ResponseReturnValue:
    parent = session.get("parent")
    if not parent:
        return redirect(url_for(".portal"))
    return landing_for(parent)  # the establishment(s) of the released children (flow D)


@bp.get("/deconnexion")
def logout() -> ResponseReturnValue:
    if services().settings.protocol == "oidc":
        return oidc_rp.logout()  # also ends the ÉduConnect session (RP-initiated logout)
    session.clear()
    return redirect(url_for(".portal"))
