"""« Identifiant ou mot de passe oublié ? » and the links sent by e-mail (issue 18 items 1, 2, 5).

A link's GET only shows its form (nothing is consumed, nothing written); its POST (CSRF token,
the token in a hidden field) makes the change. The answer to a recovery request is one page, the
same whether or not an account matches (``idp.domain.self_service``).
"""

from __future__ import annotations

import math

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.admission import expensive_when_posted
from federation.web import log_refusal
from idp.domain.errors import AddressInvalid, InvalidPassword, LinkInvalid, MailUnavailable, TooManyRequests
from idp.domain.password_policy import SPECIALS_TEXT, PasswordCheck
from idp.domain.self_service import (
    PASSWORD_LINK_VALIDITY,
    PURPOSE_ADDRESS,
    PURPOSE_ADDRESS_UNDO,
    PURPOSE_PASSWORD,
)
from idp.self_service import ADDRESS_INVALID, self_services
from idp.services import services
from idp.session_state import IdpSession, signed_in_account

bp = Blueprint("self_service", __name__, template_folder="templates")

MAIL_DOWN = (
    "L'envoi du message est momentanément impossible : rien n'a été envoyé ni modifié. "
    "Réessayez dans quelques minutes."
)
NOTHING_TYPED = "Saisissez votre adresse électronique ou votre identifiant."
MAX_TYPED = 254


def client_address() -> str:
    return request.remote_addr or "inconnue"


def too_many(exc: TooManyRequests) -> str:
    minutes = max(1, math.ceil(exc.retry_after_seconds / 60))
    return (
        "Trop de demandes ont été faites : pour protéger les comptes, réessayez dans "
        f"{minutes} minute{'s' if minutes > 1 else ''} environ."
    )


@bp.route("/identifiant-oublie", methods=["GET", "POST"])
def forgotten() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("recovery_request.html", typed="", error=None)
    typed = request.form.get("courriel_ou_identifiant", "")[:MAX_TYPED]
    svc = services()
    try:
        self_services().service.request_recovery(typed, client_address(), svc.clock())
    except AddressInvalid:
        error = ADDRESS_INVALID if typed.strip() else NOTHING_TYPED
        return render_template("recovery_request.html", typed=typed, error=error), 422
    except TooManyRequests as exc:
        headers = {"Retry-After": str(exc.retry_after_seconds)}
        return render_template("recovery_request.html", typed=typed, error=too_many(exc)), 429, headers
    except MailUnavailable as exc:
        log_refusal(exc.code, exc)
        return render_template("recovery_request.html", typed=typed, error=MAIL_DOWN), 503
    return redirect(url_for(".forgotten_sent"))


@bp.get("/identifiant-oublie/message-envoye")
def forgotten_sent() -> ResponseReturnValue:
    minutes = int(PASSWORD_LINK_VALIDITY.total_seconds() // 60)
    return render_template("recovery_sent.html", minutes=minutes)


def _link_invalid(purpose: str) -> ResponseReturnValue:
    return render_template("link_invalid.html", purpose=purpose), 410


@bp.get("/mot-de-passe/nouveau")
def new_password_form() -> ResponseReturnValue:
    token = request.args.get("jeton", "")
    try:
        _, account = self_services().service.link_for(token, PURPOSE_PASSWORD, services().clock())
    except LinkInvalid:
        return _link_invalid(PURPOSE_PASSWORD)
    return _new_password_page(account.identifier, token, None)


def _new_password_page(identifier: str, token: str, check: PasswordCheck | None) -> ResponseReturnValue:
    page = render_template(
        "recovery_new_password.html", identifier=identifier, token=token, check=check, specials=SPECIALS_TEXT
    )
    return page, (200 if check is None else 422)


@bp.post("/mot-de-passe/nouveau")
@expensive_when_posted  # argon2id
def new_password() -> ResponseReturnValue:
    svc, own = services(), self_services()
    token = request.form.get("jeton", "")
    now = svc.clock()
    # Read before the new password: only a session that held the previous one is kept.
    signed_in = signed_in_account(IdpSession.load(session), svc.accounts)
    try:
        account = own.service.reset_password(
            token,
            request.form.get("mot_de_passe", ""),
            request.form.get("confirmation", ""),
            client_address(),
            now,
        )
    except LinkInvalid:
        return _link_invalid(PURPOSE_PASSWORD)
    except InvalidPassword as exc:
        _, account = own.service.link_for(token, PURPOSE_PASSWORD, now)
        return _new_password_page(account.identifier, token, exc.check)
    own.end_what_the_old_password_opened(account, session, signed_in.id if signed_in else None)
    return redirect(url_for(".password_reset_done"))


@bp.get("/mot-de-passe/modifie")
def password_reset_done() -> ResponseReturnValue:
    return render_template("recovery_done.html")


@bp.get("/courriel/confirmer")
def confirm_address_form() -> ResponseReturnValue:
    token = request.args.get("jeton", "")
    try:
        link, account = self_services().service.link_for(token, PURPOSE_ADDRESS, services().clock())
    except LinkInvalid:
        return _link_invalid(PURPOSE_ADDRESS)
    return render_template(
        "address_confirm.html", account=account, address=link.address, token=token, error=None
    )


@bp.post("/courriel/confirmer")
def confirm_address() -> ResponseReturnValue:
    own = self_services()
    token = request.form.get("jeton", "")
    now = services().clock()
    try:
        _, address = own.service.confirm_address(token, client_address(), now)
    except LinkInvalid:
        return _link_invalid(PURPOSE_ADDRESS)
    except MailUnavailable as exc:
        log_refusal(exc.code, exc)
        link, account = own.service.link_for(token, PURPOSE_ADDRESS, now)
        page = render_template(
            "address_confirm.html", account=account, address=link.address, token=token, error=MAIL_DOWN
        )
        return page, 503
    return render_template("address_confirmed.html", address=address)


@bp.get("/courriel/ce-n-est-pas-moi")
def undo_address_form() -> ResponseReturnValue:
    """« Ce n'est pas moi », from the message to the replaced address: only shows its form."""
    token = request.args.get("jeton", "")
    try:
        link, account = self_services().service.link_for(token, PURPOSE_ADDRESS_UNDO, services().clock())
    except LinkInvalid:
        return _link_invalid(PURPOSE_ADDRESS_UNDO)
    return render_template(
        "address_undo.html", account=account, address=link.address, token=token, error=None
    )


@bp.post("/courriel/ce-n-est-pas-moi")
def undo_address() -> ResponseReturnValue:
    """The replaced address is put back and every session of the account ends (this browser's
    too, when it is signed in to it)."""
    own = self_services()
    try:
        account, address = own.service.restore_address(
            request.form.get("jeton", ""), client_address(), services().clock()
        )
    except LinkInvalid:
        return _link_invalid(PURPOSE_ADDRESS_UNDO)
    own.end_every_session(account.id, session)
    return render_template("address_restored.html", address=address)
