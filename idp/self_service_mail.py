"""The French messages of the self-service (templates ``idp/templates/mail/``), sent through
``federation.mail``: the domain's :class:`idp.domain.self_service.Mailer`.

Links are absolute URLs on the IdP's ``base_url``; the token travels in the query string, which
the access log leaves out (``federation.web`` logs the path only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import render_template

from federation.mail import MailNotSent, MailRefused, MailTransport, OutgoingMail
from idp.domain.accounts import Account
from idp.domain.errors import AddressRefused, MailUnavailable
from idp.domain.self_service import (
    ADDRESS_LINK_VALIDITY,
    ADDRESS_UNDO_VALIDITY,
    PASSWORD_LINK_VALIDITY,
    RecoveryLink,
)

NEW_PASSWORD_PATH = "/mot-de-passe/nouveau"  # noqa: S105 - a path
CONFIRM_ADDRESS_PATH = "/courriel/confirmer"
UNDO_ADDRESS_PATH = "/courriel/ce-n-est-pas-moi"


@dataclass(frozen=True)
class _ShownLink:
    account: Account
    url: str


class TemplateMailer:
    def __init__(self, transport: MailTransport, base_url: str) -> None:
        self.transport, self.base_url = transport, base_url

    def link(self, path: str, token: str) -> str:
        return f"{self.base_url}{path}?{urlencode({'jeton': token})}"

    def _send(self, to: str, subject: str, template: str, **context: Any) -> None:
        context["subject"] = subject
        mail = OutgoingMail(
            to=to,
            subject=subject,
            text=render_template(f"mail/{template}.txt", **context),
            html=render_template(f"mail/{template}.html", **context),
        )
        try:
            self.transport.send(mail)
        except MailRefused as exc:
            raise AddressRefused(str(exc)) from exc
        except MailNotSent as exc:
            raise MailUnavailable(str(exc)) from exc

    def recovery(self, address: str, links: Sequence[RecoveryLink]) -> None:
        shown = [_ShownLink(link.account, self.link(NEW_PASSWORD_PATH, link.token)) for link in links]
        minutes = int(PASSWORD_LINK_VALIDITY.total_seconds() // 60)
        subject = "Votre identifiant ÉduConnect et le lien pour choisir un nouveau mot de passe"
        self._send(address, subject, "recovery", links=shown, minutes=minutes)

    def no_account(self, address: str) -> None:
        self._send(address, "Votre demande ÉduConnect : aucun compte avec cette adresse", "no_account")

    def probe(self) -> None:
        """For a value without an account: the recovery message is rendered as for a match (and
        dropped), then the relay is reached as far as a send goes without a recipient."""
        placeholder = Account("0" * 32, "x.xxxxxx1", "", "Xxxxx", "Xxxxxx")
        link = RecoveryLink(placeholder, "x" * 43)
        shown = [_ShownLink(placeholder, self.link(NEW_PASSWORD_PATH, link.token))]
        minutes = int(PASSWORD_LINK_VALIDITY.total_seconds() // 60)
        for kind in ("txt", "html"):
            render_template(f"mail/recovery.{kind}", links=shown, minutes=minutes, subject="")
        try:
            self.transport.probe()
        except MailNotSent as exc:
            raise MailUnavailable(str(exc)) from exc

    def confirm_address(self, address: str, account: Account, token: str) -> None:
        hours = int(ADDRESS_LINK_VALIDITY.total_seconds() // 3600)
        url = self.link(CONFIRM_ADDRESS_PATH, token)
        subject = "Confirmez votre adresse électronique ÉduConnect"
        self._send(address, subject, "confirm_address", account=account, url=url, hours=hours)

    def address_changed(self, old_address: str, account: Account, new_address: str, undo_token: str) -> None:
        subject = "L'adresse électronique de votre compte ÉduConnect change"
        self._send(
            old_address,
            subject,
            "address_changed",
            account=account,
            new_address=new_address,
            undo_url=self.link(UNDO_ADDRESS_PATH, undo_token),
            days=ADDRESS_UNDO_VALIDITY.days,
        )
