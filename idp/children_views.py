"""« Ajout d'élèves » (DESIGN §2 C; the académie's help page, « Rattachement des enfants »).

A step of ``idp.continuation`` (``ChildrenStep``): after the account is created and at each login,
before any answer to an ENT, the parent is asked the birth date of each child the registry links
to them and that is not confirmed yet. The links were synchronised with the registry at sign-in
(``idp.sign_in``): these pages only read them, once per request, and count the attempts.
« Plus tard » postpones for this session only: the next login asks again.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from flask import Blueprint, redirect, render_template, request, session
from flask.typing import ResponseReturnValue

from federation.errors import SessionExpired
from federation.metrics import count_child_attachment
from federation.vectors import STUDENT_ID_PATTERN
from idp.domain.accounts import Account
from idp.domain.child_attachment import (
    MAX_WRONG_DATES_PER_CHILD,
    AttachmentStatus,
    BirthDateInputError,
    ChildAttachment,
    parse_birth_date,
)
from idp.domain.errors import ChildLinkBlocked, TooManyBirthDateAttempts, WrongBirthDate
from idp.services import IdpServices, services
from idp.session_state import IdpSession, signed_in_account

bp = Blueprint("children", __name__, template_folder="templates")

DATE_FIELDS = ("jour", "mois", "annee")
_FIELD_NAME = re.compile(rf"(jour|mois|annee)-({STUDENT_ID_PATTERN})")
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


def _account(svc: IdpServices, state: IdpSession) -> Account:
    account = signed_in_account(state, svc.accounts)
    if account is None:
        raise SessionExpired("« Ajout d'élèves » without a signed-in account")
    return account


def _continue(svc: IdpServices, state: IdpSession, account: Account, now: dt.datetime) -> ResponseReturnValue:
    """This session answered the page: on to the next step or the answer, without asking again."""
    state.children_asked = True
    next_url = svc.continuation.next_url(account, state, now)
    state.save(session)
    return redirect(next_url)


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
    svc, state = services(), IdpSession.load(session)
    account, now = _account(svc, state), svc.clock()
    status = svc.children.status(account.id, now)
    if not status.to_confirm:
        return _continue(svc, state, account, now)
    return _page(account, status, ChildrenForm())


@bp.post("/eleves")
def submit_children() -> ResponseReturnValue:
    svc, state = services(), IdpSession.load(session)
    account, now = _account(svc, state), svc.clock()
    form = ChildrenForm(values=_typed_dates())
    typed = {sid: v for sid, v in form.values.items() if any(v.values())}
    outcomes = {sid: _attempt(svc.children, account, sid, values, form, now) for sid, values in typed.items()}
    status = svc.children.status(account.id, now)  # the one read of the page, after the attempts
    if not typed:
        first = next((c.student_id for c in status.askable), None)
        if first is None:
            form.summary.append(NOTHING_TYPED)
        else:
            form.errors[first], form.invalid_fields[first] = NOTHING_TYPED, DATE_FIELDS
    on_page = {c.student_id for c in status.to_confirm}
    for student_id, message in outcomes.items():
        if message is None:
            form.confirmed.append(status.given_name(student_id) or student_id)
        elif student_id in on_page:
            form.errors[student_id] = message
        elif message not in form.summary:
            form.summary.append(message)  # an id that was not on the page: same words, no field
    if not form.has_errors and not status.has_children_to_ask:
        return _continue(svc, state, account, now)
    return _page(account, status, form), 422 if form.has_errors else 200


@bp.post("/eleves/plus-tard")
def postpone() -> ResponseReturnValue:
    """« Plus tard »: asked again at the next login (the flag dies with this session)."""
    svc, state = services(), IdpSession.load(session)
    return _continue(svc, state, _account(svc, state), svc.clock())


def _typed_dates() -> dict[str, dict[str, str]]:
    """jour-<id> / mois-<id> / annee-<id> of each child id posted, in the page's order."""
    order: list[str] = []
    for name in request.form:
        match = _FIELD_NAME.fullmatch(name)
        if match and match.group(2) not in order:
            order.append(match.group(2))
    return {
        student_id: {f: request.form.get(f"{f}-{student_id}", "")[:8] for f in DATE_FIELDS}
        for student_id in order[:MAX_CHILDREN_PER_POST]
    }


def _attempt(
    children: ChildAttachment,
    account: Account,
    student_id: str,
    values: dict[str, str],
    form: ChildrenForm,
    now: dt.datetime,
) -> str | None:
    """None when the link is confirmed, else the message for this child."""
    try:
        birth_date = parse_birth_date(values["jour"], values["mois"], values["annee"], now.date())
    except BirthDateInputError as exc:
        form.invalid_fields[student_id] = exc.fields
        return exc.message
    try:
        children.submit(account.id, student_id, birth_date, now)
    except WrongBirthDate:
        count_child_attachment("wrong_date")
        return WRONG_DATE
    except ChildLinkBlocked:
        count_child_attachment("blocked")
        return BLOCKED
    except TooManyBirthDateAttempts:
        count_child_attachment("too_many")
        return TOO_MANY
    count_child_attachment("confirmed")
    return None


def _page(account: Account, status: AttachmentStatus, form: ChildrenForm) -> str:
    return render_template(
        "children.html",
        account=account,
        children=status.to_confirm,
        askable=status.askable,
        blocked=status.blocked,
        exhausted=status.is_account_exhausted,
        form=form,
        blocked_text=BLOCKED,
        too_many=TOO_MANY,
    )
