"""OpenID Connect endpoints of ÉduConnect: discovery, JWKS, authorization, token, userinfo, logout.

The authorization endpoint joins the IdP's own pages: without a session (or with ``prompt=login``
or an exceeded ``max_age``) it keeps the request as the parent's next step
(``IdpSession.resume_after_login``) and sends them to the login page, or with ``idp_hint=aten``
to the parcours de transition; both end with ``Continuation.next_url``, which brings the parent
back here. Steps due before any answer (« Ajout d'élèves ») come first too. An ``id_token_hint``
that does not name the signed-in parent counts as ``prompt=login`` (``login_required`` with
``prompt=none``). The nonce of each request is bound to this browser (``present_nonce``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oidc.core.errors import InteractionRequiredError, LoginRequiredError
from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, validate_csrf
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import MultiDict
from wtforms import ValidationError

from federation.errors import ProtocolError, UnknownPartner
from federation.sessions import session_id
from federation.web import allow_form_action, csrf
from idp.domain.accounts import Account
from idp.domain.authentication import MAX_IDENTIFIER_LENGTH
from idp.logout_pages import progress_page
from idp.oidc.clients import OidcClient
from idp.oidc.discovery import (
    AUTHORIZATION_PATH,
    DISCOVERY_PATH,
    END_SESSION_PATH,
    JWKS_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)
from idp.oidc.provider import OidcProvider, SignedInParent
from idp.services import services
from idp.session_state import IdpSession, signed_in_account
from idp.single_logout import Initiator

bp = Blueprint("oidc", __name__, template_folder="templates")

TRANSITION_PATH = "/transition/aten"
ATEN_HINT = "aten"
# Added to the resumed authorization request: when the parent was sent to log in (signed with
# the app's secret key, bound to the request's parameters), so that ``prompt=login`` and
# ``max_age`` are satisfied by that login instead of asking again forever.
LOGIN_REQUESTED_PARAM = "connexion_demandee"
_LOGIN_SALT = "oidc-login-requested"
# What a URL may contain to stand as a CSP source expression (CSP3 §2.3.1 path-part, less the
# ``;`` and ``,`` that would end the directive or the policy).
_CSP_SAFE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+=:@%/-]*)?")


@bp.before_app_request
def allow_forms_to_lead_to_the_pending_client() -> None:
    """Let this page's forms lead to the client whose authorization request awaits the parent.

    Browsers apply ``form-action`` to every redirect that follows a form submission (CSP3
    §6.3.3.2): « Se connecter », « Ajout d'élèves » or « Plus tard » answer with a redirect to
    the authorization endpoint, which redirects to the client's ``redirect_uri`` on another
    origin. Exactly that registered URI is allowed (never a wildcard), and only while this
    browser's session holds an authorization request of that client.
    """
    target = _pending_redirect_uri(IdpSession.load(session).next_url)
    if target is not None:
        allow_form_action(target)


def _pending_redirect_uri(next_url: str | None) -> str | None:
    """The registered ``redirect_uri`` of the authorization request resumed after login, as a
    CSP source (scheme, host, port and path); None without one, or for an unregistered URI."""
    if not next_url or urlsplit(next_url).path != AUTHORIZATION_PATH:
        return None
    query = parse_qs(urlsplit(next_url).query)
    client = services().oidc.client(_single(query, "client_id"))
    redirect_uri = _single(query, "redirect_uri")
    if client is None or redirect_uri is None or not client.check_redirect_uri(redirect_uri):
        return None
    return csp_source(redirect_uri)


def csp_source(url: str) -> str | None:
    parts = urlsplit(url)
    source = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return source if _CSP_SAFE_URL.fullmatch(source) else None


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name, [])
    return values[0] if len(values) == 1 else None


@bp.get(DISCOVERY_PATH)
def discovery() -> ResponseReturnValue:
    return _public_json(services().oidc.metadata)


@bp.get(JWKS_PATH)
def jwks() -> ResponseReturnValue:
    return _public_json(services().oidc.keys.jwks)


@bp.route(AUTHORIZATION_PATH, methods=["GET", "POST"])
@csrf.exempt  # OIDC Core §3.1.2.1: an RP may POST the request (cross-site, so without our token)
def authorize() -> ResponseReturnValue:
    svc, state = services(), IdpSession.load(session)
    provider = svc.oidc
    account = signed_in_account(state, svc.accounts)
    auth_time = state.auth_time
    parent = SignedInParent(account.id, int(auth_time.timestamp())) if account and auth_time else None
    try:
        grant = provider.server.get_consent_grant(end_user=parent)
        provider.present_nonce(grant, state.ensure_browser_id())
    except OAuth2Error as error:
        return _error_response(provider, error)
    state.save(session)  # the browser id the nonce is bound to
    data = request.values
    prompts = set(data.get("prompt", "").split())
    if (
        account is None
        or auth_time is None
        or _needs_fresh_login(provider, grant.client, account, auth_time, prompts)
    ):
        if "none" in prompts:
            refusal = LoginRequiredError(redirect_uri=grant.redirect_uri, state=data.get("state"))
            return _error_response(provider, refusal)
        return _send_to_login(provider, state, data)
    step = svc.continuation.pending_step(account, state, svc.clock())
    if step is None:
        # The client becomes a participant of the session: its ID token carries the ``sid``.
        sid = svc.logout.join_client(state, session_id(session), grant.client.client_id)
        state.save(session)  # every step passed: not asked again in this session
        answered = SignedInParent(account.id, int(auth_time.timestamp()), sid)
        response = provider.server.create_authorization_response(grant=grant, grant_user=answered)
        return _with_issuer(provider, response)
    if "none" in prompts:
        refusal = InteractionRequiredError(redirect_uri=grant.redirect_uri, state=data.get("state"))
        return _error_response(provider, refusal)
    state.resume_after_login(_resume_path(data))
    state.save(session)
    return redirect(step)


@bp.post(TOKEN_PATH)
@csrf.exempt  # back-channel call, authenticated as a client rather than by a browser session
def token() -> ResponseReturnValue:
    response: Response = services().oidc.server.create_token_response()
    return response


@bp.route(USERINFO_PATH, methods=["GET", "POST"])
@csrf.exempt  # bearer token, no cookie
def userinfo() -> ResponseReturnValue:
    response: Response = services().oidc.server.create_endpoint_response("userinfo")
    return response


@bp.route(END_SESSION_PATH, methods=["GET", "POST"])
@csrf.exempt  # RPs may POST (RP-Initiated Logout §2); our own confirmation form is checked below
def end_session() -> ResponseReturnValue:
    """RP-initiated logout: redirect only to a registered ``post_logout_redirect_uri`` (§3)."""
    provider = services().oidc
    try:
        logout = provider.server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        raise ProtocolError(f"end_session refused: {error.error} {error.description}") from error
    requested = request.values.get("post_logout_redirect_uri")
    if requested and (logout.client is None or requested not in logout.client.post_logout_redirect_uris):
        raise ProtocolError(f"post_logout_redirect_uri {requested!r} not registered")
    if logout.needs_confirmation:
        # Without a valid id_token_hint the request may come from anywhere: the parent confirms.
        if request.method != "POST" or "confirmer" not in request.form:
            # The confirmation's answer redirects to the registered post_logout_redirect_uri.
            target = csp_source(requested) if requested else None
            if target is not None:
                allow_form_action(target)
            return render_template("oidc_logout_confirm.html", fields=_logout_fields())
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from exc
    # Authlib's answer is the redirect to the registered post_logout_redirect_uri (with state);
    # it goes out once the session and every other participant's have ended.
    response = provider.server.create_endpoint_response("end_session", logout)
    redirect_url = response.headers.get("Location") if response is not None else None
    svc = services()
    state, sid = IdpSession.load(session), session_id(session)
    svc.logout.end(session, sid, sid, state)
    client_id = logout.client.client_id if logout.client is not None else None
    return progress_page(svc.logout.start(state, Initiator(redirect_url=redirect_url, peer=client_id)))


def _needs_fresh_login(
    provider: OidcProvider, client: OidcClient, account: Account, auth_time: dt.datetime, prompts: set[str]
) -> bool:
    """``prompt=login``, ``max_age``, and an ``id_token_hint`` that names another parent than the
    one signed in or is not a valid ID token of ours for this client (OIDC Core §3.1.2.1), unless
    the parent just logged in for this very request: whoever proved who they are then is
    answered, and the client compares the ``sub``."""
    data = request.values
    requested_at = _login_requested_at(data)
    if requested_at is not None and auth_time.timestamp() >= requested_at:
        return False
    if "login" in prompts:
        return True
    hint = data.get("id_token_hint")
    if hint is not None and not provider.is_hinted_parent(hint, client, account.id):
        return True
    max_age = data.get("max_age")
    return max_age is not None and provider.clock() - auth_time.timestamp() > int(max_age)


def _send_to_login(
    provider: OidcProvider, state: IdpSession, data: MultiDict[str, str]
) -> ResponseReturnValue:
    state.pending_saml = None  # the newest request of this browser is the one answered
    state.resume_after_login(_resume_path(data, login_requested_at=provider.clock()))
    if data.get("login_hint"):
        # OIDC Core §3.1.2.1: a hint only, shown as the field's value (escaped, capped like it).
        state.login_hint = data["login_hint"].strip()[:MAX_IDENTIFIER_LENGTH]
    state.save(session)
    if data.get("idp_hint") == ATEN_HINT:
        return redirect(TRANSITION_PATH)
    return redirect(url_for("idp.login"))


def _resume_path(data: MultiDict[str, str], login_requested_at: float | None = None) -> str:
    pairs = [(k, v) for k, v in data.items(multi=True) if k != LOGIN_REQUESTED_PARAM]
    if login_requested_at is not None:
        marker = {"t": login_requested_at, "q": _parameters_digest(pairs)}
        pairs.append((LOGIN_REQUESTED_PARAM, _serializer().dumps(marker)))
    return url_for(".authorize") + "?" + urlencode(pairs)


def _login_requested_at(data: MultiDict[str, str]) -> float | None:
    token = data.get(LOGIN_REQUESTED_PARAM)
    if not token:
        return None
    try:
        marker = _serializer().loads(token)
    except BadSignature:
        return None
    pairs = [(k, v) for k, v in data.items(multi=True) if k != LOGIN_REQUESTED_PARAM]
    if not isinstance(marker, dict) or marker.get("q") != _parameters_digest(pairs):
        return None
    requested_at = marker.get("t")
    return float(requested_at) if isinstance(requested_at, int | float) else None


def _parameters_digest(pairs: list[tuple[str, str]]) -> str:
    return hashlib.sha256(urlencode(sorted(pairs)).encode()).hexdigest()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_LOGIN_SALT)  # type: ignore[arg-type]


def _error_response(provider: OidcProvider, error: OAuth2Error) -> ResponseReturnValue:
    """Back to the client only when its redirect_uri is registered (RFC 6749 §4.1.2.1); otherwise
    a page for the parent, never a redirect."""
    if error.redirect_uri:
        response_types = set(request.values.get("response_type", "").split())
        if error.error == "unsupported_response_type" and response_types & {"token", "id_token"}:
            # Implicit and hybrid requests expect their answer in the fragment (OIDC Core §3.2.2.6).
            error.redirect_fragment = True
        response: Response = provider.server.handle_error_response(None, error)
        return _with_issuer(provider, response)
    detail = f"{error.error}: {error.description}"
    if isinstance(error, InvalidClientError):
        raise UnknownPartner(detail)
    raise ProtocolError(detail)


def _with_issuer(provider: OidcProvider, response: Response) -> Response:
    """``iss`` in every authorization response (RFC 9207 §2): mix-up defence for the RP."""
    location = response.headers.get("Location")
    if location:
        fragment = "#" in location
        response.headers["Location"] = add_params_to_uri(location, {"iss": provider.issuer}, fragment)
    return response


def _logout_fields() -> dict[str, str]:
    names = ("client_id", "post_logout_redirect_uri", "state", "ui_locales")
    return {name: request.values[name] for name in names if request.values.get(name)}


def _public_json(document: dict[str, Any]) -> ResponseReturnValue:
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
