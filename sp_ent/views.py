"""Portal pages: the two buttons, the SAML metadata and assertion consumer, « Se déconnecter » and
SAML Single Logout."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.saml_logout import IncomingMessage
from federation.sessions import rotate_session, session_id
from federation.web import allow_form_action, csrf, saml_metadata_response
from sp_ent import services
from sp_ent.session_state import EntSession
from sp_ent.sign_in import open_parent_session

bp = Blueprint("ent", __name__, template_folder="templates")


@bp.before_app_request
def allow_logout_to_reach_educonnect() -> None:
    """Browsers apply ``form-action`` to the redirects after a form (CSP3 §6.3.3.2): the answer to
    « Se déconnecter » redirects to ÉduConnect, so exactly its logout endpoint is allowed."""
    destination = services().sign_in.logout_destination
    if destination:
        allow_form_action(destination)


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
    sign_in = services().saml_sign_in
    parent, saml_session = sign_in.accept_response(session, request.form)
    open_parent_session(session, parent, saml_session=saml_session)
    if saml_session.session_index:
        sign_in.logout.remember(session_id(session), saml_session)
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
    rotate_session(session)
    end_session = services().sign_in.logout_url(session, signed_in)
    if end_session is None:
        return render_template("logged_out.html", outcome="local")
    return redirect(end_session)


@bp.get("/deconnexion/terminee")
def logged_out() -> ResponseReturnValue:
    """Where ÉduConnect's RP-initiated logout brings the parent back (``post_logout_redirect_uri``)."""
    return render_template("logged_out.html", outcome="complete")


@bp.route("/saml/slo", methods=["GET", "POST"])
@csrf.exempt  # cross-site messages from ÉduConnect; protected by their signature and checks instead
def single_logout() -> ResponseReturnValue:
    """ÉduConnect's LogoutResponse to our LogoutRequest, or its LogoutRequest (SAML core §3.7)."""
    logout = services().saml_sign_in.logout
    message = IncomingMessage.from_http(request.method, request.args, request.form)
    if message.kind == "SAMLResponse":
        outcome = logout.outcome(session, logout.saml.parse_response(message, logout.now()))
        return render_template("logged_out.html", outcome=outcome)
    logout_request = logout.saml.parse_request(message, logout.now())
    logout.end_named_session(session, session_id(session), logout_request)
    outgoing = logout.saml.response(logout_request, complete=True)
    if not outgoing.fields:
        return redirect(outgoing.url)
    allow_form_action(outgoing.url)
    return render_template("saml_post.html", action=outgoing.url, fields=outgoing.fields)
