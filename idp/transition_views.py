"""Parcours de transition pages (DESIGN §2 B, the académie's help page steps 3–7)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.admission import expensive_when_posted
from federation.errors import AuthenticationRefused, SessionExpired
from federation.metrics import count_transition_finished, count_transition_started
from federation.sessions import original_session_id
from federation.stores import consume_once
from federation.web import csrf, saml_metadata_response, set_restart_url
from idp.domain.accounts import Account
from idp.domain.child_attachment import UpstreamLink
from idp.domain.errors import InvalidPassword, UpstreamRefused
from idp.domain.password_policy import RULES, SPECIALS_TEXT, PasswordCheck
from idp.domain.passwords import verify_password
from idp.domain.self_service import MAX_ADDRESS_LENGTH
from idp.domain.transition import UpstreamIdentity
from idp.repeated_confirmation import FirstConfirmation
from idp.self_service import address_refusal, offer_address
from idp.services import IdpServices, services
from idp.session_state import IdpSession, signed_in_account
from idp.sign_in import sign_in

bp = Blueprint("transition", __name__, template_folder="templates")


@bp.before_request
def restart_here() -> None:
    set_restart_url(url_for("transition.start"))


@bp.get("/saml/sp/metadata")
def sp_metadata() -> ResponseReturnValue:
    """ÉduConnect's SP-role metadata, which ATEN registers."""
    return saml_metadata_response(services().aten.metadata)


@bp.get("/transition/aten")
def start() -> ResponseReturnValue:
    """Send the parent to ATEN with a signed AuthnRequest (flow B2)."""
    svc, state = services(), IdpSession.load(session)
    request_id, url = svc.aten.authn_request()
    svc.aten_requests.add(state.pending_requests, request_id, svc.clock().timestamp())
    state.save(session)
    count_transition_started()
    return redirect(url)


@bp.get("/transition/reprendre")
@bp.get("/saml/sp/acs")  # ATEN links back here (its page after Back); the Response is POSTed
def resume() -> ResponseReturnValue:
    """Where this browser's transition stands: the page it led to, « Choisir mon mot de passe »
    while ATEN's answer is fresh, or a new request to ATEN."""
    svc, state = services(), IdpSession.load(session)
    done = _finished_transition_page(svc, state)
    if done is not None:
        return redirect(done)
    if _fresh_upstream_identity(svc, state) is not None:
        return redirect(url_for(".identity_confirmed"))
    return redirect(url_for(".start"))


@bp.post("/saml/sp/acs")
@csrf.exempt  # cross-site POST from ATEN; the signature and InResponseTo protect it instead
def aten_assertion_consumer() -> ResponseReturnValue:
    """ATEN's Response (flow B4): strictly validated, consumed once, kept in the session."""
    svc, state = services(), IdpSession.load(session)
    now = svc.clock()
    outstanding = svc.aten_requests.outstanding(state.pending_requests, now.timestamp())
    if not outstanding:
        raise SessionExpired("no pending request to ATEN in this browser, or only expired ones")
    try:
        assertion_id, identity = svc.aten.parse_response(request.form, outstanding, now)
    except AuthenticationRefused as exc:  # ATEN said no: its own page, « Connexion ATEN refusée »
        raise UpstreamRefused(exc.detail) from exc
    consume_once(svc.store, "aten-assertion", assertion_id, svc.settings.pending_request_ttl_seconds)
    svc.aten_requests.clear(state.pending_requests)
    state.upstream, state.upstream_verified_at, state.proposed_identifier = identity, now, None
    # A new transition in this browser (another parent at a shared computer): the pages of the
    # previous one no longer lead to its result.
    state.created_identifier = state.transition_page = None
    existing = svc.transition.existing_account(identity)
    if existing is None:
        state.save(session)
        return redirect(url_for(".identity_confirmed"))
    svc.children.keep_upstream_vectors(UpstreamLink(identity.issuer, identity.subject, identity.vectors))
    count_transition_finished("already_migrated")
    return _signed_in(svc, state, existing, now, url_for(".already_migrated"))


@bp.get("/transition/compte")
def identity_confirmed() -> ResponseReturnValue:
    """« Choisir mon mot de passe » (help page step 4)."""
    svc, state = services(), IdpSession.load(session)
    done = _finished_transition_page(svc, state)
    if done is not None:  # Back after the account was created: where that led
        return redirect(done)
    return render_template("transition_confirmed.html", identity=_upstream_identity(svc, state))


@bp.route("/transition/mot-de-passe", methods=["GET", "POST"])
@expensive_when_posted  # argon2id: shed first under load
@csrf.exempt  # checked below, once a « Confirmer » repeated after the account's creation is told apart
def choose_password() -> ResponseReturnValue:
    """The identifier to note and the password chosen twice (help page step 5)."""
    svc, state = services(), IdpSession.load(session)
    done = _finished_transition_page(svc, state)
    if done is not None:  # this session's « Confirmer » created the account: where it led
        return redirect(done)
    if request.method == "POST":
        repeated = _repeated_confirmation(svc)
        if repeated is not None:
            return repeated
        csrf.protect()
    identity = _upstream_identity(svc, state)
    identifier = state.proposed_identifier or svc.transition.proposed_identifier(identity)
    state.proposed_identifier = identifier
    check: PasswordCheck | None = None
    # ATEN's ``mail`` when it has one, shown and editable; confirmed by a link (issue 18 item 1).
    typed = request.form.get("courriel", "") if request.method == "POST" else identity.mail or ""
    typed_address = typed[:MAX_ADDRESS_LENGTH].strip()
    address_error = address_refusal(typed_address) if request.method == "POST" else None
    if request.method == "POST" and address_error is None:
        now = svc.clock()
        try:
            created = svc.transition.create_account(
                identity,
                request.form.get("mot_de_passe", ""),
                request.form.get("confirmation", ""),
                identifier,
                now,
            )
        except InvalidPassword as exc:
            check = exc.check
        else:
            first = FirstConfirmation(created.account.id, state.kept_at_sign_in())
            svc.confirmations.remember(original_session_id(session), first)
            count_transition_finished("account_created")
            signed_in = _signed_in(svc, state, created.account, now, url_for(".account_created"))
            if typed_address and created.was_created:  # flashed into the session just opened
                offer_address(created.account, typed_address, now)
            return signed_in
    state.save(session)
    return render_template(
        "transition_password.html",
        identifier=identifier,
        rules=RULES,
        specials=SPECIALS_TEXT,
        check=check,
        address=typed_address,
        address_error=address_error,
    ), (200 if check is None and address_error is None else 422)


@bp.get("/transition/compte-cree")
def account_created() -> ResponseReturnValue:
    """« Votre compte est créé. » (help page step 6), then on to the ENT (step 7)."""
    return _result_page("transition_created.html")


@bp.get("/transition/deja-inscrit")
def already_migrated() -> ResponseReturnValue:
    """A parent who already migrated: their identifier, and on to the ENT (no second account)."""
    return _result_page("transition_already.html")


def _result_page(template: str) -> ResponseReturnValue:
    svc, state = services(), IdpSession.load(session)
    account = signed_in_account(state, svc.accounts)
    if account is None or state.created_identifier != account.identifier:
        raise SessionExpired("no account from this transition in the session")
    next_url = svc.continuation.next_url(account, state, svc.clock())
    state.save(session)
    return render_template(template, identifier=state.created_identifier, next_url=next_url)


def _signed_in(
    svc: IdpServices, state: IdpSession, account: Account, now: dt.datetime, page: str
) -> ResponseReturnValue:
    """The parent is signed in (account created, or already migrated): their identifier is shown."""
    state = sign_in(session, state, account, svc.children, now)
    state.created_identifier, state.transition_page = account.identifier, page
    state.save(session)
    return redirect(page)


def _repeated_confirmation(svc: IdpServices) -> ResponseReturnValue | None:
    """A « Confirmer » sent with the cookie of a session an earlier « Confirmer » signed in and
    retired: with that session's password, signed in again on the page the first one led to
    (idp/repeated_confirmation.py); None when it is not one."""
    old_session_id = request.cookies.get(svc.settings.cookie.name, "")
    first = svc.confirmations.recall(old_session_id)
    if first is None:
        return None
    account = svc.accounts.by_id(first.account_id)
    password = request.form.get("mot_de_passe", "")
    if account is None or not account.is_active or not verify_password(account.password_hash, password):
        svc.confirmations.forget(old_session_id)  # one guess, then the ordinary refusal
        return None
    return _signed_in(svc, IdpSession.load(first.kept), account, svc.clock(), url_for(".account_created"))


def _finished_transition_page(svc: IdpServices, state: IdpSession) -> str | None:
    """The page this session's transition led to, while its parent is signed in."""
    account = signed_in_account(state, svc.accounts)
    if account is None or state.created_identifier != account.identifier:
        return None
    return state.transition_page


def _fresh_upstream_identity(svc: IdpServices, state: IdpSession) -> UpstreamIdentity | None:
    ttl = dt.timedelta(seconds=svc.settings.pending_request_ttl_seconds)
    verified_at = state.upstream_verified_at
    if state.upstream is None or verified_at is None or verified_at + ttl < svc.clock():
        return None
    return state.upstream


def _upstream_identity(svc: IdpServices, state: IdpSession) -> UpstreamIdentity:
    identity = _fresh_upstream_identity(svc, state)
    if identity is None:
        raise SessionExpired("ATEN identity missing or older than the pending-request TTL")
    return identity
