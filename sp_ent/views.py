"""Portal pages: the two buttons, the SAML metadata and assertion consumer, « Se déconnecter »."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.web import csrf, saml_metadata_response
from sp_ent import services
from sp_ent.session_state import EntSession
from sp_ent.sign_in import open_parent_session

bp = Blueprint("ent", __name__, template_folder="templates")


@bp.get("/")
def portal() -> str:
    return render_template("portal.html")


@bp.get("/saml/metadata")
def metadata() -> ResponseReturnValue:
    return saml_metadata_response(services().saml.metadata)


@bp.get("/connexion/educonnect")
def login_educonnect() -> ResponseReturnValue:
    """« Je dispose d'un compte Educonnect »: a signed AuthnRequest (or an OIDC authorization
    request) to ÉduConnect (flow A2)."""
    return redirect(services().sign_in.login_url(session, through_aten=False))


@bp.get("/connexion/sans-compte")
def transition() -> ResponseReturnValue:
    """« Je n'ai pas de compte Educonnect »: the same request, toward ATEN (flow B1)."""
    return redirect(services().sign_in.login_url(session, through_aten=True))


@bp.post("/saml/acs")
@csrf.exempt  # cross-site POST from the IdP; protected by the signature and InResponseTo instead
def assertion_consumer() -> ResponseReturnValue:
    parent = services().saml_sign_in.accept_response(session, request.form)
    open_parent_session(session, parent)
    return redirect(url_for("establishments.landing"))


@bp.get("/deconnexion")
def logout_page() -> ResponseReturnValue:
    """A link or an old bookmark: the page with the button, never a logout by GET."""
    if EntSession.load(session).parent is None:
        return render_template("logged_out.html", outcome="complete")
    return render_template("logout_confirm.html")


@bp.post("/deconnexion")
def logout() -> ResponseReturnValue:
    """« Se déconnecter » (CSRF-checked form): the local session ends, then ÉduConnect's."""
    signed_in = EntSession.load(session)
    session.clear()  # first: the parent is signed out here even if ÉduConnect cannot be reached
    end_session = services().sign_in.logout_url(signed_in)
    if end_session is None:
        return render_template("logged_out.html", outcome="local")
    return redirect(end_session)
