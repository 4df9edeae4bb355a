"""The OpenID Connect callback of the ENT (the buttons are the portal's, ``sp_ent/views.py``)."""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from federation.errors import SessionExpired
from sp_ent import services
from sp_ent.oidc.settings import CALLBACK_PATH
from sp_ent.session_state import EntSession
from sp_ent.sign_in import open_parent_session

bp = Blueprint("ent_oidc", __name__)


@bp.get(CALLBACK_PATH)
def callback() -> ResponseReturnValue:
    try:
        parent, id_token = services().oidc().accept_callback(session, request.args)
    except SessionExpired:
        if EntSession.load(session).parent is None:
            raise
        # A second answer to a request this browser already completed (the same authorization
        # request sent again: reload, a second tab): the parent is signed in, nothing of the
        # answer is used.
        return redirect(url_for("establishments.landing"))
    open_parent_session(session, parent, id_token=id_token)
    return redirect(url_for("establishments.landing"))
