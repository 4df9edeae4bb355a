"""What every Flask app of the bridge shares: sessions, CSRF, security headers, error pages,
health endpoints and the page layout (templates and stylesheet of this package).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Flask, Response, g, has_request_context, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from federation.admission import install_admission
from federation.database import is_database_outage
from federation.errors import FederationError, InvalidCredentials, StoreUnavailable, TooManyAttempts
from federation.legal_pages import add_legal_pages
from federation.metrics import (
    add_metrics_endpoint,
    count_backend_error,
    count_unavailable,
    current_service,
    observe_request,
)
from federation.sessions import StoreSessionInterface
from federation.settings import Settings
from federation.static_assets import StaticAssets, fingerprint_static_urls, serve_static
from federation.stores import KeyValueStore, open_store

log = logging.getLogger("educonnect")

ReadinessCheck = Callable[[], None]

layout = Blueprint("layout", __name__, template_folder="templates")
# Fingerprinted, precompressed static files (federation/static_assets.py), read once per app.
layout.add_url_rule("/static/commun/<path:filename>", endpoint="static", view_func=serve_static)
layout.record_once(lambda state: state.app.extensions.setdefault("static_assets", StaticAssets()))
layout.app_url_defaults(fingerprint_static_urls)
add_legal_pages(layout)
csrf = CSRFProtect()


HELP_URL = "https://educonnect.education.gouv.fr/educt-aide/aide/"

# Under the service title in the page header (DSFR « baseline »), by service.
SERVICE_TAGLINES: dict[str, str] = {
    "idp": "Un compte unique pour suivre la scolarité de vos enfants",
    "ent": "Académie de Poitiers – l'accès à l'ENT de l'établissement",
    "aten": "Votre ancien compte, pour créer votre compte ÉduConnect",
}


@dataclass(frozen=True)
class ErrorPage:
    title: str
    message: str
    next_step: str
    action: str = "Recommencer"  # the button that leads to the next step


# Parent-facing wording of each failure, keyed by the stable codes of errors.py.
ERROR_PAGES: dict[str, ErrorPage] = {
    "session_expiree": ErrorPage(
        "Votre session a expiré",
        "La page a expiré ou a été ouverte dans un autre onglet : votre démarche n'a pas pu aboutir.",
        "Recommencez depuis la page « Services en ligne ».",
    ),
    "formulaire_expire": ErrorPage(
        "Le formulaire a expiré",
        "Pour votre sécurité, ce formulaire n'est plus valable.",
        "Revenez à la page précédente, rechargez-la puis recommencez.",
    ),
    "aten_refus": ErrorPage(
        "Connexion ATEN refusée",
        "Le service ATEN de votre académie n'a pas confirmé votre identité : "
        "votre compte ÉduConnect n'a pas été créé.",
        "Recommencez avec « Je n'ai pas de compte Educonnect » et vérifiez votre identifiant et votre "
        "mot de passe ATEN. Si vous les avez perdus, contactez l'établissement de votre enfant.",
    ),
    "trop_de_tentatives": ErrorPage(
        "Trop de tentatives de connexion",
        "Pour protéger votre compte, la connexion est suspendue après plusieurs essais incorrects.",
        "Réessayez dans une heure au plus, ou depuis un navigateur où vous vous êtes déjà connecté.",
        "Revenir à la connexion",
    ),
    "rattachement_bloque": ErrorPage(
        "Rattachement de l'élève bloqué",
        "Trop de dates de naissance incorrectes ont été saisies pour cet élève : "
        "son rattachement à votre compte est bloqué.",
        "Contactez le secrétariat de l'établissement de votre enfant pour le faire débloquer.",
        "Continuer",
    ),
    "trop_de_dates_incorrectes": ErrorPage(
        "Trop de dates de naissance incorrectes",
        "Pour protéger les données des élèves, l'ajout d'élèves est suspendu pour 24 heures.",
        "Réessayez demain ou contactez l'établissement de votre enfant.",
        "Continuer",
    ),
    "annuaire_incoherent": ErrorPage(
        "Compte ATEN incomplet",
        "Les informations de votre compte ATEN ne permettent pas de créer votre compte ÉduConnect.",
        "Contactez l'établissement de votre enfant pour faire corriger votre compte.",
    ),
    "configuration": ErrorPage(
        "Service momentanément indisponible",
        "Le service ne peut pas traiter votre demande pour le moment.",
        "Réessayez dans quelques minutes.",
        "Réessayer",
    ),
    "message_refuse": ErrorPage(
        "Demande de connexion refusée",
        "La demande de connexion reçue n'est pas valide.",
        "Recommencez depuis la page « Services en ligne ».",
    ),
    "demande_deja_utilisee": ErrorPage(
        "Demande de connexion refusée",
        "Cette demande de connexion a déjà servi : elle n'est valable qu'une fois, dans le navigateur "
        "où elle a été ouverte.",
        "Recommencez depuis la page « Services en ligne » : une nouvelle demande de connexion sera créée.",
    ),
    "partenaire_inconnu": ErrorPage(
        "Service inconnu",
        "Le service qui vous a envoyé ici n'est pas reconnu : la demande de connexion a été refusée.",
        "Revenez au site de l'établissement et utilisez son lien de connexion.",
    ),
    "message_rejoue": ErrorPage(
        "Connexion déjà utilisée",
        "Cette réponse de connexion a déjà été utilisée.",
        "Recommencez depuis la page « Services en ligne ».",
    ),
    "horloge_decalee": ErrorPage(
        "Connexion momentanément impossible",
        "La réponse de connexion est arrivée avec une heure trop éloignée de la nôtre "
        "(les horloges des services ne sont pas à la même heure) : par sécurité, elle n'a pas été "
        "acceptée et rien n'a été enregistré.",
        "Réessayez dans quelques minutes. Si le problème continue, contactez l'établissement de votre "
        "enfant en donnant la référence ci-dessous.",
        "Réessayer",
    ),
    "authentification_refusee": ErrorPage(
        "Connexion refusée",
        "Le service d'authentification n'a pas confirmé votre identité.",
        "Recommencez et vérifiez votre identifiant et votre mot de passe.",
    ),
    "service_indisponible": ErrorPage(
        "Service momentanément indisponible",
        "Le service ne peut pas traiter votre demande pour le moment.",
        "Réessayez dans quelques minutes.",
        "Réessayer",
    ),
    "service_surcharge": ErrorPage(
        "Le service est très demandé",
        "Le service est très demandé. Réessayez dans quelques instants.",
        "Votre demande n'a pas été traitée : patientez quelques instants, puis réessayez.",
        "Réessayer",
    ),
    "page_introuvable": ErrorPage(
        "Page introuvable",
        "La page demandée n'existe pas ou n'existe plus. Si vous avez tapé l'adresse, vérifiez-la.",
        "Revenez à la page d'accueil du service.",
        "Revenir à l'accueil",
    ),
    "erreur": ErrorPage(
        "Une erreur est survenue",
        "Votre demande n'a pas pu être traitée.",
        "Réessayez dans quelques minutes ; si le problème persiste, contactez l'établissement.",
        "Réessayer",
    ),
}


def create_base_app(import_name: str, settings: Settings, service_title: str) -> Flask:
    """A Flask app with the shared session, CSRF, headers, errors and health endpoints."""
    app = Flask(import_name)
    store = open_store(
        settings.redis_url,
        str(settings.embedded_store_path),
        settings.redis_key_prefix,
        settings.redis_sentinel,
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME=settings.cookie.name,
        WTF_CSRF_TIME_LIMIT=None,  # bounded by the session TTL instead
        MAX_CONTENT_LENGTH=256 * 1024,  # SAML messages are capped before parsing (DESIGN §5)
        PREFERRED_URL_SCHEME="https" if settings.base_url.startswith("https") else "http",
    )
    app.session_interface = StoreSessionInterface(store, settings.cookie, settings.session_ttl_seconds)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        # Flask's documented way to wrap its WSGI app; mypy sees a method being replaced.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.extensions["settings"] = settings
    app.extensions["store"] = store
    app.extensions["readiness"] = {"store": store.ping}
    app.jinja_env.globals["service_title"] = service_title
    app.jinja_env.globals["service_tagline"] = SERVICE_TAGLINES.get(settings.service, "")
    app.jinja_env.globals["help_url"] = HELP_URL
    app.jinja_env.globals["portal_url"] = settings.portal_url
    # The header's way back to « Services en ligne » (the ENT is that portal itself).
    app.jinja_env.globals["portal_link"] = settings.portal_url if settings.service != "ent" else None
    app.register_blueprint(layout)
    _install_request_log(app)  # first, so every later hook and error has a request id
    if settings.trusted_proxies:  # the proxy stamps X-Request-Start: too late, refused unserved
        install_admission(app, settings.admission, _overload_page)
    app.teardown_request(close_request_connections)
    csrf.init_app(app)
    _install_security_headers(app, settings)
    _install_error_handlers(app)
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    app.add_url_rule("/readyz", "readyz", _readyz)
    add_metrics_endpoint(app)  # behind the metrics token (federation/metrics.py)
    return app


def request_connections() -> MutableMapping[int, Connection] | None:
    """The ``federation.database.ConnectionScope`` of the web layer: the reads of one request
    share one connection per engine (one pool checkout), given back by
    :func:`close_request_connections` when the request ends."""
    if not has_request_context():
        return None
    opened: dict[int, Connection] = g.setdefault("_read_connections", {})
    return opened


def close_request_connections(_: BaseException | None = None) -> None:
    """``teardown_request`` of every app: the request's read connections go back to the pool."""
    for connection in g.pop("_read_connections", {}).values():
        connection.close()


def get_store(app: Flask) -> KeyValueStore:
    store: KeyValueStore = app.extensions["store"]
    return store


def add_readiness_check(app: Flask, name: str, check: ReadinessCheck) -> None:
    app.extensions["readiness"][name] = check


def saml_metadata_response(xml: str) -> Response:
    """Our metadata document; built once per process, cacheable by partners for an hour."""
    return Response(
        xml, mimetype="application/samlmetadata+xml", headers={"Cache-Control": "public, max-age=3600"}
    )


def allow_form_action(*urls: str) -> None:
    """Let this response's page post a form to another service (SAML HTTP-POST binding)."""
    g.form_action = [*getattr(g, "form_action", []), *urls]


def allow_frames(*sources: str) -> None:
    """Let this response's page load these origins in frames (front-channel Single Logout)."""
    g.frame_src = [*getattr(g, "frame_src", []), *sources]


def allow_framing_by(*sources: str) -> None:
    """Let these origins frame this response (a front-channel logout answered in a frame)."""
    g.frame_ancestors = [*getattr(g, "frame_ancestors", []), *sources]


def _readyz() -> tuple[dict[str, Any], int]:
    from flask import current_app

    results: dict[str, str] = {}
    for name, check in current_app.extensions["readiness"].items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure makes the service not ready; the reason is logged
            log.warning("readiness %s failed: %s", name, exc)
            results[name] = "indisponible"
    ready = all(v == "ok" for v in results.values())
    return {"status": "ok" if ready else "indisponible", "checks": results}, 200 if ready else 503


def _install_security_headers(app: Flask, settings: Settings) -> None:
    def headers(response: Response) -> Response:
        form_action = " ".join(["'self'", *getattr(g, "form_action", [])])
        frame_src = " ".join(getattr(g, "frame_src", [])) or "'none'"
        frame_ancestors = " ".join(getattr(g, "frame_ancestors", [])) or "'none'"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"font-src 'self'; connect-src 'self'; form-action {form_action}; frame-src {frame_src}; "
            f"frame-ancestors {frame_ancestors}; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        # same-origin: Flask-WTF checks the Referer of HTTPS form posts; SAML URLs never leak outside.
        response.headers["Referrer-Policy"] = "same-origin"
        if frame_ancestors == "'none'":
            response.headers["X-Frame-Options"] = "DENY"  # frame-ancestors says more where it is set
        response.headers.setdefault("Cache-Control", "no-store")
        if not settings.is_demo:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response

    app.after_request(headers)


def set_restart_url(url: str) -> None:
    """Where « Recommencer » leads from an error page of this request (default: the home page)."""
    g.restart_url = url


def restart_at_portal(portal_url: str | None) -> None:
    """An error page of this request leads back to « Services en ligne », when it is configured."""
    if portal_url:
        g.restart_url = portal_url
        g.restart_action = "Revenir aux Services en ligne"


# « Réessayez dans quelques minutes »: what a 503 (store or database outage) tells clients too.
RETRY_AFTER_SECONDS = 60


def render_error(code: str, status: int) -> tuple[str, int, dict[str, str]]:
    """The French page of ``code``; the code itself is for the log, never shown to the parent."""
    page = ERROR_PAGES.get(code, ERROR_PAGES["erreur"])
    if g.get("restart_action"):
        page = replace(page, action=g.restart_action)
    restart = g.get("restart_url") or "/"
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
    return render_template("error.html", page=page, restart_url=restart), status, headers


def _overload_page(detail: str) -> Response:
    log_refusal("service_surcharge", detail)
    count_unavailable(current_service(), "overload")
    html, status, headers = render_error("service_surcharge", 503)
    return Response(html, status, headers)  # admission sets its own Retry-After


def render_login_refusal(
    template: str, exc: InvalidCredentials | TooManyAttempts, **context: Any
) -> tuple[str, int, dict[str, str]]:
    """A login page (ÉduConnect's, ATEN's) again with its one message; braked, it says how long
    to wait (``Retry-After`` too). The same page for an existing and an unknown identifier."""
    if isinstance(exc, TooManyAttempts):
        page = render_template(template, error=exc.code, wait_minutes=exc.retry_after_minutes, **context)
        return page, exc.http_status, {"Retry-After": str(exc.retry_after_seconds)}
    return render_template(template, error=exc.code, **context), exc.http_status, {}


def log_refusal(code: str, detail: object) -> None:
    """One line per refused request, with the id its page shows as « Référence »."""
    log.warning("refused: request_id=%s %s %s", g.get("request_id", "-"), code, detail)


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(FederationError)
    def federation_error(exc: FederationError) -> tuple[str, int, dict[str, str]]:
        log_refusal(exc.code, exc.detail)
        if isinstance(exc, StoreUnavailable):
            count_unavailable(current_service(), "store")
        return render_error(exc.code, exc.http_status)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int, dict[str, str]]:
        log_refusal("formulaire_expire", exc.description)
        return render_error("formulaire_expire", 400)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int, dict[str, str]]:
        original = getattr(exc, "original_exception", None)
        if isinstance(original, StoreUnavailable):  # raised while saving the session
            log_refusal(original.code, original.detail)
            count_unavailable(current_service(), "store")
            return render_error(original.code, original.http_status)
        status = exc.code or 500
        # 405: a POST-only address opened again (Back, a bookmark): for the parent, no such page.
        return render_error("page_introuvable" if status in (404, 405) else "erreur", status)

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def database_error(exc: Exception) -> tuple[str, int, dict[str, str]]:
        if is_database_outage(exc):
            # The database is down, starting, stopping, read-only or went away under a pooled
            # connection: the transaction was rolled back, the pool reconnects by itself (a lost
            # connection invalidates the pool); the parent may simply retry. Monitoring counts
            # these 503 lines, not an application error.
            log_refusal("service_indisponible", f"database unavailable: {getattr(exc, 'orig', exc)}")
            count_unavailable(current_service(), "database")
            return render_error("service_indisponible", 503)
        count_backend_error(current_service(), "database")
        return unexpected(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int, dict[str, str]]:
        log.exception("unexpected error: request_id=%s", g.get("request_id", "-"))
        return render_error("erreur", 500)


def _install_request_log(app: Flask) -> None:
    """JSON access log with a request id (also sent back as X-Request-Id)."""

    @app.before_request
    def start() -> None:
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
        g.started = time.perf_counter()
        sessionless = ("healthz", "readyz", "metrics", "layout.static")
        if g.get("store_unavailable") and request.endpoint not in sessionless:
            raise StoreUnavailable("session store unreachable")

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.request_id
        seconds = time.perf_counter() - g.started
        observe_request(current_service(), request.endpoint, request.method, response.status_code, seconds)
        log.info(
            json.dumps(
                {
                    "request_id": g.request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round(seconds * 1000, 1),
                }
            )
        )
        return response
