"""After sign-in: the children's establishments (DESIGN §2 A6 and D).

One establishment → its ENT page; several → the chooser; none → a page that says why and what to
do. Every UAI, from the chooser's form or from a URL, is checked against the ``FrEduVecteur``
values of this session's assertion. Changing establishment needs no new sign-in: the released
set stays in the session.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.web import ErrorPage, log_refusal
from sp_ent import services
from sp_ent.errors import EstablishmentNotReleased
from sp_ent.establishments import chosen_establishment, released_children, released_uais
from sp_ent.session_state import EntSession, SignedInParent

bp = Blueprint("establishments", __name__, template_folder="templates")

NOT_RELEASED = ErrorPage(
    "Établissement non autorisé",
    "Cet établissement ne fait pas partie de ceux de vos enfants transmis par ÉduConnect.",
    "Choisissez l'établissement dans la liste qui vous est proposée.",
    "Choisir un établissement",
)


@bp.get("/accueil")
def landing() -> ResponseReturnValue:
    """Where a signed-in parent lands: the chosen or only establishment, the chooser, or « none »."""
    state = EntSession.load(session)
    if state.parent is None:
        return redirect(url_for("ent.portal"))
    return _land(state, state.parent)


@bp.get("/etablissement")
def choose() -> ResponseReturnValue:
    """« Changer d'établissement » leads here too: the list again, no new sign-in."""
    state = EntSession.load(session)
    parent = state.parent
    if parent is None:
        return redirect(url_for("ent.portal"))
    uais = released_uais(parent.attributes)
    if len(uais) < 2:
        state.establishment = None
        state.save(session)
        return _land(state, parent)
    directory = services().directory
    children = released_children(parent.attributes)
    choices = [
        (directory.establishment(uai), [_child_name(c.student_id) for c in children if c.uai == uai])
        for uai in uais
    ]
    return render_template(
        "establishment_choice.html", parent=parent, choices=choices, chosen=state.establishment
    )


@bp.post("/etablissement")
def choice() -> ResponseReturnValue:
    state = EntSession.load(session)
    if state.parent is None:
        return redirect(url_for("ent.portal"))
    released = chosen_establishment(request.form.get("uai", ""), state.parent.attributes)
    state.establishment = released
    state.save(session)
    return redirect(url_for(".establishment", uai=released))


@bp.get("/etablissement/<uai>")
def establishment(uai: str) -> ResponseReturnValue:
    """The establishment's ENT page: the parent and only this establishment's children."""
    state = EntSession.load(session)
    parent = state.parent
    if parent is None:
        return redirect(url_for("ent.portal"))
    released = chosen_establishment(uai, parent.attributes)
    state.establishment = released
    state.save(session)
    directory = services().directory
    children = [c for c in released_children(parent.attributes) if c.uai == released]
    return render_template(
        "establishment.html",
        parent=parent,
        establishment=directory.establishment(released),
        children=[(c.student_id, directory.pupil(c.student_id)) for c in children],
        can_change=len(released_uais(parent.attributes)) > 1,
    )


def _land(state: EntSession, parent: SignedInParent) -> ResponseReturnValue:
    uais = released_uais(parent.attributes)
    if not uais:
        return render_template("no_establishment.html", parent=parent)
    if state.establishment in uais:
        return redirect(url_for(".establishment", uai=state.establishment))
    if len(uais) == 1:
        return redirect(url_for(".establishment", uai=uais[0]))
    return redirect(url_for(".choose"))


def _child_name(student_id: str) -> str:
    pupil = services().directory.pupil(student_id)
    return pupil.given_name if pupil else f"élève n° {student_id}"


@bp.errorhandler(EstablishmentNotReleased)
def not_released(exc: EstablishmentNotReleased) -> ResponseReturnValue:
    log_refusal(exc.code, exc.detail)
    return render_template("error.html", page=NOT_RELEASED, restart_url=url_for(".choose")), exc.http_status
