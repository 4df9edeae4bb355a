"""The OpenID Connect callback of the ENT (the buttons are the portal's, ``sp_ent/views.py``)."""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from sp_ent import services
from sp_ent.oidc.settings import CALLBACK_PATH
from sp_ent.sign_in import open_parent_session

bp = Blueprint("ent_oidc", __name__)


@bp.get(CALLBACK_PATH)
def callback() -> ResponseReturnValue:
    parent, id_token = services().oidc().accept_callback(session, request.args)
    open_parent_session(session, parent, id_token=id_token)
    return redirect(url_for("establishments.landing"))
