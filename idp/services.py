"""The collaborators of ÉduConnect's views, built once per process by ``idp.create_app``.

Views take them from :func:`services` and build nothing. Where a backend varies the field is
typed by the domain's Protocol, not by the SQL class behind it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from federation.authn_requests_once import AuthnRequestsOnce
from federation.device_cookie import DeviceCookies
from federation.pending_requests import PendingRequests
from federation.settings import Settings
from federation.stores import KeyValueStore
from idp.continuation import Continuation
from idp.domain.accounts import AccountRepository
from idp.domain.authentication import Authenticator
from idp.domain.child_attachment import ChildAttachment
from idp.domain.parent_release import PairwiseSubjects, ReleaseReader
from idp.domain.transition import TransitionService
from idp.oidc.provider import OidcProvider
from idp.repeated_confirmation import ConfirmationNotes
from idp.saml_sp_aten import AtenClient
from idp.single_logout import SessionAuthority
from idp.sp_registry import LiveRegistry

EXTENSION = "idp"

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class IdpServices:
    settings: Settings
    clock: Clock  # every "now" of the views: tests control it
    store: KeyValueStore
    accounts: AccountRepository
    release: ReleaseReader  # what a SAML or OIDC answer says about the parent
    subjects: PairwiseSubjects  # the pairwise subject, created when first answering an audience
    authenticator: Authenticator
    devices: DeviceCookies  # the login brake's device cookie
    transition: TransitionService
    children: ChildAttachment
    continuation: Continuation  # the steps due before any answer, then the answer
    saml: LiveRegistry  # the SPs in service now (idp/sp_registry.py)
    authn_requests: AuthnRequestsOnce  # each ENT AuthnRequest: one browser, one answer
    aten: AtenClient
    aten_requests: PendingRequests  # this browser's AuthnRequests to ATEN (parcours de transition)
    confirmations: ConfirmationNotes  # a « Confirmer » repeated after it created the account
    oidc: OidcProvider
    logout: SessionAuthority  # Single Logout: the participants of each session, their notification


def services() -> IdpServices:
    svc: IdpServices = current_app.extensions[EXTENSION]
    return svc
