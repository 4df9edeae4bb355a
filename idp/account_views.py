"""« Mon compte » (issue 18 item 3): identifier, names, e-mail address, password, children.

Each change is a POST with its CSRF token, redirected to the page (« Post/Redirect/Get ») with
its outcome flashed; a refused form is shown again with its French error. Only the signed-in
parent reaches these pages; each change is audited by ``idp.domain.self_service``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.admission import expensive_when_posted
from federation.vectors import is_valid_student_id
from federation.web import log_refusal
from idp.domain.accounts import Account
from idp.domain.errors import ChildNotConfirmed, InvalidPassword, TooManyRequests, WrongCurrentPassword
from idp.domain.password_policy import SPECIALS_TEXT
from idp.recovery_views import client_address, too_many
from idp.self_service import address_refusal, offer_new_address, self_services
from idp.services import services
from idp.session_state import IdpSession, signed_in_account

bp = Blueprint("account", __name__, template_folder="templates")

WRONG_CURRENT = "Le mot de passe actuel est incorrect."
PASSWORD_CHANGED = "Votre mot de passe est modifié. Vos autres connexions à ÉduConnect ont été fermées."  # noqa: S105 - a message
REPORTED = (
    "Le rattachement de {name} à votre compte est supprimé : cet élève n'est plus transmis aux ENT. "
    "Votre signalement est transmis à l'établissement ({establishment}), qui vérifiera les "
    "représentants légaux de l'élève et pourra vous contacter."
)
NOT_REPORTABLE = "Cet élève n'est pas (ou plus) rattaché à votre compte."


def _signed_in() -> Account | None:
    return signed_in_account(IdpSession.load(session), services().accounts)


def _page(account: Account, now: dt.datetime, status: int = 200, **form: Any) -> ResponseReturnValue:
    svc, own = services(), self_services()
    children = svc.children.status(account.id, now)
    context = {
        "account": account,
        "address": own.repository.confirmed_address(account.id),
        "pending_address": own.repository.pending_address(account.id, now),
        "confirmed": [link for link in children.links if link.is_confirmed],
        "to_confirm": children.to_confirm,
        "specials": SPECIALS_TEXT,
        "typed_address": "",
        "address_error": None,
        "address_password_error": None,
        "check": None,
        "password_error": None,
    }
    context.update(form)
    return render_template("account.html", **context), status


@bp.get("/mon-compte")
def account() -> ResponseReturnValue:
    signed_in = _signed_in()
    if signed_in is None:
        return redirect(url_for("idp.login"))
    return _page(signed_in, services().clock())


@bp.post("/mon-compte/courriel")
@expensive_when_posted  # argon2id
def change_address() -> ResponseReturnValue:
    signed_in = _signed_in()
    if signed_in is None:
        return redirect(url_for("idp.login"))
    now = services().clock()
    typed = request.form.get("courriel", "")[:254].strip()
    refusal = address_refusal(typed) if typed else "Saisissez votre adresse électronique."
    if refusal is not None:
        return _page(signed_in, now, 422, typed_address=typed, address_error=refusal)
    try:
        offer_new_address(signed_in, request.form.get("mot_de_passe_actuel_courriel", ""), typed, now)
    except WrongCurrentPassword:
        return _page(signed_in, now, 422, typed_address=typed, address_password_error=WRONG_CURRENT)
    except TooManyRequests as exc:
        return _page(signed_in, now, 429, typed_address=typed, address_password_error=too_many(exc))
    return redirect(url_for(".account"))


@bp.post("/mon-compte/mot-de-passe")
@expensive_when_posted  # argon2id, twice
def change_password() -> ResponseReturnValue:
    signed_in = _signed_in()
    if signed_in is None:
        return redirect(url_for("idp.login"))
    own, now = self_services(), services().clock()
    try:
        own.service.change_password(
            signed_in,
            request.form.get("mot_de_passe_actuel", ""),
            request.form.get("mot_de_passe", ""),
            request.form.get("confirmation", ""),
            client_address(),
            now,
        )
    except WrongCurrentPassword:
        return _page(signed_in, now, 422, password_error=WRONG_CURRENT)
    except TooManyRequests as exc:
        return _page(signed_in, now, 429, password_error=too_many(exc))
    except InvalidPassword as exc:
        return _page(signed_in, now, 422, check=exc.check)
    own.end_what_the_old_password_opened(signed_in, session, signed_in.id)
    flash(PASSWORD_CHANGED, "info")
    return redirect(url_for(".account"))


@bp.post("/mon-compte/eleves/signaler")
def report_child() -> ResponseReturnValue:
    """« Je ne suis pas le représentant légal de cet élève »."""
    signed_in = _signed_in()
    if signed_in is None:
        return redirect(url_for("idp.login"))
    svc, own, now = services(), self_services(), services().clock()
    student_id = request.form.get("eleve", "")[:32]
    child = next(
        (link for link in svc.children.status(signed_in.id, now).links if link.student_id == student_id), None
    )
    try:
        if child is None or not is_valid_student_id(student_id):
            raise ChildNotConfirmed(student_id)
        own.service.report_not_representative(signed_in, student_id, client_address(), now)
    except ChildNotConfirmed as exc:
        log_refusal(exc.code, exc)
        flash(NOT_REPORTABLE, "erreur")
        return redirect(url_for(".account"))
    flash(REPORTED.format(name=child.given_name, establishment=child.establishment.name), "info")
    return redirect(url_for(".account"))
