"""ATEN pages: SAML metadata and SSO endpoint, the login page « VALIDER », the HTTP-POST answer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from aten_adapter import services
from aten_adapter.domain.errors import InvalidCredentials, TooManyAttempts
from aten_adapter.domain.release import released_attributes
from aten_adapter.saml_idp import AuthenticationRequest
from federation.errors import SessionExpired
from federation.sessions import rotate_session
from federation.web import allow_form_action, saml_metadata_response

bp = Blueprint("aten", __name__, template_folder="templates")
log = logging.getLogger("educonnect.aten")

PENDING_KEY = "aten_pending_authn"
MAX_TYPED_IDENTIFIER = 64


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@bp.get("/saml/metadata")
def metadata() -> ResponseReturnValue:
    return saml_metadata_response(services().saml.metadata)


@bp.get("/saml/sso")
def single_sign_on() -> ResponseReturnValue:
    # Every request asks for the password: ATEN keeps no single sign-on session, a parent signs in
    # here once, to create their ÉduConnect account.
    authn = services().saml.parse_redirect_request(request.args, _now())
    session[PENDING_KEY] = dataclasses.asdict(authn)
    return redirect(url_for(".login"))


@bp.route("/connexion", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    pending = session.get(PENDING_KEY)
    if request.method == "GET":
        if not pending:
            return render_template("aten_home.html")
        return render_template("aten_login.html", identifier="")
    if not pending:
        raise SessionExpired("login form posted without a pending AuthnRequest")
    identifier = request.form.get("identifiant", "")
    try:
        parent = services().authenticator.authenticate(
            identifier, request.form.get("mot_de_passe", ""), request.remote_addr or "inconnue"
        )
    except (InvalidCredentials, TooManyAttempts) as exc:
        return render_template(
            "aten_login.html", identifier=identifier[:MAX_TYPED_IDENTIFIER], error=exc.code
        ), exc.http_status
    authn_instant = _now()
    session.clear()
    rotate_session(session)
    session["aten_uid"] = parent.uid
    session["auth_time"] = authn_instant.isoformat()
    authn = AuthenticationRequest.from_session(pending)
    form = services().saml.build_response(
        authn,
        subject=parent.persistent_id,
        attributes=released_attributes(parent),
        authn_instant=authn_instant,
    )
    log.info("ATEN login of %s answered to %s", parent.uid, authn.sp_entity_id)
    allow_form_action(form.action)
    return render_template("saml_post.html", action=form.action, fields=form.fields)


@bp.get("/")
def home() -> str:
    return render_template("aten_home.html")
