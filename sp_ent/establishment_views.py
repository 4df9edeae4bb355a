"""After sign-in: the children's establishments (DESIGN §2 A6 and D).

One establishment → its ENT page; several → the chooser; none → a page that says why and what to
do. Every UAI, from the chooser's form or from a URL, is checked against the ``FrEduVecteur``
values of this session's assertion. Changing establishment needs no new sign-in: the released
set stays in the session.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.settings import Settings, config_dir
from federation.web import ErrorPage
from sp_ent.errors import EstablishmentNotReleased
from sp_ent.establishments import (
    EntDirectory,
    chosen_establishment,
    load_directory,
    released_children,
    released_uais,
)

bp = Blueprint("establishments", __name__, template_folder="templates")

EXTENSION = "ent_directory"
CHOSEN_KEY = "etablissement"
log = logging.getLogger("educonnect")
NOT_RELEASED = ErrorPage(
    "Établissement non autorisé",
    "Cet établissement ne fait pas partie de ceux de vos enfants transmis par ÉduConnect.",
    "Choisissez l'établissement dans la liste qui vous est proposée.",
    "Choisir un établissement",
)


def init_app(app: Flask, settings: Settings) -> None:
    """Load the ENT directory once (the ``directory`` table of ent.toml) and register the pages."""
    table: dict[str, Any] = dict(settings.extra.get("directory", {}))
    app.extensions[EXTENSION] = load_directory(_path(table.get("establishments")), _path(table.get("pupils")))
    app.register_blueprint(bp)


def _path(value: object) -> Path | None:
    if not value:
        return None
    path = Path(str(value))
    return path if path.is_absolute() else config_dir(os.environ).parent / path


def directory() -> EntDirectory:
    found: EntDirectory = current_app.extensions[EXTENSION]
    return found


def landing_for(parent: dict[str, Any]) -> ResponseReturnValue:
    """Where a signed-in parent lands: the chosen or only establishment, the chooser, or « none »."""
    uais = released_uais(parent["attributes"])
    if not uais:
        return render_template("no_establishment.html", parent=parent, logout_url=_idp_logout_url(parent))
    chosen = session.get(CHOSEN_KEY)
    if chosen in uais:
        return redirect(url_for("establishments.establishment", uai=chosen))
    if len(uais) == 1:
        return redirect(url_for("establishments.establishment", uai=uais[0]))
    return redirect(url_for("establishments.choose"))


@bp.get("/etablissement")
def choose() -> ResponseReturnValue:
    """« Changer d'établissement » leads here too: the list again, no new sign-in."""
    parent = session.get("parent")
    if not parent:
        return redirect(url_for("ent.portal"))
    uais = released_uais(parent["attributes"])
    if len(uais) < 2:
        session.pop(CHOSEN_KEY, None)
        return landing_for(parent)
    children = released_children(parent["attributes"])
    choices = [
        (directory().establishment(uai), [_child_name(c.student_id) for c in children if c.uai == uai])
        for uai in uais
    ]
    return render_template(
        "establishment_choice.html", parent=parent, choices=choices, chosen=session.get(CHOSEN_KEY)
    )


@bp.post("/etablissement")
def choice() -> ResponseReturnValue:
    parent = session.get("parent")
    if not parent:
        return redirect(url_for("ent.portal"))
    uai = chosen_establishment(request.form.get("uai", ""), parent["attributes"])
    session[CHOSEN_KEY] = uai
    return redirect(url_for(".establishment", uai=uai))


@bp.get("/etablissement/<uai>")
def establishment(uai: str) -> ResponseReturnValue:
    """The establishment's ENT page: the parent and only this establishment's children."""
    parent = session.get("parent")
    if not parent:
        return redirect(url_for("ent.portal"))
    uai = chosen_establishment(uai, parent["attributes"])
    session[CHOSEN_KEY] = uai
    children = [c for c in released_children(parent["attributes"]) if c.uai == uai]
    return render_template(
        "establishment.html",
        parent=parent,
        establishment=directory().establishment(uai),
        children=[(c.student_id, directory().pupil(c.student_id)) for c in children],
        can_change=len(released_uais(parent["attributes"])) > 1,
    )


def _idp_logout_url(parent: dict[str, Any]) -> str | None:
    """FrEduUrlRetour: ÉduConnect's logout page, to sign in again and reach « Ajout d'élèves »."""
    url = (parent["attributes"].get("FrEduUrlRetour") or [""])[0]
    return url if url.startswith(("https://", "http://")) else None


def _child_name(student_id: str) -> str:
    pupil = directory().pupil(student_id)
    return pupil.given_name if pupil else f"élève n° {student_id}"


@bp.errorhandler(EstablishmentNotReleased)
def not_released(exc: EstablishmentNotReleased) -> ResponseReturnValue:
    log.warning("refused: %s %s", exc.code, exc.detail)
    restart = url_for(".choose")
    return render_template(
        "error.html", page=NOT_RELEASED, code=exc.code, restart_url=restart
    ), exc.http_status
