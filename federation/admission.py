"""Admission control: a request that waited too long in the reverse proxy's queue is refused
before any work, with the French « Le service est très demandé » page and ``Retry-After``.

The proxy (``config/haproxy/haproxy.cfg``) stamps each request with the time it received it,
``X-Request-Start: t=<microseconds since the epoch>``, replacing any value the client sent. A
parent whose request waited longer than its class's budget has usually given up (or is about to
press reload): serving it would only make the next requests wait longer. So the service answers
it at once with a 503 and spends its workers on the requests that can still be served in time.

Classes, shed first to last (the proxy sheds in the same order, by queue length):

- ``expensive``: views marked with :func:`expensive_when_posted` (argon2id: password login,
  account creation), when posted: budget ``admission.expensive_budget_ms``;
- ``default``: every other view (SSO of a signed-in parent, SAML/OIDC endpoints, pages):
  budget ``admission.default_budget_ms``;
- ``light``: ``/healthz``, ``/readyz`` and static files: never refused here.

The header is read only when the service is configured to sit behind a proxy
(``EDUCONNECT_TRUSTED_PROXIES`` ≥ 1, the same trust as ``X-Forwarded-For``): without one a
client could choose its own queue time. The check runs as WSGI middleware, before Flask opens
the session: a refused request costs no store round trip (its cookies are not read) and no view
runs; Flask's pipeline still renders the page, with the security headers and the request id.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from federation.settings import AdmissionClass, AdmissionSettings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Clock = Callable[[], float]  # seconds since the epoch, like the proxy's stamp
F = TypeVar("F", bound=Callable[..., Any])

REQUEST_START_HEADER = "HTTP_X_REQUEST_START"
REFUSED_KEY = "educonnect.admission.refused"  # environ key: the reason, set by the middleware
LIGHT_ENDPOINTS = frozenset({"healthz", "readyz", "metrics"})
_EXPENSIVE_ATTRIBUTE = "_admission_expensive_methods"
# "t=1700000000123456" (µs, our HAProxy), "t=1700000000123" (ms), "t=1700000000.123" (s, nginx).
_STAMP = re.compile(r"^\s*t=(\d{1,20})(?:\.(\d{1,9}))?\s*$")


def expensive_when_posted(view: F) -> F:
    """Mark a view whose POST costs an argon2id computation: shed first under load."""
    setattr(view, _EXPENSIVE_ATTRIBUTE, frozenset({"POST"}))
    return view


def parse_request_start(value: str) -> float | None:
    """The proxy's stamp in seconds since the epoch; None when absent or malformed."""
    match = _STAMP.match(value)
    if match is None:
        return None
    whole, fraction = match.groups()
    if fraction is not None:
        return int(whole) + int(fraction) / 10 ** len(fraction)
    number = int(whole)
    if number >= 10**14:  # microseconds (seconds would be past the year 3 million)
        return number / 1e6
    if number >= 10**11:  # milliseconds
        return number / 1e3
    return float(number)


def queue_wait_seconds(environ: WSGIEnvironment, now: float) -> float | None:
    """How long the request waited since the proxy received it (0 for a stamp in the future:
    clocks a little apart); None without a readable stamp."""
    started = parse_request_start(environ.get(REQUEST_START_HEADER, ""))
    if started is None:
        return None
    return max(now - started, 0.0)


class AdmissionMiddleware:
    """Decides before Flask: past its budget, the request loses its cookies (no session is
    looked up) and is marked; :func:`refuse_marked_request` answers it with the 503 page."""

    def __init__(
        self, app: Flask, wsgi_app: WSGIApplication, settings: AdmissionSettings, clock: Clock
    ) -> None:
        self.app, self.wsgi_app, self.settings, self.clock = app, wsgi_app, settings, clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        waited = queue_wait_seconds(environ, self.clock())
        if waited is not None:
            admission_class = self.classify(environ)
            budget = self.settings.budget_ms(admission_class)
            if budget is not None and waited * 1000 > budget:
                waited_ms = round(waited * 1000)
                environ[REFUSED_KEY] = f"{admission_class} request waited {waited_ms} ms > {budget} ms"
                environ.pop("HTTP_COOKIE", None)
        return self.wsgi_app(environ, start_response)

    def classify(self, environ: WSGIEnvironment) -> AdmissionClass:
        try:
            endpoint, _ = self.app.url_map.bind_to_environ(environ).match()
        except (HTTPException, RequestRedirect):  # a 404, 405 or redirect: cheap, but no bypass
            return "default"
        if endpoint in LIGHT_ENDPOINTS or endpoint == "static" or endpoint.endswith(".static"):
            return "light"
        view = self.app.view_functions.get(endpoint)
        if environ.get("REQUEST_METHOD", "GET") in getattr(view, _EXPENSIVE_ATTRIBUTE, ()):
            return "expensive"
        return "default"


def install_admission(
    app: Flask,
    settings: AdmissionSettings,
    render_refusal: Callable[[str], Response],
    clock: Clock = time.time,
) -> None:
    """Wrap ``app`` (call it once the proxy middleware is in place, and before any other
    ``before_request`` hook but the request id's). ``render_refusal(detail)`` builds the page."""
    app.wsgi_app = AdmissionMiddleware(app, app.wsgi_app, settings, clock)  # type: ignore[method-assign]

    @app.before_request
    def refuse_marked_request() -> Response | None:
        detail = request.environ.get(REFUSED_KEY)
        if detail is None:
            return None
        g.restart_url = request.full_path.rstrip("?") if request.method == "GET" else "/"
        response = render_refusal(detail)
        response.headers["Retry-After"] = str(settings.retry_after_seconds)
        return response
