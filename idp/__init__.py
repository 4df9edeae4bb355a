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
from idp.domain.transition import TransitionService
from idp.saml_idp import SamlIdentityProvider
from idp.saml_sp_aten import AtenClient
from idp.storage.sql_accounts import SqlAccountRepository, new_account_id
from idp.storage.sql_release import SqlReleaseReader


@dataclass(frozen=True)
class IdpServices:
    settings: Settings
    accounts: SqlAccountRepository
    release: SqlReleaseReader
    authenticator: Authenticator
    saml: SamlIdentityProvider
    aten: AtenClient
    transition: TransitionService


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings("idp")
    app = create_base_app(__name__, settings, service_title="ÉduConnect")
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    accounts = SqlAccountRepository(sessions)
    saml = SamlIdentityProvider(settings)
    check_crypto_backend(saml.server, settings)
    aten = AtenClient(settings)
    check_crypto_backend(aten.client, settings)
    app.extensions["idp"] = IdpServices(
        settings=settings,
        accounts=accounts,
        release=SqlReleaseReader(sessions, accounts),
        authenticator=Authenticator(accounts, StoreCounter(get_store(app))),
        saml=saml,
        aten=aten,
        transition=TransitionService(accounts, new_account_id),
    )
    add_readiness_check(app, "database", lambda: ping(engine))
    from idp.transition_views import bp as transition_bp
    from idp.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(transition_bp)
    from idp.children_views import init_app as init_children

    init_children(app, engine)
    from idp.oidc import install_oidc_provider

    install_oidc_provider(app, settings, accounts, logout_url=saml.logout_url)
    return app


def services() -> IdpServices:
    svc: IdpServices = current_app.extensions["idp"]
    return svc
