"""Prometheus metrics of the three services (DESIGN §7), all defined here, and their ``/metrics``.

Under ``educonnect-bridge serve`` every gunicorn worker is its own process: prometheus_client's
multiprocess mode keeps each worker's values in files of ``PROMETHEUS_MULTIPROC_DIR`` (set by
``serve`` before the metrics are created, emptied at each start) and ``/metrics`` sums them. Without
that variable (tests, a Flask app in one process) the process's own registry is served.

Every metric has labels, the ``service`` that counted at least: prometheus_client creates a
labelled series (and its file) at the first count in a worker, never at import, so importing
this module writes nothing. Labels take a bounded set of values: the Flask endpoint (the URL
rule's name, never the path typed), the method among the few we serve, the status code, and
fixed words (``outcome``, ``cause``). Views count with the small ``count_*`` functions below;
the domain counts nothing.

``/metrics`` is not public: it answers only a request carrying ``Authorization: Bearer <token>``
with the service's ``metrics_token`` (``EDUCONNECT_METRICS_TOKEN``), compared in constant time.
Without a configured token, or with a missing or wrong one, it is the ordinary « Page
introuvable » 404: nothing says the endpoint exists.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Literal

from flask import Flask, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_ENDPOINT = "metrics"
KNOWN_METHODS = frozenset({"GET", "POST", "HEAD"})
# Seconds. A page is 5-50 ms; a password login (argon2id) 50-300 ms; past 2.5 s parents leave.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

LoginOutcome = Literal["ok", "failed", "throttled"]
TransitionOutcome = Literal["account_created", "already_migrated"]
ChildOutcome = Literal["confirmed", "wrong_date", "blocked", "too_many"]
UnavailableCause = Literal["overload", "store", "database"]
Backend = Literal["store", "database"]

# No ``*_created`` series: Prometheus sees counter resets by itself, and they double the series.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "educonnect_http_requests",
    "HTTP requests answered, by service, Flask endpoint, method and status.",
    ["service", "endpoint", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "educonnect_http_request_duration_seconds",
    "Time to answer a request inside the service (the proxy's queue not included).",
    ["service", "endpoint"],
    buckets=LATENCY_BUCKETS,
)
LOGINS = Counter(
    "educonnect_logins",
    "ÉduConnect password logins: ok, failed (wrong identifier or password), throttled (braked).",
    ["service", "outcome"],
)
ACCOUNTS_CREATED = Counter(
    "educonnect_accounts_created",
    "ÉduConnect accounts created at the end of the parcours de transition.",
    ["service"],
)
TRANSITIONS_STARTED = Counter(
    "educonnect_transitions_started", "Parents sent to ATEN to start the parcours de transition.", ["service"]
)
TRANSITIONS_FINISHED = Counter(
    "educonnect_transitions_finished",
    "Parcours de transition finished: account created, or the parent had already migrated.",
    ["service", "outcome"],
)
CHILD_ATTACHMENTS = Counter(
    "educonnect_child_attachments",
    "Birth dates checked in « Ajout d'élèves »: confirmed, wrong date, blocked, too many for the account.",
    ["service", "outcome"],
)
UNAVAILABLE = Counter(
    "educonnect_unavailable_responses",
    "503 pages, by cause: overload (admission), store (sessions) or database outage.",
    ["service", "cause"],
)
BACKEND_ERRORS = Counter(
    "educonnect_backend_errors",
    "Errors of the session store and of the database that reached the web layer.",
    ["service", "backend"],
)


def current_service() -> str:
    """The service answering this request (the ``service`` label of what it counts)."""
    return str(current_app.extensions["settings"].service)


def count_login(outcome: LoginOutcome) -> None:
    LOGINS.labels(current_service(), outcome).inc()


def count_transition_started() -> None:
    TRANSITIONS_STARTED.labels(current_service()).inc()


def count_transition_finished(outcome: TransitionOutcome) -> None:
    service = current_service()
    TRANSITIONS_FINISHED.labels(service, outcome).inc()
    if outcome == "account_created":
        ACCOUNTS_CREATED.labels(service).inc()


def count_child_attachment(outcome: ChildOutcome) -> None:
    CHILD_ATTACHMENTS.labels(current_service(), outcome).inc()


def count_unavailable(service: str, cause: UnavailableCause) -> None:
    """A 503 page; a store or database one is also a backend error."""
    UNAVAILABLE.labels(service, cause).inc()
    if cause != "overload":
        BACKEND_ERRORS.labels(service, cause).inc()


def count_backend_error(service: str, backend: Backend) -> None:
    """A backend error that was not an outage (a 500, e.g. a constraint the code broke)."""
    BACKEND_ERRORS.labels(service, backend).inc()


def observe_request(service: str, endpoint: str | None, method: str, status: int, seconds: float) -> None:
    endpoint_label = endpoint or "unmatched"  # a 404 has no URL rule: one label for all
    method_label = method if method in KNOWN_METHODS else "other"
    HTTP_REQUESTS.labels(service, endpoint_label, method_label, str(status)).inc()
    HTTP_LATENCY.labels(service, endpoint_label).observe(seconds)


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_DIR_ENV)
    return Path(value) if value else None


def prepare_multiprocess_dir(directory: Path) -> None:
    """Create ``directory`` or empty it of a previous run's files (before any worker starts):
    the values of processes gone are not summed into the new ones."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.db"):
        old.unlink()


def worker_exited(pid: int) -> None:
    """gunicorn's ``child_exit``: the files of a worker gone stop counting as live."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)


def exposition() -> bytes:
    """The text format of every worker's values (multiprocess) or of this process's."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return generate_latest(registry)


def token_matches(presented: str | None, expected: str | None) -> bool:
    """Constant time in the token's content; False without a configured token."""
    if not expected or presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def _bearer_token() -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _metrics_view() -> Response:
    token: str | None = current_app.extensions["settings"].metrics_token
    if not token_matches(_bearer_token(), token):
        abort(404)  # the same page as an address that does not exist
    return Response(exposition(), content_type=CONTENT_TYPE_LATEST)


def add_metrics_endpoint(app: Flask) -> None:
    app.add_url_rule("/metrics", METRICS_ENDPOINT, _metrics_view)
