"""The self-service's collaborators (issue 18), built once by :func:`install` from ``idp.create_app``.

Kept beside :class:`idp.services.IdpServices` under their own extension key: the recovery and
« Mon compte » views take them from :func:`self_services`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, flash, request
from flask.sessions import SessionMixin
from sqlalchemy.orm import Session, sessionmaker

from federation.database import ConnectionScope
from federation.login_throttle import LoginBrake
from federation.mail import open_transport
from federation.sessions import session_id
from federation.settings import Settings
from federation.stores import StoreCounter
from federation.web import log_refusal
from idp.account_sessions import AccountSessions
from idp.domain.accounts import Account, AccountRepository
from idp.domain.authentication import MAX_IDENTIFIER_LENGTH, normalise_identifier
from idp.domain.errors import AddressInvalid, MailUnavailable, TooManyRequests
from idp.domain.self_service import SelfService, SelfServiceRepository, checked_address
from idp.oidc.grant_store import GrantStore
from idp.self_service_mail import TemplateMailer
from idp.services import EXTENSION as IDP_EXTENSION
from idp.services import IdpServices
from idp.session_state import IdpSession, credential_marker
from idp.storage.sql_self_service import SqlSelfServiceRepository

EXTENSION = "idp-self-service"


@dataclass(frozen=True)
class SelfServices:
    service: SelfService
    repository: SelfServiceRepository
    sessions: AccountSessions  # the sessions of each account, ended by a new password
    grants: GrantStore  # OpenID Connect codes and access tokens, revoked by a new password
    brake: LoginBrake  # the login brake, reset for an account by its new password
    mailbox_dir: Path | None  # the demo's mailbox (« Boîte de réception de la démo »), else None

    def end_what_the_old_password_opened(
        self, account: Account, session: SessionMixin, signed_in_as: str | None
    ) -> None:
        """After a new password (by a recovery link or in « Mon compte »): every session of the
        account but this browser's ends (this one is kept, with the new password's marker, when
        it was validly signed in to the account), with its participants; every OpenID Connect
        code and access token of the account issued so far is refused, this browser's clients'
        included (they get new ones through the authorization endpoint); the account's login
        brake reopens."""
        current = session_id(session) if signed_in_as == account.id else None
        if current is not None:
            self._renew_credentials(account.id, session)
        self.sessions.end_others(account.id, session, current)
        self.grants.revoke_account(account.id)
        self.brake.reset_account(normalise_identifier(account.identifier)[:MAX_IDENTIFIER_LENGTH])

    def _renew_credentials(self, account_id: str, session: SessionMixin) -> None:
        """The browser that chose the new password holds it: it stays signed in."""
        account = self.service.accounts.by_id(account_id)
        if account is not None:
            state = IdpSession.load(session)
            state.credentials = credential_marker(account)
            state.save(session)

    def end_every_session(self, account_id: str, session: SessionMixin) -> int:
        """Every session of the account, this browser's included, and its OpenID Connect codes
        and access tokens."""
        ended = self.sessions.end_others(account_id, session, None)
        self.grants.revoke_account(account_id)
        if IdpSession.load(session).account_id == account_id:
            session.clear()
        return ended


def install(
    app: Flask,
    settings: Settings,
    accounts: AccountRepository,
    db_sessions: sessionmaker[Session],
    scope: ConnectionScope,
) -> None:
    idp: IdpServices = app.extensions[IDP_EXTENSION]
    repository = SqlSelfServiceRepository(db_sessions, scope)
    mailer = TemplateMailer(open_transport(settings.mail), settings.base_url)
    service = SelfService(accounts, repository, mailer, StoreCounter(idp.store))
    app.extensions[EXTENSION] = SelfServices(
        service=service,
        repository=repository,
        sessions=AccountSessions(idp.store, idp.logout),
        grants=idp.oidc.grants,
        brake=idp.authenticator.brake,
        mailbox_dir=settings.mail.mailbox_dir if settings.is_demo else None,
    )
    # Imported here: the views import this module (self_services, offer_address).
    from idp import account_views, demo_mailbox_views, recovery_views

    app.register_blueprint(recovery_views.bp)
    app.register_blueprint(account_views.bp)
    if settings.is_demo and settings.mail.mailbox_dir is not None:
        app.register_blueprint(demo_mailbox_views.bp)  # not in production: 404 there
        app.jinja_env.globals["demo_mailbox"] = True


def self_services() -> SelfServices:
    svc: SelfServices = current_app.extensions[EXTENSION]
    return svc


ADDRESS_INVALID = "L'adresse électronique n'est pas valide : vérifiez-la (par exemple : nom@example.fr)."
CONFIRMATION_SENT = (
    "Un message vient d'être envoyé à {address} : ouvrez le lien qu'il contient pour confirmer cette adresse."
)
CONFIRMATION_NOT_SENT = (
    "Le message de confirmation n'a pas pu être envoyé à {address}. "
    "Vous pourrez indiquer votre adresse électronique plus tard dans « Mon compte »."
)


def address_refusal(typed: str) -> str | None:
    """The French message for an address that cannot be written to; None when it can (or when
    nothing was typed: the address is optional)."""
    if not typed:
        return None
    try:
        checked_address(typed)
    except AddressInvalid:
        return ADDRESS_INVALID
    return None


def offer_address(account: Account, typed: str, now: dt.datetime) -> bool:
    """Send the confirmation link of an address; the outcome is flashed to the next page."""
    try:
        address = self_services().service.propose_address(
            account, typed, request.remote_addr or "inconnue", now
        )
    except (MailUnavailable, TooManyRequests) as exc:
        log_refusal(exc.code, exc)
        flash(CONFIRMATION_NOT_SENT.format(address=typed), "erreur")
        return False
    flash(CONFIRMATION_SENT.format(address=address), "info")
    return True


def offer_new_address(account: Account, current_password: str, typed: str, now: dt.datetime) -> bool:
    """« Mon compte »: the confirmation link of a new address, once the current password is
    right (:class:`WrongCurrentPassword`, :class:`TooManyRequests` otherwise); a relay that is
    down is flashed to the next page."""
    try:
        address = self_services().service.change_address(
            account, current_password, typed, request.remote_addr or "inconnue", now
        )
    except MailUnavailable as exc:
        log_refusal(exc.code, exc)
        flash(CONFIRMATION_NOT_SENT.format(address=typed), "erreur")
        return False
    flash(CONFIRMATION_SENT.format(address=address), "info")
    return True


def record_sign_in(account_id: str, session: SessionMixin) -> None:
    """Called by ``idp.sign_in`` once the session has its new id."""
    svc: SelfServices | None = current_app.extensions.get(EXTENSION)
    if svc is not None:
        svc.sessions.record(account_id, session_id(session))
