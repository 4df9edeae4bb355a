"""ÉduConnect pages: SAML SSO endpoint, login, the HTTP-POST answer (logout: idp/logout_views.py)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.admission import expensive_when_posted
from federation.authn_requests_once import Presentation
from federation.errors import SessionExpired
from federation.metrics import count_login
from federation.sessions import session_id
from federation.web import (
    HELP_URL,
    allow_form_action,
    csrf,
    render_login_refusal,
    restart_at_portal,
    saml_metadata_response,
)
from idp.domain.authentication import normalise_identifier
from idp.domain.errors import InvalidCredentials, TooManyAttempts
from idp.domain.parent_release import subject_for
from idp.domain.release import released_attributes
from idp.saml_idp import AuthenticationRequest
from idp.services import IdpServices, services
from idp.session_state import IdpSession, Participant, holds_credentials, signed_in_account
from idp.sign_in import sign_in

bp = Blueprint("idp", __name__, template_folder="templates")


@bp.get("/saml/metadata")
def metadata() -> ResponseReturnValue:
    return saml_metadata_response(services().saml.metadata)


@bp.route("/saml/sso", methods=["GET", "POST"])
@csrf.exempt  # HTTP-POST binding: a cross-site POST from the ENT, protected by its XML signature
def single_sign_on() -> ResponseReturnValue:
    """An ENT's AuthnRequest, by HTTP-Redirect (GET) or HTTP-POST: the first browser that presents
    it goes on, again on Back or reload; another browser gets « Demande de connexion refusée »
    (``federation.authn_requests_once``)."""
    svc = services()
    now = svc.clock()
    if request.method == "POST":
        authn = svc.saml.parse_post_request(request.form, now)
    else:
        authn = svc.saml.parse_redirect_request(request.args, now)
    state = IdpSession.load(session)
    restart_at_portal(svc.settings.portal_url)
    presented = svc.authn_requests.present(authn, state.ensure_browser_id(), now)
    if state.account_id and not authn.force_authn:
        # Already signed in: answered by this very request (one round trip for the browser).
        return answer_or_continue(svc, state, authn, presented)
    state.pending_saml = authn
    state.save(session)
    if svc.aten.aten_entity_id in authn.requested_idps:
        # The ENT asked for the parcours de transition (Scoping, SAML core §3.4.1.2).
        return redirect(url_for("transition.start"))
    return redirect(url_for(".login"))


@bp.route("/connexion", methods=["GET", "POST"])
@expensive_when_posted  # argon2id: shed first under load
def login() -> ResponseReturnValue:
    state = IdpSession.load(session)
    if request.method == "GET":
        return render_template("login.html", help_url=HELP_URL, identifier=state.login_hint or "")
    svc = services()
    identifier = request.form.get("identifiant", "")
    device_cookie = request.cookies.get(svc.devices.name)
    try:
        account = svc.authenticator.authenticate(
            identifier,
            request.form.get("mot_de_passe", ""),
            request.remote_addr or "inconnue",
            svc.devices.device_for(device_cookie, normalise_identifier(identifier)),
        )
    except (InvalidCredentials, TooManyAttempts) as exc:
        count_login("throttled" if isinstance(exc, TooManyAttempts) else "failed")
        return render_login_refusal("login.html", exc, help_url=HELP_URL, identifier=identifier[:64])
    count_login("ok")
    now = svc.clock()
    state = sign_in(session, state, account, svc.children, now)
    next_url = svc.continuation.next_url(account, state, now)
    state.save(session)
    response = redirect(next_url)
    svc.devices.remember(response, device_cookie, normalise_identifier(identifier))
    return response


@bp.get("/saml/reponse")
def answer() -> ResponseReturnValue:
    """Answer the request left pending by the login or a step (« Ajout d'élèves »)."""
    state = IdpSession.load(session)
    if state.pending_saml is None:
        raise SessionExpired("no pending AuthnRequest")
    return answer_or_continue(services(), state, state.pending_saml)


def answer_or_continue(
    svc: IdpServices, state: IdpSession, authn: AuthenticationRequest, presented: Presentation | None = None
) -> ResponseReturnValue:
    """The signed Response (HTTP-POST binding, our own form), unless the parent must first sign
    in again or go through a step; the request then waits in the session. ``presented``: the
    request was presented by this very HTTP request (``AuthnRequestsOnce.present``)."""
    release = svc.release.for_audience(state.account_id, authn.sp_entity_id) if state.account_id else None
    auth_time = state.auth_time
    if (
        release is None
        or not release.account.is_active
        or auth_time is None
        or not holds_credentials(state, release.account)
    ):
        # The account was deleted or suspended, or its password changed, since this session
        # signed in.
        session.clear()
        IdpSession(pending_saml=authn, browser_id=state.browser_id).save(session)
        return redirect(url_for(".login"))
    step = svc.continuation.pending_step(release.account, state, svc.clock())
    state.pending_saml = authn if step else None
    browser_id = state.ensure_browser_id()
    state.save(session)
    if step:
        return redirect(step)
    restart_at_portal(svc.settings.portal_url)
    subject = subject_for(release, svc.subjects)
    form = svc.authn_requests.answer(
        authn,
        browser_id,
        svc.clock(),
        lambda: svc.saml.build_response(
            authn,
            subject=subject,
            attributes=released_attributes(
                release.account, auth_time, svc.saml.logout_url, release.children, release.references
            ),
            authn_instant=auth_time,
        ),
        presented,
    )
    # This SP is now a participant of the session (Single Logout, idp.single_logout).
    participant = Participant("saml", authn.sp_entity_id, subject, form.session_index)
    svc.logout.join(state, session_id(session), participant)
    state.save(session)
    allow_form_action(form.action)
    return render_template("saml_post.html", action=form.action, fields=form.fields)


@bp.get("/compte")
def signed_in() -> ResponseReturnValue:
    account = signed_in_account(IdpSession.load(session), services().accounts)
    if account is None:
        return redirect(url_for(".login"))
    return render_template("signed_in.html", account=account)


@bp.get("/")
def home() -> ResponseReturnValue:
    return redirect(url_for(".login"))
