"""Parcours de transition pages (DESIGN §2 B, the académie's help page steps 3–7)."""

from __future__ import annotations

import dataclasses
import time

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.errors import AuthenticationRefused, SessionExpired
from federation.stores import consume_once
from federation.web import csrf, get_store, saml_metadata_response, set_restart_url
from idp import services
from idp.continuation import continue_url
from idp.domain.accounts import Account
from idp.domain.errors import InvalidPassword, UpstreamRefused
from idp.domain.password_policy import RULES, SPECIALS_TEXT, PasswordCheck
from idp.domain.transition import UpstreamIdentity
from idp.views import now, start_authenticated_session

bp = Blueprint("transition", __name__, template_folder="templates")

ATEN_PENDING_KEY = "aten_pending"
UPSTREAM_KEY = "upstream"
PROPOSED_KEY = "proposed_identifier"
CREATED_KEY = "created_identifier"
MAX_PENDING = 5


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
    request_id, url = services().aten.authn_request()
    pending = dict(session.get(ATEN_PENDING_KEY, {}))
    pending[request_id] = int(time.time())
    session[ATEN_PENDING_KEY] = dict(sorted(pending.items(), key=lambda kv: kv[1])[-MAX_PENDING:])
    return redirect(url)


@bp.post("/saml/sp/acs")
@csrf.exempt  # cross-site POST from ATEN; the signature and InResponseTo protect it instead
def aten_assertion_consumer() -> ResponseReturnValue:
    """ATEN's Response (flow B4): strictly validated, consumed once, kept in the session."""
    ttl = services().settings.pending_request_ttl_seconds
    pending: dict[str, int] = dict(session.get(ATEN_PENDING_KEY, {}))
    outstanding = {rid: "/" for rid, issued in pending.items() if issued + ttl > time.time()}
    if not outstanding:
        raise SessionExpired("no pending request to ATEN in this browser")
    try:
        assertion_id, identity = services().aten.parse_response(request.form, outstanding)
    except AuthenticationRefused as exc:  # ATEN said no: its own page, « Connexion ATEN refusée »
        raise UpstreamRefused(exc.detail) from exc
    consume_once(get_store(current_app), "aten-assertion", assertion_id, ttl)
    pending.clear()
    session[ATEN_PENDING_KEY] = pending
    session[UPSTREAM_KEY] = {**dataclasses.asdict(identity), "at": int(time.time())}
    session.pop(PROPOSED_KEY, None)
    existing = services().transition.existing_account(identity)
    if existing is not None:
        services().accounts.refresh_upstream(identity)
        start_authenticated_session(existing.id)
        session[CREATED_KEY] = existing.identifier
        return redirect(url_for(".already_migrated"))
    return redirect(url_for(".identity_confirmed"))


@bp.get("/transition/compte")
def identity_confirmed() -> ResponseReturnValue:
    """« Choisir mon mot de passe » (help page step 4)."""
    identity = _upstream_identity()
    return render_template("transition_confirmed.html", identity=identity)


@bp.route("/transition/mot-de-passe", methods=["GET", "POST"])
def choose_password() -> ResponseReturnValue:
    """The identifier to note and the password chosen twice (help page step 5)."""
    identity = _upstream_identity()
    transition = services().transition
    identifier = session.get(PROPOSED_KEY) or transition.proposed_identifier(identity)
    session[PROPOSED_KEY] = identifier
    check: PasswordCheck | None = None
    if request.method == "POST":
        try:
            created = transition.create_account(
                identity,
                request.form.get("mot_de_passe", ""),
                request.form.get("confirmation", ""),
                identifier,
                now(),
            )
        except InvalidPassword as exc:
            check = exc.check
        else:
            return _signed_in(created.account)
    return render_template(
        "transition_password.html",
        identifier=identifier,
        rules=RULES,
        specials=SPECIALS_TEXT,
        check=check,
    ), (200 if check is None else 422)


@bp.get("/transition/compte-cree")
def account_created() -> ResponseReturnValue:
    """« Votre compte est créé. » (help page step 6), then on to the ENT (step 7)."""
    return _result_page("transition_created.html")


@bp.get("/transition/deja-inscrit")
def already_migrated() -> ResponseReturnValue:
    """A parent who already migrated: their identifier, and on to the ENT (no second account)."""
    return _result_page("transition_already.html")


def _result_page(template: str) -> ResponseReturnValue:
    account = services().accounts.by_id(session.get("account_id", ""))
    identifier = session.get(CREATED_KEY)
    if account is None or identifier != account.identifier:
        raise SessionExpired("no account from this transition in the session")
    return render_template(template, identifier=identifier, next_url=continue_url(account))


def _signed_in(account: Account) -> ResponseReturnValue:
    start_authenticated_session(account.id)
    session[CREATED_KEY] = account.identifier
    return redirect(url_for(".account_created"))


def _upstream_identity() -> UpstreamIdentity:
    data = session.get(UPSTREAM_KEY)
    if not data or data["at"] + services().settings.pending_request_ttl_seconds < time.time():
        raise SessionExpired("ATEN identity missing or older than the pending-request TTL")
    fields = {k: v for k, v in data.items() if k != "at"}
    fields["vectors"] = tuple(fields["vectors"])
    return UpstreamIdentity(**fields)
