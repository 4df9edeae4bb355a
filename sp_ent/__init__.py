"""The ENT portal « Services en ligne »: a SAML SP (or OpenID Connect RP) of ÉduConnect that sends
parents to their children's ENT.

:func:`create_app` is the one wiring place: it builds every collaborator once into
:class:`EntServices`; the views take them from there and build none.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

from federation.errors import ConfigurationError
from federation.pending_requests import PendingRequests
from federation.saml_backend import check_crypto_backend
from federation.saml_logout import SingleLogout
from federation.saml_sp import SamlSpClient
from federation.settings import Settings, load_settings
from federation.web import create_base_app, get_store
from sp_ent.establishments import EntDirectory, load_directory
from sp_ent.oidc.http_client import HttpClient, UrllibHttpClient
from sp_ent.oidc.relying_party import OidcRelyingParty
from sp_ent.oidc.settings import RelyingPartyConfig
from sp_ent.saml_sp import SLO_PATH, ent_saml_client
from sp_ent.sign_in import MAX_PENDING, OidcSignIn, SamlSignIn, SignInMethod
from sp_ent.single_logout import ParticipantLogout, ProviderSessions

EXTENSION = "ent"
# A NameID + SessionIndex finds its session this long at least (a session lives longer in use).
SLO_INDEX_TTL_SECONDS = 12 * 3600


@dataclass(frozen=True)
class EntServices:
    settings: Settings
    saml: SamlSpClient
    directory: EntDirectory
    saml_sign_in: SamlSignIn  # the ACS answers SAML whatever the buttons use
    oidc_sign_in: OidcSignIn | None  # with protocol = "oidc" only
    sign_in: SignInMethod  # what the portal's buttons and logout use (``protocol``)

    def oidc(self) -> OidcSignIn:
        if self.oidc_sign_in is None:
            raise ConfigurationError("protocol = oidc sans relying party installée")
        return self.oidc_sign_in


def create_app(
    settings: Settings | None = None,
    *,
    oidc_http: HttpClient | None = None,
    clock: Callable[[], float] = time.time,
) -> Flask:
    """The ENT; ``oidc_http`` is the back channel to ÉduConnect (urllib by default), ``clock`` the
    time in seconds since the epoch that pending requests and ID tokens are checked against."""
    settings = settings or load_settings("ent")
    app = create_base_app(__name__, settings, service_title="Services en ligne")
    saml = ent_saml_client(settings)
    check_crypto_backend(saml.client, settings)
    ttl = settings.pending_request_ttl_seconds
    store = get_store(app)
    logout = ParticipantLogout(
        saml=SingleLogout(
            saml.client,
            [saml.idp_entity_id],
            peer_type="idpsso",
            endpoint_url=settings.base_url + SLO_PATH,
            skew=dt.timedelta(seconds=settings.clock_skew_seconds),
            store=store,
            replay_ttl_seconds=ttl,
        ),
        idp_entity_id=saml.idp_entity_id,
        store=store,
        pending=PendingRequests(key="slo_pending", max_count=MAX_PENDING, ttl_seconds=ttl),
        index_ttl_seconds=max(settings.session_ttl_seconds, SLO_INDEX_TTL_SECONDS),
        clock=clock,
    )
    saml_sign_in = SamlSignIn(
        saml=saml,
        pending=PendingRequests(key="pending_requests", max_count=MAX_PENDING, ttl_seconds=ttl),
        store=store,
        aten_entity_id=settings.aten_entity_id,
        clock=clock,
        logout=logout,
    )
    oidc_sign_in = None
    if settings.protocol == "oidc":
        # Read now: a missing secret stops the start, not the first parent.
        rp = OidcRelyingParty(
            RelyingPartyConfig.from_settings(settings), oidc_http or UrllibHttpClient(), clock
        )
        pending = PendingRequests(key="oidc_pending", max_count=MAX_PENDING, ttl_seconds=ttl)
        sessions = ProviderSessions(store, max(settings.session_ttl_seconds, SLO_INDEX_TTL_SECONDS), ttl)
        oidc_sign_in = OidcSignIn(rp=rp, pending=pending, clock=clock, logout=sessions)
    app.extensions[EXTENSION] = EntServices(
        settings=settings,
        saml=saml,
        directory=load_directory(settings.ent_directory.establishments, settings.ent_directory.pupils),
        saml_sign_in=saml_sign_in,
        oidc_sign_in=oidc_sign_in,
        sign_in=oidc_sign_in or saml_sign_in,
    )
    _register_views(app, with_oidc=oidc_sign_in is not None)
    return app


def _register_views(app: Flask, with_oidc: bool) -> None:
    # Imported here: the view modules import ``services`` from this package.
    from sp_ent.establishment_views import bp as establishments_bp
    from sp_ent.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(establishments_bp)
    if with_oidc:
        from sp_ent.oidc.views import bp as oidc_bp

        app.register_blueprint(oidc_bp)


def services() -> EntServices:
    svc: EntServices = current_app.extensions[EXTENSION]
    return svc
