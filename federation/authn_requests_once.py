"""Each AuthnRequest ID answered once (DESIGN §5), by ÉduConnect and by ATEN alike.

A signed AuthnRequest URL can be opened again: by the parent's own browser (Back, reload, before
the answer) or by anyone who got hold of it (another browser). The first browser session that
presents a request binds its ID to itself (``SET NX`` in the one-time store, Redis or embedded,
until the request's validity window ends: after that its IssueInstant is refused anyway); that
browser may present it again and goes on, any other session is refused.

The Response is issued once: the first one built is stored under the request's ID (``SET NX``
again) and every other is discarded. A request of the same browser racing on the answer (a
double click on « Continuer », two workers) is given that same Response again, which the SP
accepts once; after the answer, presenting the request again is refused, to that browser too.

A browser is named by a random value kept in its server-side session across the session id
rotations of sign-in (``IdpSession.browser_id``, ``AtenSession.browser_id``); it never leaves the
server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from federation.errors import RequestAlreadyUsed
from federation.saml_idp import MAX_REQUEST_AGE, AuthenticationRequest, PostForm
from federation.stores import ANSWER_PREFIX, KeyValueStore, claim_for

_PRESENTED_SCOPE = "saml-authn"


@dataclass(frozen=True)
class Presentation:
    """What :meth:`AuthnRequestsOnce.present` found: the request unanswered, bound to this browser.

    Handed to :meth:`AuthnRequestsOnce.answer` within the same HTTP request, it spares the store
    a second read of the answer (one Redis GET per SSO): a Response issued meanwhile by a racing
    request is still found by the ``SET NX`` that stores this one."""

    key: str
    browser_id: str


class AuthnRequestsOnce:
    """The presentations and the answer of the AuthnRequests of one IdP (``idp_entity_id``)."""

    def __init__(self, store: KeyValueStore, idp_entity_id: str) -> None:
        self._store = store
        self._idp = idp_entity_id

    def present(self, request: AuthenticationRequest, browser_id: str, now: dt.datetime) -> Presentation:
        """Let the first browser session of this request (again) go on; raise
        :class:`RequestAlreadyUsed` for any other, and once the request was answered."""
        key = self._key(request)
        if self._store.get(ANSWER_PREFIX + key) is not None:
            raise RequestAlreadyUsed(f"AuthnRequest {request.request_id} already answered")
        if not claim_for(self._store, _PRESENTED_SCOPE, key, browser_id, _remaining(request, now)):
            raise RequestAlreadyUsed(
                f"AuthnRequest {request.request_id} of {request.sp_entity_id} presented by another browser"
            )
        return Presentation(key, browser_id)

    def answer(
        self,
        request: AuthenticationRequest,
        browser_id: str,
        now: dt.datetime,
        build: Callable[[], PostForm],
        presented: Presentation | None = None,
    ) -> PostForm:
        """The one Response to this request: built by ``build`` unless one was issued already.

        ``presented``: what :meth:`present` returned for this request and browser earlier in the
        same HTTP request (it read the answer then: not read again before building).

        The Response is kept beyond the validity window for a request answered late (a slow
        parent): one more full window covers any request of the same session racing on it."""
        key = ANSWER_PREFIX + self._key(request)
        fresh = presented is not None and (presented.key, presented.browser_id) == (
            key[len(ANSWER_PREFIX) :],
            browser_id,
        )
        issued = None if fresh else self._store.get(key)
        if issued is None:
            form = build()
            record = {
                "browser": browser_id,
                "action": form.action,
                "fields": form.fields,
                "session_index": form.session_index,
            }
            ttl = max(_remaining(request, now), int(MAX_REQUEST_AGE.total_seconds()))
            if self._store.add(key, json.dumps(record).encode(), ttl):
                return form
            issued = self._store.get(key)  # another worker issued it meanwhile: this one is dropped
        if issued is not None:
            record = json.loads(issued)
            if record.get("browser") == browser_id:
                return PostForm(
                    action=str(record["action"]),
                    fields=dict(record["fields"]),
                    session_index=str(record.get("session_index", "")),
                )
        raise RequestAlreadyUsed(f"AuthnRequest {request.request_id} already answered")

    def _key(self, request: AuthenticationRequest) -> str:
        # IDs are chosen by the SPs (two SPs may pick the same one) and may be long: hashed with
        # the names of both ends.
        name = "\n".join((self._idp, request.sp_entity_id, request.request_id))
        return hashlib.sha256(name.encode()).hexdigest()


def _remaining(request: AuthenticationRequest, now: dt.datetime) -> int:
    return max(1, request.valid_until - int(now.timestamp()))
