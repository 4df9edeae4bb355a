"""ATEN: an académie's legacy parent directory behind a SAML IdP (upstream of the parcours de
transition, DESIGN §2 B3). ÉduConnect, acting as SAML SP, sends parents here to sign in once.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Flask, current_app

from aten_adapter.directory import open_directory
from aten_adapter.domain.authentication import BRAKE_PREFIX, Authenticator
from aten_adapter.domain.parents import ParentDirectory
from aten_adapter.saml_idp import AtenIdentityProvider
from aten_adapter.settings import AtenSettings, load_aten_settings
from federation.authn_requests_once import AuthnRequestsOnce
from federation.device_cookie import DeviceCookies
from federation.login_throttle import LoginBrake
from federation.saml_backend import check_crypto_backend
from federation.settings import Settings, load_settings
from federation.stores import StoreCounter
from federation.web import add_readiness_check, create_base_app, get_store


@dataclass(frozen=True)
class AtenServices:
    settings: Settings
    aten: AtenSettings
    directory: ParentDirectory
    authenticator: Authenticator
    devices: DeviceCookies  # the login brake's device cookie
    saml: AtenIdentityProvider
    authn_requests: AuthnRequestsOnce  # each AuthnRequest of ÉduConnect: one browser, one answer
    clock: Callable[[], dt.datetime]  # aware UTC: request ages and authentication instants


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(
    settings: Settings | None = None,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
) -> Flask:
    """The ATEN service, wired once; ``env`` (default ``os.environ``) carries the ``ATEN_*``
    overrides."""
    settings = settings or load_settings("aten")
    aten = load_aten_settings(settings, os.environ if env is None else env)
    app = create_base_app(__name__, settings, service_title=aten.service_title)
    if aten.academie:
        app.jinja_env.globals["service_tagline"] = aten.academie
    app.jinja_env.globals["service_notice"] = aten.notice
    directory = open_directory(aten.directory)
    saml = AtenIdentityProvider(settings, aten.service_name)
    check_crypto_backend(saml.server, settings)
    app.extensions["aten"] = AtenServices(
        settings=settings,
        aten=aten,
        directory=directory,
        authenticator=Authenticator(
            directory, LoginBrake(StoreCounter(get_store(app)), BRAKE_PREFIX, settings.login_brake)
        ),
        devices=DeviceCookies.for_service(settings),
        saml=saml,
        authn_requests=AuthnRequestsOnce(get_store(app), saml.entity_id),
        clock=clock,
    )
    add_readiness_check(app, "directory", directory.check)
    from aten_adapter.views import bp

    app.register_blueprint(bp)
    return app


def services() -> AtenServices:
    svc: AtenServices = current_app.extensions["aten"]
    return svc
