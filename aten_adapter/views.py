"""ATEN pages: SAML metadata and SSO endpoint, the login page « VALIDER », the HTTP-POST answer."""

from __future__ import annotations

import logging

from flask import Blueprint, make_response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from aten_adapter import services
from aten_adapter.domain.authentication import normalise_identifier
from aten_adapter.domain.errors import InvalidCredentials, TooManyAttempts
from aten_adapter.domain.release import released_attributes
from aten_adapter.session_state import AtenSession
from federation.errors import SessionExpired
from federation.sessions import rotate_session
from federation.web import (
    allow_form_action,
    csrf,
    render_login_refusal,
    restart_at_portal,
    saml_metadata_response,
    set_restart_url,
)

bp = Blueprint("aten", __name__, template_folder="templates")
log = logging.getLogger("educonnect.aten")

MAX_TYPED_IDENTIFIER = 64


@bp.before_request
def restart_here() -> None:
    # « Recommencer » on an ATEN error page: the login page while a request waits, else the way back.
    set_restart_url(url_for("aten.login"))


@bp.get("/saml/metadata")
def metadata() -> ResponseReturnValue:
    return saml_metadata_response(services().saml.metadata)


@bp.route("/saml/sso", methods=["GET", "POST"])
@csrf.exempt  # HTTP-POST binding: a cross-site POST from ÉduConnect, protected by its XML signature
def single_sign_on() -> ResponseReturnValue:
    # Every request asks for the password: ATEN keeps no single sign-on session, a parent signs in
    # here once, to create their ÉduConnect account. The first browser that presents a request
    # goes on, again on Back or reload; another gets « Demande de connexion refusée ».
    svc = services()
    now = svc.clock()
    state = AtenSession.load(session)
    if request.method == "POST":
        authn = svc.saml.parse_post_request(request.form, now)
    else:
        authn = svc.saml.parse_redirect_request(request.args, now)
    restart_at_portal(svc.settings.portal_url)
    svc.authn_requests.present(authn, state.ensure_browser_id(), now)
    state.pending_authn = authn
    state.save(session)
    return redirect(url_for(".login"))


@bp.route("/connexion", methods=["GET", "POST"])
@csrf.exempt  # checked below whenever a request waits: without one, a POST reads nothing and changes nothing
def login() -> ResponseReturnValue:
    state = AtenSession.load(session)
    authn = state.pending_authn
    if authn is None:
        # No request to answer: opened directly, Back after the answer, or the form posted again.
        if state.answered_acs is not None:  # this browser signed in here: back to where it went
            return render_template("aten_home.html", resume_url=state.answered_acs)
        if request.method == "POST":
            raise SessionExpired("login form posted without a pending AuthnRequest")
        return render_template("aten_home.html")
    if request.method == "POST":
        csrf.protect()
    if request.method == "GET":
        return render_template("aten_login.html", identifier="")
    identifier = request.form.get("identifiant", "")
    devices = services().devices
    device_cookie = request.cookies.get(devices.name)
    try:
        parent = services().authenticator.authenticate(
            identifier,
            request.form.get("mot_de_passe", ""),
            request.remote_addr or "inconnue",
            devices.device_for(device_cookie, normalise_identifier(identifier)),
        )
    except (InvalidCredentials, TooManyAttempts) as exc:
        return render_login_refusal("aten_login.html", exc, identifier=identifier[:MAX_TYPED_IDENTIFIER])
    authn_instant = services().clock()
    restart_at_portal(services().settings.portal_url)
    form = services().authn_requests.answer(
        authn,
        state.ensure_browser_id(),
        authn_instant,
        lambda: services().saml.build_response(
            authn,
            subject=parent.persistent_id,
            attributes=released_attributes(parent),
            authn_instant=authn_instant,
        ),
    )
    session.clear()  # the request is answered: nothing from before the login is kept
    rotate_session(session)
    AtenSession(
        uid=parent.uid, auth_time=authn_instant, browser_id=state.browser_id, answered_acs=authn.acs_url
    ).save(session)
    log.info("ATEN login of %s answered to %s", parent.uid, authn.sp_entity_id)
    allow_form_action(form.action)
    response = make_response(render_template("saml_post.html", action=form.action, fields=form.fields))
    devices.remember(response, device_cookie, normalise_identifier(identifier))
    return response


@bp.get("/")
def home() -> str:
    return render_template("aten_home.html", resume_url=AtenSession.load(session).answered_acs)
