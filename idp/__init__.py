"""ÉduConnect: SAML IdP (and later OIDC OP) for the ENTs, keeper of the parents' accounts."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from federation.database import make_engine, make_session_factory, ping
from federation.saml_backend import check_crypto_backend
from federation.settings import Settings, load_settings
from federation.stores import StoreCounter
from federation.web import add_readiness_check, create_base_app, get_store
from idp.domain.authentication import Authenticator
from idp.saml_idp import SamlIdentityProvider
from idp.storage.sql_accounts import SqlAccountRepository


@dataclass(frozen=True)
class IdpServices:
    settings: Settings
    accounts: SqlAccountRepository
    authenticator: Authenticator
    saml: SamlIdentityProvider


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings("idp")
    app = create_base_app(__name__, settings, service_title="ÉduConnect")
    engine = make_engine(settings.database_url)
    accounts = SqlAccountRepository(make_session_factory(engine))
    saml = SamlIdentityProvider(settings)
    check_crypto_backend(saml.server, settings)
    app.extensions["idp"] = IdpServices(
        settings=settings,
        accounts=accounts,
        authenticator=Authenticator(accounts, StoreCounter(get_store(app))),
        saml=saml,
    )
    add_readiness_check(app, "database", lambda: ping(engine))
    from idp.views import bp

    app.register_blueprint(bp)
    return app


def services() -> IdpServices:
    svc: IdpServices = current_app.extensions["idp"]
    return svc
