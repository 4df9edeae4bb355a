"""The OpenID Connect callback of the ENT (the buttons are the portal's, ``sp_ent/views.py``) and
the provider's logout notifications: OpenID Connect Front-Channel Logout 1.0 (a frame of
ÉduConnect's logout page) and Back-Channel Logout 1.0 (a signed logout token, server to server)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.errors import ProtocolError, SessionExpired
from federation.sessions import session_id
from federation.web import allow_framing_by, csrf
from sp_ent import services
from sp_ent.oidc.settings import BACKCHANNEL_LOGOUT_PATH, CALLBACK_PATH, FRONTCHANNEL_LOGOUT_PATH
from sp_ent.session_state import EntSession
from sp_ent.sign_in import open_parent_session

bp = Blueprint("ent_oidc", __name__)


@bp.get(CALLBACK_PATH)
def callback() -> ResponseReturnValue:
    oidc = services().oidc()
    try:
        parent, id_token, provider_sid = oidc.accept_callback(session, request.args)
    except SessionExpired:
        if EntSession.load(session).parent is None:
            raise
        # A second answer to a request this browser already completed (the same authorization
        # request sent again: reload, a second tab): the parent is signed in, nothing of the
        # answer is used.
        return redirect(url_for("establishments.landing"))
    open_parent_session(session, parent, id_token=id_token)
    if provider_sid:
        oidc.logout.remember(session_id(session), provider_sid)
    return redirect(url_for("establishments.landing"))


@bp.get(FRONTCHANNEL_LOGOUT_PATH)
def frontchannel_logout() -> ResponseReturnValue:
    """Front-Channel Logout §2-3: ``iss`` is our provider's, ``sid`` names the session to end."""
    oidc = services().oidc()
    issuer = oidc.rp.config.issuer
    provider_sid = request.args.get("sid", "")
    if request.args.get("iss") != issuer or not provider_sid:
        raise ProtocolError("front-channel logout without our issuer or a sid")
    oidc.logout.end(session, session_id(session), provider_sid)
    allow_framing_by(issuer)
    return render_template("logout_notified.html")


@bp.post(BACKCHANNEL_LOGOUT_PATH)
@csrf.exempt  # server to server, authenticated by the logout token's signature
def backchannel_logout() -> ResponseReturnValue:
    """Back-Channel Logout §2.5-2.8: 200 once the session named by the token has ended."""
    oidc = services().oidc()
    claims = oidc.rp.logout_token_claims(request.form.get("logout_token", ""))
    oidc.logout.consume_token_id(oidc.rp.config.issuer, str(claims["jti"]))
    if claims.get("sid"):
        oidc.logout.end(session, session_id(session), str(claims["sid"]))
    return "", 200, {"Cache-Control": "no-store"}
