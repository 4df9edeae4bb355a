"""« Mon compte » (issue 18 item 3)."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue

bp = Blueprint("account", __name__, template_folder="templates")


@bp.get("/mon-compte")
def account() -> ResponseReturnValue:
    return redirect(url_for("idp.signed_in"))
