"""The ENT portal as an OpenID Connect relying party of ÉduConnect (``protocol = "oidc"``).

The two portal buttons start the authorization code flow (OIDC Core §3.1) with PKCE S256
(RFC 7636), a ``state`` and a ``nonce`` kept in this browser's session; the second button adds
``idp_hint=aten`` (the parcours de transition). At the callback the code is exchanged with
client_secret_basic, the ID token verified with joserfc (RS256 only: signature from the
provider's JWKS, ``iss``, ``aud``, ``exp``, ``iat``, ``nonce``, ``at_hash``), and the userinfo
claims read. The parent then has the same session as after the SAML ACS: ``session["parent"]``
with the attributes under their SAML names (DESIGN §4), FrEduVecteur a list.

The provider's metadata and JWKS are fetched at first use and kept for the process; an ID token
signed with a key not in the cached JWKS triggers one refresh (key rollover).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from flask import Blueprint, Flask, current_app, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from federation.errors import ConfigurationError, FederationError, ProtocolError, SessionExpired
from federation.sessions import rotate_session
from federation.settings import Settings

CALLBACK_PATH = "/oidc/retour"
DISCOVERY_PATH = "/.well-known/openid-configuration"
DEMO_SECRET_FILE = "ent-oidc-client.secret"  # noqa: S105 - a file name
SCOPE = "openid profile educonnect"
ATEN_HINT = "aten"
PENDING_KEY = "oidc_pending"
ID_TOKEN_KEY = "oidc_id_token"  # noqa: S105 - a session key
MAX_PENDING = 5  # a few tabs at once; older requests are forgotten
HTTP_TIMEOUT_SECONDS = 5
MAX_RESPONSE_BYTES = 256 * 1024
EXTENSION = "ent_oidc"

# Userinfo claims → the SAML attribute names the ENT already works with (DESIGN §4).
CLAIM_ATTRIBUTES = {
    "family_name": "sn",
    "given_name": "givenName",
    "FrEduCtId": "FrEduCtId",
    "FrEduCtPersonAffiliation": "FrEduCtPersonAffiliation",
    "FrEduVecteur": "FrEduVecteur",
    "FrEduCtDateConnexion": "FrEduCtDateConnexion",
    "FrEduUrlRetour": "FrEduUrlRetour",
}


class ProviderUnavailable(FederationError):
    """ÉduConnect cannot be reached from the ENT's server (back channel)."""

    code = "service_indisponible"
    http_status = 503


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except ValueError as exc:
            raise ProtocolError(f"provider answered non-JSON ({self.status})") from exc
        if not isinstance(value, dict):
            raise ProtocolError("provider answered a JSON value that is not an object")
        return value


class HttpClient(Protocol):
    """The back channel to the provider (urllib in production, the IdP's test client in tests)."""

    def get(self, url: str, headers: Mapping[str, str]) -> HttpAnswer: ...

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> HttpAnswer: ...


def _web_url(url: str) -> str:
    """Only http(s) URLs go to urllib (no ``file:`` or custom schemes from a discovery document)."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise ProtocolError(f"refused URL scheme: {url}")
    return url


class UrllibHttpClient:
    def get(self, url: str, headers: Mapping[str, str]) -> HttpAnswer:
        return self._send(urllib.request.Request(_web_url(url), headers=dict(headers)))  # noqa: S310 - http(s) only, _web_url

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> HttpAnswer:
        body = urlencode(data).encode()
        heads = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return self._send(urllib.request.Request(_web_url(url), data=body, headers=heads, method="POST"))  # noqa: S310 - http(s) only, _web_url

    def _send(self, req: urllib.request.Request) -> HttpAnswer:
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - a Request built above
                return HttpAnswer(response.status, response.read(MAX_RESPONSE_BYTES))
        except urllib.error.HTTPError as exc:
            return HttpAnswer(exc.code, exc.read(MAX_RESPONSE_BYTES))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ProviderUnavailable(f"{req.full_url}: {exc}") from exc


@dataclass(frozen=True)
class RelyingPartyConfig:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str
    id_token_alg: str = "RS256"  # noqa: S105 - an algorithm name
    leeway_seconds: int = 180
    pending_ttl_seconds: int = 1800

    @classmethod
    def from_settings(cls, settings: Settings, env: Mapping[str, str] | None = None) -> RelyingPartyConfig:
        """The ``[oidc]`` table of ent.toml; the secret from ENT_OIDC_CLIENT_SECRET, the table, or in
        the demo the file « demo --protocol oidc » wrote under var/."""
        env = os.environ if env is None else env
        table = settings.extra.get("oidc", {})
        issuer = str(table.get("issuer", "")).rstrip("/")
        client_id = str(table.get("client_id", ""))
        if not issuer or not client_id:
            raise ConfigurationError(
                "ent.oidc.issuer et ent.oidc.client_id sont nécessaires avec protocol = oidc"
            )
        if not settings.is_demo and not issuer.startswith("https://"):
            raise ConfigurationError(f"ent.oidc.issuer: HTTPS obligatoire hors mode demo ({issuer})")
        secret = env.get("ENT_OIDC_CLIENT_SECRET") or table.get("client_secret")
        demo_file = settings.state_dir / DEMO_SECRET_FILE
        if not secret and settings.is_demo and demo_file.exists():
            secret = demo_file.read_text().strip()
        if not secret:
            raise ConfigurationError(
                "ent.oidc.client_secret (ou ENT_OIDC_CLIENT_SECRET) manquant ; "
                "en démonstration : « educonnect-bridge demo --protocol oidc »"
            )
        alg = str(table.get("id_token_signed_response_alg", "RS256"))
        if alg not in ("RS256", "ES256"):
            raise ConfigurationError(f"ent.oidc.id_token_signed_response_alg: RS256 ou ES256, pas {alg}")
        return cls(
            issuer=issuer,
            client_id=client_id,
            client_secret=str(secret),
            redirect_uri=settings.base_url + CALLBACK_PATH,
            post_logout_redirect_uri=settings.base_url + "/",
            id_token_alg=alg,
            leeway_seconds=settings.clock_skew_seconds,
            pending_ttl_seconds=settings.pending_request_ttl_seconds,
        )


@dataclass(frozen=True)
class PendingAuthorization:
    """What this browser's session keeps between the redirect and the callback."""

    state: str
    nonce: str
    code_verifier: str
    issued_at: int


@dataclass(frozen=True)
class AuthenticatedParent:
    subject: str
    given_name: str
    family_name: str
    attributes: dict[str, list[str]]
    id_token: str


class OidcRelyingParty:
    def __init__(self, config: RelyingPartyConfig, http: HttpClient, clock: Callable[[], float] = time.time):
        self.config = config
        self.http = http
        self.clock = clock
        self._metadata: dict[str, Any] | None = None
        self._jwks: KeySet | None = None

    # --- the provider ----------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            answer = self.http.get(self.config.issuer + DISCOVERY_PATH, {"Accept": "application/json"})
            if answer.status != 200:
                raise ProviderUnavailable(f"discovery answered {answer.status}")
            document = answer.json()
            # OpenID Connect Discovery §4.3: the document's issuer is exactly the one we trust.
            if document.get("issuer") != self.config.issuer:
                raise ProtocolError(
                    f"discovery issuer {document.get('issuer')!r} is not {self.config.issuer}"
                )
            self._metadata = document
        return self._metadata

    def _endpoint(self, name: str) -> str:
        url = self.metadata().get(name)
        if not isinstance(url, str) or not url.startswith(self.config.issuer + "/"):
            raise ProtocolError(f"{name} missing or outside the issuer")
        return url

    def keys(self, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            answer = self.http.get(self._endpoint("jwks_uri"), {"Accept": "application/json"})
            if answer.status != 200:
                raise ProviderUnavailable(f"jwks answered {answer.status}")
            try:
                self._jwks = KeySet.import_key_set(answer.json())  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError) as exc:
                raise ProtocolError(f"unreadable JWKS: {exc}") from exc
        return self._jwks

    # --- the flow --------------------------------------------------------------------------------
    def new_authorization(self) -> PendingAuthorization:
        return PendingAuthorization(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            code_verifier=secrets.token_urlsafe(48),
            issued_at=int(self.clock()),
        )

    def authorization_url(self, pending: PendingAuthorization, idp_hint: str | None = None) -> str:
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": SCOPE,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": _s256(pending.code_verifier),
            "code_challenge_method": "S256",
            "ui_locales": "fr-FR",
        }
        if idp_hint:
            params["idp_hint"] = idp_hint
        return f"{self._endpoint('authorization_endpoint')}?{urlencode(params)}"

    def complete(self, args: Mapping[str, str], pending: PendingAuthorization) -> AuthenticatedParent:
        """The callback: the code exchanged, the ID token verified, the userinfo claims read."""
        if args.get("iss") is not None and args.get("iss") != self.config.issuer:
            raise ProtocolError(f"authorization response from {args.get('iss')!r} (RFC 9207)")
        if args.get("error"):
            raise ProtocolError(
                f"authorization refused: {args.get('error')} {args.get('error_description', '')}"
            )
        code = args.get("code")
        if not code:
            raise ProtocolError("authorization response without code")
        tokens = self._exchange(code, pending)
        claims = self._verify_id_token(tokens["id_token"], pending.nonce, tokens["access_token"])
        info = self._userinfo(tokens["access_token"])
        # OIDC Core §5.3.2: the userinfo sub must be the ID token's, or the answer is not for us.
        if info.get("sub") != claims["sub"]:
            raise ProtocolError("userinfo sub differs from the ID token's")
        attributes = {
            name: [str(v) for v in value] if isinstance(value, list) else [str(value)]
            for claim, name in CLAIM_ATTRIBUTES.items()
            if (value := info.get(claim)) is not None
        }
        return AuthenticatedParent(
            subject=claims["sub"],
            given_name=str(info.get("given_name", "")),
            family_name=str(info.get("family_name", "")),
            attributes=attributes,
            id_token=tokens["id_token"],
        )

    def end_session_url(self, id_token: str) -> str | None:
        endpoint = self.metadata().get("end_session_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(self.config.issuer + "/"):
            return None
        params = {
            "id_token_hint": id_token,
            "client_id": self.config.client_id,
            "post_logout_redirect_uri": self.config.post_logout_redirect_uri,
        }
        return f"{endpoint}?{urlencode(params)}"

    def _exchange(self, code: str, pending: PendingAuthorization) -> dict[str, Any]:
        credentials = f"{_form_encode(self.config.client_id)}:{_form_encode(self.config.client_secret)}"
        answer = self.http.post(
            self._endpoint("token_endpoint"),
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.config.redirect_uri,
                "code_verifier": pending.code_verifier,
            },
            {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()},
        )
        tokens = answer.json()
        if answer.status != 200:
            raise ProtocolError(
                f"token endpoint refused: {tokens.get('error')} {tokens.get('error_description')}"
            )
        if str(tokens.get("token_type", "")).lower() != "bearer":
            raise ProtocolError("token_type is not Bearer")
        if not isinstance(tokens.get("id_token"), str) or not isinstance(tokens.get("access_token"), str):
            raise ProtocolError("token response without id_token or access_token")
        return tokens

    def _verify_id_token(self, id_token: str, nonce: str, access_token: str) -> dict[str, Any]:
        """OIDC Core §3.1.3.7, with the one algorithm we expect (never the token's own choice)."""
        algorithms = [self.config.id_token_alg]
        try:
            try:
                token = jwt.decode(id_token, self.keys(), algorithms=algorithms)
            except InvalidKeyIdError:
                token = jwt.decode(id_token, self.keys(refresh=True), algorithms=algorithms)
            jwt.JWTClaimsRegistry(
                now=int(self.clock()),
                leeway=self.config.leeway_seconds,
                iss={"essential": True, "value": self.config.issuer},
                aud={"essential": True, "value": self.config.client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except JoseError as exc:
            raise ProtocolError(f"ID token refused: {exc}") from exc
        claims = dict(token.claims)
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.config.client_id:
            raise ProtocolError("ID token for several audiences without our azp")
        expected_at_hash = _half_hash(access_token)
        if "at_hash" in claims and not hmac.compare_digest(str(claims["at_hash"]), expected_at_hash):
            raise ProtocolError("at_hash does not match the access token")
        return claims

    def _userinfo(self, access_token: str) -> dict[str, Any]:
        answer = self.http.get(
            self._endpoint("userinfo_endpoint"),
            {"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if answer.status != 200:
            raise ProtocolError(f"userinfo answered {answer.status}")
        return answer.json()


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _half_hash(value: str) -> str:
    """``at_hash`` for RS256/ES256 (OIDC Core §3.1.3.6): left half of the SHA-256, base64url."""
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()[:16]).rstrip(b"=").decode()


def _form_encode(value: str) -> str:
    # RFC 6749 §2.3.1: client_secret_basic credentials are URL-encoded before base64.
    return quote(value, safe="")


# --- Flask side ----------------------------------------------------------------------------------

bp = Blueprint("ent_oidc", __name__)


def install_relying_party(app: Flask, settings: Settings, http: HttpClient | None = None) -> None:
    """Read the ``[oidc]`` configuration now (a missing secret stops the start)."""
    app.extensions[EXTENSION] = OidcRelyingParty(
        RelyingPartyConfig.from_settings(settings), http or UrllibHttpClient()
    )
    app.register_blueprint(bp)


def relying_party() -> OidcRelyingParty | None:
    rp: OidcRelyingParty | None = current_app.extensions.get(EXTENSION)
    return rp


def start_login(idp_hint: str | None) -> ResponseReturnValue:
    """A portal button: remember state, nonce and verifier, then off to ÉduConnect."""
    rp = _required()
    pending = rp.new_authorization()
    outstanding = dict(session.get(PENDING_KEY, {}))
    outstanding[pending.state] = asdict(pending)
    newest = sorted(outstanding.items(), key=lambda kv: kv[1]["issued_at"])[-MAX_PENDING:]
    session[PENDING_KEY] = dict(newest)
    return redirect(rp.authorization_url(pending, idp_hint))


@bp.get(CALLBACK_PATH)
def callback() -> ResponseReturnValue:
    rp = _required()
    outstanding = dict(session.get(PENDING_KEY, {}))
    entry = outstanding.pop(request.args.get("state", ""), None)
    session[PENDING_KEY] = outstanding
    if entry is None or entry["issued_at"] + rp.config.pending_ttl_seconds < rp.clock():
        raise SessionExpired("no pending authorization request with this state in this browser")
    parent = rp.complete(request.args, PendingAuthorization(**entry))
    session.clear()
    rotate_session(session)
    session["parent"] = {
        "subject": parent.subject,
        "given_name": parent.given_name,
        "family_name": parent.family_name,
        "attributes": parent.attributes,
    }
    session[ID_TOKEN_KEY] = parent.id_token
    return redirect(url_for("ent.landing"))


def logout() -> ResponseReturnValue:
    """Local logout, then RP-initiated logout at ÉduConnect, back to the portal."""
    id_token = session.get(ID_TOKEN_KEY)
    session.clear()
    end_session = _required().end_session_url(id_token) if id_token else None
    return redirect(end_session or url_for("ent.portal"))


def _required() -> OidcRelyingParty:
    rp = relying_party()
    if rp is None:
        raise ConfigurationError("protocol = oidc sans relying party installée")
    return rp
