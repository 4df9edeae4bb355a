"""ÉduConnect: SAML IdP and OIDC OP for the ENTs, keeper of the parents' accounts.

:func:`create_app` is the one wiring place: it builds every collaborator once
(:class:`idp.services.IdpServices`) and registers the views, which build nothing.
"""

from __future__ import annotations

import datetime as dt
import time

from flask import Flask

from federation.authn_requests_once import AuthnRequestsOnce
from federation.database import make_engine, make_session_factory, ping
from federation.device_cookie import DeviceCookies
from federation.login_throttle import LoginBrake
from federation.pending_requests import PendingRequests
from federation.saml_backend import check_crypto_backend
from federation.saml_logout import SingleLogout
from federation.settings import Settings, load_settings
from federation.stores import StoreCounter
from federation.web import add_readiness_check, create_base_app, get_store, request_connections
from idp import children_views, logout_views, self_service, transition_views, views
from idp.continuation import ChildrenStep, Continuation
from idp.domain.authentication import BRAKE_PREFIX, Authenticator
from idp.domain.child_attachment import ChildAttachment
from idp.domain.transition import TransitionService
from idp.oidc import views as oidc_views
from idp.oidc.logout import ClientLogout, LogoutPoster, UrllibLogoutPoster
from idp.oidc.provider import OidcProvider
from idp.repeated_confirmation import ConfirmationNotes
from idp.saml_idp import SLO_PATH, SamlIdentityProvider
from idp.saml_sp_aten import AtenClient
from idp.services import EXTENSION, IdpServices, utc_now
from idp.single_logout import SessionAuthority
from idp.sp_registry import LiveRegistry, registry_settings
from idp.storage.sql_accounts import SqlAccountRepository, new_account_id
from idp.storage.sql_registry import SqlRegistryRepository
from idp.storage.sql_release import SqlReleaseReader

MAX_PENDING_ATEN_REQUESTS = 5
# A SessionIndex finds its session this long at least (a session lives longer while in use).
INDEX_TTL_SECONDS = 12 * 3600  # a few tabs at once; the oldest is forgotten first


def create_app(settings: Settings | None = None, *, logout_poster: LogoutPoster | None = None) -> Flask:
    """``logout_poster``: the back channel to the clients' ``backchannel_logout_uri`` (urllib)."""
    settings = settings or load_settings("idp")
    app = create_base_app(__name__, settings, service_title="ÉduConnect")
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    # The reads of one request share one pooled connection (federation.database.ReadSessions).
    accounts = SqlAccountRepository(sessions, request_connections)
    release = SqlReleaseReader(sessions, request_connections)
    children = ChildAttachment(SqlRegistryRepository(sessions, request_connections))
    aten = AtenClient(settings)
    check_crypto_backend(aten.client, settings)
    store = get_store(app)

    def single_logout(registry: SamlIdentityProvider) -> SingleLogout:
        return SingleLogout(
            registry.server,
            registry.providers,
            peer_type="spsso",
            endpoint_url=settings.base_url + SLO_PATH,
            skew=dt.timedelta(seconds=settings.clock_skew_seconds),
            store=store,
            replay_ttl_seconds=settings.pending_request_ttl_seconds,
        )

    # The SPs: rebuilt while the IdP runs when `sp add`, a release or the aggregate changes.
    saml = LiveRegistry(settings, registry_settings(settings), single_logout)
    # Clients and keys are read now: a bad file stops the start.
    oidc = OidcProvider(settings, release, accounts, store, logout_url=saml.logout_url)
    app.extensions[EXTENSION] = IdpServices(
        settings=settings,
        clock=utc_now,
        store=store,
        accounts=accounts,
        release=release,
        subjects=accounts,
        authenticator=Authenticator(
            accounts, LoginBrake(StoreCounter(store), BRAKE_PREFIX, settings.login_brake)
        ),
        devices=DeviceCookies.for_service(settings),
        transition=TransitionService(accounts, new_account_id),
        children=children,
        continuation=Continuation(steps=(ChildrenStep(children),)),
        saml=saml,
        authn_requests=AuthnRequestsOnce(store, saml.entity_id),
        aten=aten,
        aten_requests=PendingRequests(
            "aten", MAX_PENDING_ATEN_REQUESTS, settings.pending_request_ttl_seconds
        ),
        confirmations=ConfirmationNotes(store),
        oidc=oidc,
        logout=SessionAuthority(
            store,
            saml.single_logout,
            saml.entity_id,
            index_ttl_seconds=max(settings.session_ttl_seconds, INDEX_TTL_SECONDS),
            clients=ClientLogout(oidc, logout_poster or UrllibLogoutPoster(), time.time),
        ),
    )
    add_readiness_check(app, "database", lambda: ping(engine))
    for blueprint in (views.bp, transition_views.bp, children_views.bp, oidc_views.bp, logout_views.bp):
        app.register_blueprint(blueprint)
    self_service.install(app, settings, accounts, sessions, request_connections)  # issue 18
    return app
