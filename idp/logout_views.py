"""« Se déconnecter » at ÉduConnect and SAML Single Logout (SAML core §3.7, profiles §4.4).

``/deconnexion``: GET shows the button, the POST (CSRF-checked) ends the session and every session
it opened. ``/saml/slo`` (HTTP-Redirect and HTTP-POST): a participant's LogoutRequest, or a
participant's LogoutResponse to ours (in a frame of the logout page). The logout page loads each
participant's front-channel logout in a hidden frame, then ``/deconnexion/fin/<id>`` answers
whoever asked (idp.single_logout).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, session
from flask.typing import ResponseReturnValue

from federation.saml_logout import IncomingMessage
from federation.sessions import session_id
from federation.web import allow_form_action, allow_framing_by, csrf
from idp.logout_pages import answer, progress_page
from idp.services import services
from idp.session_state import IdpSession, signed_in_account
from idp.single_logout import FinishedLogout, Initiator

bp = Blueprint("logout", __name__, template_folder="templates")


@bp.get("/deconnexion")
def logout_page() -> ResponseReturnValue:
    """FrEduUrlRetour and links lead here: a page with the button, never a logout by GET."""
    account = signed_in_account(IdpSession.load(session), services().accounts)
    if account is None:
        return render_template("logged_out.html")
    return render_template("logout_confirm.html", account=account)


@bp.post("/deconnexion")
def logout() -> ResponseReturnValue:
    """« Se déconnecter » at ÉduConnect: this session ends, then every participant's."""
    authority = services().logout
    state, sid = IdpSession.load(session), session_id(session)
    authority.end(session, sid, sid, state)
    return progress_page(authority.start(state, Initiator()))


@bp.route("/saml/slo", methods=["GET", "POST"])
@csrf.exempt  # cross-site messages from the SPs; protected by their signature and checks instead
def single_logout() -> ResponseReturnValue:
    svc = services()
    message = IncomingMessage.from_http(request.method, request.args, request.form)
    if message.kind == "SAMLResponse":
        # A participant confirms, in a frame of our logout page.
        svc.logout.confirm(svc.logout.saml.parse_response(message, svc.clock()))
        allow_framing_by("'self'")
        return render_template("logout_participant_done.html")
    logout_request = svc.logout.saml.parse_request(message, svc.clock())
    initiator = Initiator(saml_request=logout_request, peer=logout_request.issuer)
    current, sid = IdpSession.load(session), session_id(session)
    named = svc.logout.session_named_by(logout_request, sid, current)
    if named is None:  # that session is already over: nothing left to end
        return answer(FinishedLogout(initiator, complete=True))
    ended_sid, ended = named
    svc.logout.end(session, sid, ended_sid, ended)
    return progress_page(svc.logout.start(ended, initiator))


@bp.get("/saml/slo/envoi/<message_id>")
def post_logout_request(message_id: str) -> ResponseReturnValue:
    """A frame of the logout page posting a LogoutRequest to an SP with HTTP-POST only."""
    form = services().logout.sent_form(message_id)
    if form is None:
        return render_template("logout_participant_done.html"), 404
    action, fields = form
    allow_form_action(action)
    allow_framing_by("'self'")
    return render_template("saml_post.html", action=action, fields=fields)


@bp.get("/deconnexion/fin/<logout_id>")
def finish(logout_id: str) -> ResponseReturnValue:
    """After the participants (or the wait): the answer to whoever asked for the logout."""
    finished = services().logout.finish(logout_id)
    if finished is None:  # reloaded, or too late: the logout itself is done
        return render_template("logged_out.html")
    return answer(finished)
