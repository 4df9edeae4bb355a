"""« Ajout d'élèves » (DESIGN §2 C; the académie's help page, « Rattachement des enfants »).

A step of ``idp.continuation``: after the account is created and at each login, before any answer
to an ENT, the parent is asked the birth date of each child the registry links to them and that is
not confirmed yet. « Plus tard » postpones for this session only: the next login asks again.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine

from federation.database import make_session_factory
from federation.errors import SessionExpired
from idp import services
from idp.continuation import continue_url, register_step
from idp.domain.accounts import Account
from idp.domain.child_attachment import (
    MAX_WRONG_DATES_PER_CHILD,
    BirthDateInputError,
    ChildAttachment,
    ChildLink,
    parse_birth_date,
)
from idp.domain.errors import ChildLinkBlocked, TooManyBirthDateAttempts, WrongBirthDate
from idp.domain.release import ReleasedChild
from idp.storage.sql_registry import SqlRegistryRepository

bp = Blueprint("children", __name__, template_folder="templates")

EXTENSION = "idp_children"
POSTPONED_KEY = "children_postponed"
DATE_FIELDS = ("jour", "mois", "annee")
_FIELD_NAME = re.compile(r"(jour|mois|annee)-([A-Za-z0-9]{1,32})")
MAX_CHILDREN_PER_POST = 20

WRONG_DATE = "La date de naissance saisie ne correspond pas à nos informations."
BLOCKED = (
    f"Après {MAX_WRONG_DATES_PER_CHILD} dates de naissance incorrectes, le rattachement de cet élève est "
    "bloqué. Contactez l'établissement pour le faire débloquer."
)
TOO_MANY = (
    "Trop de dates de naissance incorrectes en 24 heures : réessayez demain ou contactez l'établissement."
)
NOTHING_TYPED = "Saisissez la date de naissance d'au moins un élève, ou choisissez « Plus tard »."


def init_app(app: Flask, engine: Engine) -> None:
    app.extensions[EXTENSION] = ChildAttachment(SqlRegistryRepository(make_session_factory(engine)))
    app.register_blueprint(bp)
    register_step(app, children_step)


def attachment() -> ChildAttachment:
    service: ChildAttachment = current_app.extensions[EXTENSION]
    return service


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def children_step(account: Account) -> str | None:
    """The « Ajout d'élèves » page while this session has a child to confirm and did not postpone."""
    if session.get(POSTPONED_KEY):
        return None
    if not attachment().has_children_to_ask(account, _now()):
        return None
    return url_for("children.add_children")


def released_children(account_id: str) -> list[ReleasedChild]:
    """The confirmed children, for FrEduVecteur / FrEduCtPersonAffiliation (SAML and OIDC)."""
    return attachment().released_children(account_id)


def _account() -> Account:
    account = services().accounts.by_id(session.get("account_id", ""))
    if account is None:
        raise SessionExpired("« Ajout d'élèves » without a signed-in account")
    return account


@dataclass
class ChildrenForm:
    """What the parent typed and what went wrong, per child (keyed by student id)."""

    values: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    invalid_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)  # errors tied to no field on the page
    confirmed: list[str] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.summary)


@bp.get("/eleves")
def add_children() -> ResponseReturnValue:
    account = _account()
    children = attachment().children_to_confirm(account, _now())
    if not children:
        return redirect(continue_url(account))
    return _page(account, children, ChildrenForm())


@bp.post("/eleves")
def submit_children() -> ResponseReturnValue:
    account = _account()
    now = _now()
    listed = attachment().children_to_confirm(account, now)
    form = ChildrenForm(values=_typed_dates(listed))
    typed = {sid: v for sid, v in form.values.items() if any(v.values())}
    if not typed:
        first = next((c.student_id for c in listed if not c.is_blocked), None)
        if first is None:
            form.summary.append(NOTHING_TYPED)
        else:
            form.errors[first], form.invalid_fields[first] = NOTHING_TYPED, DATE_FIELDS
    on_page = {c.student_id for c in listed}
    names = {c.student_id: c.given_name for c in listed}
    for student_id, values in typed.items():
        message = _attempt(account, student_id, values, form, now)
        if message is None:
            form.confirmed.append(names.get(student_id, student_id))
        elif student_id in on_page:
            form.errors[student_id] = message
        elif message not in form.summary:
            form.summary.append(message)  # an id that was not on the page: same words, no field
    remaining = attachment().children_to_confirm(account, now)
    askable = [c for c in remaining if not c.is_blocked]
    if not form.has_errors and (not askable or attachment().is_account_exhausted(account.id, now)):
        return redirect(continue_url(account))
    return _page(account, remaining, form), 422 if form.has_errors else 200


@bp.post("/eleves/plus-tard")
def postpone() -> ResponseReturnValue:
    """« Plus tard »: asked again at the next login (the flag dies with this session)."""
    account = _account()
    session[POSTPONED_KEY] = True
    return redirect(continue_url(account))


def _typed_dates(listed: list[ChildLink]) -> dict[str, dict[str, str]]:
    """jour-<id> / mois-<id> / annee-<id> of the listed children first, then any other id posted."""
    order = [c.student_id for c in listed if not c.is_blocked]
    for name in request.form:
        match = _FIELD_NAME.fullmatch(name)
        if match and match.group(2) not in order:
            order.append(match.group(2))
    return {
        student_id: {f: request.form.get(f"{f}-{student_id}", "")[:8] for f in DATE_FIELDS}
        for student_id in order[:MAX_CHILDREN_PER_POST]
    }


def _attempt(
    account: Account, student_id: str, values: dict[str, str], form: ChildrenForm, now: dt.datetime
) -> str | None:
    """None when the link is confirmed, else the message for this child."""
    try:
        birth_date = parse_birth_date(values["jour"], values["mois"], values["annee"], now.date())
    except BirthDateInputError as exc:
        form.invalid_fields[student_id] = exc.fields
        return exc.message
    try:
        attachment().submit(account.id, student_id, birth_date, now)
    except WrongBirthDate:
        return WRONG_DATE
    except ChildLinkBlocked:
        return BLOCKED
    except TooManyBirthDateAttempts:
        return TOO_MANY
    return None


def _page(account: Account, children: list[ChildLink], form: ChildrenForm) -> str:
    return render_template(
        "children.html",
        account=account,
        children=children,
        askable=[c for c in children if not c.is_blocked],
        blocked=[c for c in children if c.is_blocked],
        exhausted=attachment().is_account_exhausted(account.id, _now()),
        form=form,
        blocked_text=BLOCKED,
        too_many=TOO_MANY,
    )
