"""ÉduConnect pages: SAML SSO endpoint, login, the HTTP-POST answer, logout."""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.errors import SessionExpired
from federation.sessions import rotate_session
from federation.web import HELP_URL, allow_form_action, saml_metadata_response
from idp import services
from idp.continuation import LOGIN_HINT_KEY, NEXT_URL_KEY, PENDING_SAML_KEY, continue_url, pending_step
from idp.domain.errors import InvalidCredentials, TooManyAttempts
from idp.domain.release import released_attributes
from idp.saml_idp import AuthenticationRequest

bp = Blueprint("idp", __name__, template_folder="templates")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@bp.get("/saml/metadata")
def metadata() -> ResponseReturnValue:
    return saml_metadata_response(services().saml.metadata)


@bp.get("/saml/sso")
def single_sign_on() -> ResponseReturnValue:
    authn = services().saml.parse_redirect_request(request.args, now())
    if session.get("account_id") and not authn.force_authn:
        # Already signed in: answered by this very request (one round trip for the browser).
        return answer_or_continue(authn)
    session[PENDING_SAML_KEY] = dataclasses.asdict(authn)
    if services().aten.aten_entity_id in authn.requested_idps:
        # The ENT asked for the parcours de transition (Scoping, SAML core §3.4.1.2).
        return redirect(url_for("transition.start"))
    return redirect(url_for(".login"))


@bp.route("/connexion", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("login.html", help_url=HELP_URL, identifier=session.get(LOGIN_HINT_KEY, ""))
    identifier = request.form.get("identifiant", "")
    try:
        account = services().authenticator.authenticate(
            identifier, request.form.get("mot_de_passe", ""), request.remote_addr or "inconnue"
        )
    except (InvalidCredentials, TooManyAttempts) as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 200
        return render_template(
            "login.html", help_url=HELP_URL, identifier=identifier[:64], error=exc.code
        ), status
    start_authenticated_session(account.id)
    return redirect(continue_url(account))


def start_authenticated_session(account_id: str) -> None:
    """New session id (no fixation), keeping only the pending requests of this browser."""
    kept = {k: session[k] for k in (PENDING_SAML_KEY, NEXT_URL_KEY) if k in session}
    session.clear()
    rotate_session(session)
    session.update(kept)
    session["account_id"] = account_id
    session["auth_time"] = now().isoformat()


@bp.get("/saml/reponse")
def answer() -> ResponseReturnValue:
    """Answer the request left pending by the login or a step (« Ajout d'élèves »)."""
    pending = session.get(PENDING_SAML_KEY)
    if not pending:
        raise SessionExpired("no pending AuthnRequest")
    return answer_or_continue(AuthenticationRequest.from_session(pending))


def answer_or_continue(authn: AuthenticationRequest) -> ResponseReturnValue:
    """The signed Response (HTTP-POST binding, our own form), unless the parent must first sign
    in again or go through a step; the request then waits in the session."""
    release = services().release.for_audience(session.get("account_id", ""), authn.sp_entity_id)
    if release is None or not release.account.is_active:
        session.clear()  # the account was deleted or suspended since this session signed in
        session[PENDING_SAML_KEY] = dataclasses.asdict(authn)
        return redirect(url_for(".login"))
    step = pending_step(release.account)
    if step:
        session[PENDING_SAML_KEY] = dataclasses.asdict(authn)
        return redirect(step)
    session.pop(PENDING_SAML_KEY, None)
    auth_time = dt.datetime.fromisoformat(session["auth_time"])
    saml = services().saml
    form = saml.build_response(
        authn,
        subject=release.subject,
        attributes=released_attributes(release.account, auth_time, saml.logout_url, release.children),
        authn_instant=auth_time,
    )
    allow_form_action(form.action)
    return render_template("saml_post.html", action=form.action, fields=form.fields)


@bp.get("/compte")
def signed_in() -> ResponseReturnValue:
    account = services().accounts.by_id(session.get("account_id", ""))
    if account is None:
        return redirect(url_for(".login"))
    return render_template("signed_in.html", account=account)


@bp.get("/deconnexion")
def logout() -> str:
    session.clear()
    return render_template("logged_out.html")


@bp.get("/")
def home() -> ResponseReturnValue:
    return redirect(url_for(".login"))
