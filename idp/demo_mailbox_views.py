"""« Boîte de réception de la démo »: the messages the demo's mailbox transport delivered
(``federation.mail.MailboxTransport``). Registered in demo mode only: a 404 in production."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from federation.errors import SessionExpired
from federation.mail import read_mailbox
from idp.self_service import self_services
from idp.self_service_mail import CONFIRM_ADDRESS_PATH, NEW_PASSWORD_PATH, UNDO_ADDRESS_PATH
from idp.services import services

bp = Blueprint("demo_mailbox", __name__, template_folder="templates")

_URL = re.compile(r"(https?://\S+)")
LINK_LABELS = {
    NEW_PASSWORD_PATH: "Choisir un nouveau mot de passe",
    CONFIRM_ADDRESS_PATH: "Confirmer mon adresse électronique",
    UNDO_ADDRESS_PATH: "Ce n'est pas moi",
}


@dataclass(frozen=True)
class Part:
    text: str = ""
    url: str | None = None
    label: str = ""


def _parts(line: str, base_url: str) -> list[Part]:
    """Our own links become links (labelled by what they do); any other text stays text."""
    parts = []
    for piece in _URL.split(line):
        if not piece:
            continue
        if _URL.fullmatch(piece) and piece.startswith(base_url + "/"):
            path = piece[len(base_url) :].split("?", 1)[0]
            parts.append(Part(url=piece, label=LINK_LABELS.get(path, piece)))
        else:
            parts.append(Part(text=piece))
    return parts


@bp.get("/demo/boite-de-reception")
def inbox() -> ResponseReturnValue:
    directory = self_services().mailbox_dir
    if directory is None:
        raise SessionExpired("no demo mailbox")
    base_url = services().settings.base_url
    mails = [
        {
            "subject": mail.subject,
            "to": mail.to,
            "date": mail.date,
            "lines": [_parts(line, base_url) for line in mail.text.splitlines() if line.strip()],
        }
        for mail in read_mailbox(directory)
    ]
    return render_template("demo_mailbox.html", mails=mails)
