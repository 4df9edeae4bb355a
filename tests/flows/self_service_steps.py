"""Shared steps of the self-service flow tests (issue 18): an IdP that mails through a real SMTP
server (aiosmtpd), parents with a confirmed address, browsers from their own client address."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from sqlalchemy import func, select

from idp.domain.accounts import Account
from idp.storage.models import AccountRow
from idp.storage.registry_models import RegistryAuditRow
from idp.storage.self_service_models import AccountEmailRow, SelfServiceTokenRow
from tests.browser import Browser, page_text
from tests.conftest import Stack
from tests.mail_server import Received, SmtpServer

IDP = "https://idp.test"
LINK = re.compile(r"https://idp\.test/[^\s\"<>]+")


@dataclass
class MailStack:
    """The shared ENT and ATEN, and an IdP of the same backend that mails to ``smtp``."""

    idp: Flask
    ent: Flask
    aten: Flask
    smtp: SmtpServer

    def apps(self) -> dict[str, Flask]:
        return {"https://ent.test": self.ent, IDP: self.idp, "https://aten.test": self.aten}


def make_idp(deployment: Any, stack: Stack, mail: dict[str, Any]) -> Flask:
    from idp import create_app

    backend = stack.backend
    return create_app(
        deployment.settings(
            "idp", backend.database_url, backend.redis_url, crypto_backend=backend.crypto, mail=mail
        )
    )


def new_address() -> str:
    return f"parent.{secrets.token_hex(5)}@example.fr"


def new_client_address() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def browser_for(mail_stack: MailStack, client_address: str | None = None) -> Browser:
    """A browser whose requests come from ``client_address`` (its own recovery budget)."""
    browser = Browser(mail_stack.apps())
    address = client_address or new_client_address()
    for base, app in mail_stack.apps().items():
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        browser.clients[base] = client
    return browser


def db(app: Flask) -> Any:
    return app.extensions["idp"].accounts._sessions


def give_confirmed_address(app: Flask, account: Account, address: str) -> None:
    with db(app).begin() as session:
        session.add(
            AccountEmailRow(account_id=account.id, address=address, confirmed_at=dt.datetime.now(dt.UTC))
        )


def confirmed_address(app: Flask, account: Account | AccountRow) -> str | None:
    with db(app)() as session:
        return session.scalar(select(AccountEmailRow.address).where(AccountEmailRow.account_id == account.id))


def token_rows(app: Flask, account: Account) -> list[SelfServiceTokenRow]:
    with db(app)() as session:
        return list(
            session.scalars(select(SelfServiceTokenRow).where(SelfServiceTokenRow.account_id == account.id))
        )


def audit_actions(app: Flask, account: Account | AccountRow) -> list[tuple[str, str | None]]:
    with db(app)() as session:
        rows = session.execute(
            select(RegistryAuditRow.action, RegistryAuditRow.client_address)
            .where(RegistryAuditRow.account_id == account.id)
            .order_by(RegistryAuditRow.id)
        )
        return [(r.action, r.client_address) for r in rows]


def count_tokens(app: Flask) -> int:
    with db(app)() as session:
        return int(session.scalar(select(func.count()).select_from(SelfServiceTokenRow)) or 0)


def ask_recovery(browser: Browser, typed: str):
    """« Identifiant ou mot de passe oublié ? » from the login page, the form sent."""
    login = browser.get(f"{IDP}/connexion")
    assert "Identifiant ou mot de passe oublié ?" in page_text(login)
    form = browser.get(f"{IDP}/identifiant-oublie")
    return browser.submit(form, form_id="demande-recuperation", courriel_ou_identifiant=typed)


def links_in(mail: Received) -> list[str]:
    return LINK.findall(mail.text)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["jeton"][0]


def the_one_mail_to(smtp: SmtpServer, address: str) -> Received:
    mails = smtp.to(address)
    assert len(mails) == 1, [m.message["Subject"] for m in mails]
    return mails[0]


@contextmanager
def clock_at(app: Flask, when: dt.datetime) -> Iterator[None]:
    services = app.extensions["idp"]
    app.extensions["idp"] = replace(services, clock=lambda: when)
    try:
        yield
    finally:
        app.extensions["idp"] = services
