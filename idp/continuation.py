"""Where a signed-in parent goes next, whatever brought them here (SAML SSO, OIDC, transition).

First the steps due before any answer to an ENT (« Ajout d'élèves »), each a :class:`Step` that
gives the URL of its page or None; ``idp.create_app`` lists them. Then the pending SAML request is
answered, or the pending OIDC authorization resumed (``IdpSession.next_url``), or the parent
sees their account page.

The steps belong to the login (DESIGN §2 C: « asked again at the next login »): once every step
has let this session through, later SSO requests of the same session skip them without reading
anything. A sign-in starts a new session (``idp.sign_in``), which asks again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from flask import url_for

from idp.domain.accounts import Account
from idp.domain.child_attachment import ChildAttachment
from idp.session_state import IdpSession


class Step(Protocol):
    def __call__(self, account: Account, state: IdpSession, now: dt.datetime) -> str | None:
        """The URL of this step's page while the parent must go through it, else None."""
        ...


@dataclass(frozen=True)
class Continuation:
    steps: Sequence[Step]

    def pending_step(self, account: Account, state: IdpSession, now: dt.datetime) -> str | None:
        if state.steps_passed == account.id:
            return None
        for step in self.steps:
            url = step(account, state, now)
            if url:
                return url
        state.steps_passed = account.id
        return None

    def next_url(self, account: Account, state: IdpSession, now: dt.datetime) -> str:
        step = self.pending_step(account, state, now)
        if step:
            return step
        if state.pending_saml is not None:
            return url_for("idp.answer")
        return state.take_next_url() or url_for("idp.signed_in")


@dataclass(frozen=True)
class ChildrenStep:
    """« Ajout d'élèves » while the parent has a child to confirm and this session did not answer
    the page yet (``idp.children_views``)."""

    children: ChildAttachment

    def __call__(self, account: Account, state: IdpSession, now: dt.datetime) -> str | None:
        if state.children_asked or not self.children.has_children_to_ask(account.id, now):
            return None
        return url_for("children.add_children")
