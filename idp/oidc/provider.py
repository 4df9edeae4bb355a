"""ÉduConnect as an OpenID Connect provider: Authlib's server, configured for DESIGN §5 only.

- Authorization code flow only (OIDC Core §3.1); implicit and hybrid response types are not
  registered, so Authlib answers ``unsupported_response_type``.
- PKCE S256 for every client, confidential ones included (RFC 9700 §2.1.1); ``plain`` refused.
- Exact ``redirect_uri`` match (``OidcClient.check_redirect_uri``).
- Codes single use: a second redemption revokes the token issued from the first (``grant_store``).
- ``nonce`` bound to the first browser that presents it: the same browser sending the request again
  gets a fresh code (the RP checks the nonce, OIDC Core §15.5.2), another browser is refused.
- ``id_token_hint`` verified (``idp.oidc.id_token_hint``) and compared with the signed-in parent's
  pairwise ``sub`` (``is_hinted_parent``).
- Client authentication: client_secret_basic, client_secret_post, private_key_jwt (RFC 7523 §2.2,
  decoded with an explicit algorithm list), and ``none`` for public clients (PKCE still required).
- ID tokens signed RS256 (or ES256 per client) with the ``kid`` of the published key.

Built once per process by ``idp.create_app``; views reach it through ``idp.services``. What a
code, a token or the userinfo endpoint says about the parent is read through the IdP's one
``ReleaseReader`` (the same read as a SAML answer), the pairwise ``sub`` created when a client is
first answered.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfoEndpoint
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import request as flask_request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from federation.keys import OIDC_SIGNING_ALGS
from federation.settings import Settings
from federation.stores import KeyValueStore
from idp.domain.accounts import Account
from idp.domain.parent_release import PairwiseSubjects, Release, ReleaseReader, subject_for
from idp.domain.release import ReleasedChild
from idp.oidc.claims import user_claims
from idp.oidc.clients import OidcClient, load_clients
from idp.oidc.discovery import CLIENT_ASSERTION_ALGS, TOKEN_PATH, provider_metadata
from idp.oidc.grant_store import (
    ACCESS_TOKEN_TTL_SECONDS,
    CodeReused,
    GrantStore,
    IssuedCode,
    IssuedToken,
)
from idp.oidc.id_token_hint import InvalidIdTokenHint, hinted_subject
from idp.oidc.keys import SigningKeys, load_signing_keys

ID_TOKEN_TTL_SECONDS = 3600
# A client assertion lives minutes, not hours: its ``jti`` is remembered only that long.
MAX_ASSERTION_LIFETIME_SECONDS = 600
MAX_PARAMETER_LENGTH = 512


@dataclass(frozen=True)
class SignedInParent:
    """The parent whose IdP session answers an authorization request."""

    account_id: str
    auth_time: int
    sid: str | None = None  # of the IdP session (OpenID Connect Front-Channel Logout §3)


@dataclass(frozen=True)
class IdentifiedParent:
    """The parent a code or token stands for, with the pairwise ``sub`` of the client's sector."""

    account: Account
    auth_time: int
    subject: str
    children: tuple[ReleasedChild, ...]  # confirmed only, as for SAML
    sid: str | None = None  # in the ID token: what a logout token names


class OidcProvider:
    """Clients, keys, Authlib's server and the grant store of one IdP process."""

    def __init__(
        self,
        settings: Settings,
        release: ReleaseReader,
        subjects: PairwiseSubjects,
        store: KeyValueStore,
        logout_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = settings.base_url
        self.release = release
        self.subjects = subjects
        self.logout_url = logout_url
        self.clock = clock
        self.leeway = settings.clock_skew_seconds
        self.clients = load_clients(settings.oidc_clients_dir)
        self.keys: SigningKeys = load_signing_keys(settings.certs_dir)
        self.grants = GrantStore(store, clock)
        self.metadata = provider_metadata(self.issuer)
        self.server = AuthorizationServer(self)

    def endpoint(self, path: str) -> str:
        return f"{self.issuer}{path}"

    def client(self, client_id: str | None) -> OidcClient | None:
        return self.clients.get(client_id or "")

    def answered_parent(
        self, account_id: str, auth_time: int, client: OidcClient, sid: str | None = None
    ) -> IdentifiedParent | None:
        """The parent of a code being redeemed, while their account is active. This answers the
        client: its pairwise ``sub`` is created now if the client never had one."""
        release = self._active_release(account_id, client)
        if release is None:
            return None
        return IdentifiedParent(
            release.account, auth_time, subject_for(release, self.subjects), release.children, sid
        )

    def token_parent(self, issued: IssuedToken, client: OidcClient) -> IdentifiedParent | None:
        """The parent of an access token, with the ``sub`` it was issued with (reads only)."""
        release = self._active_release(issued.account_id, client)
        if release is None:
            return None
        return IdentifiedParent(release.account, issued.auth_time, issued.subject, release.children)

    def present_nonce(self, grant: grants.AuthorizationCodeGrant, browser_id: str) -> None:
        """The nonce of a validated authorization request, bound to the first browser that presents
        it (``GrantStore.claim_nonce``); another browser gets ``invalid_request``."""
        data = grant.request.payload.data
        nonce = data.get("nonce")
        if nonce and not self.grants.claim_nonce(grant.client.client_id, nonce, browser_id):
            raise InvalidRequestError(
                "'nonce' already presented by another browser.",
                redirect_uri=grant.redirect_uri,
                state=data.get("state"),
            )

    def is_hinted_parent(self, id_token_hint: str, client: OidcClient, account_id: str) -> bool:
        """Whether ``id_token_hint`` is an ID token of ours, issued to this client, whose pairwise
        ``sub`` is this parent's for the client (OIDC Core §3.1.2.1). Reads only."""
        try:
            subject = hinted_subject(id_token_hint, self.keys.public_keyset, self.issuer, client.client_id)
        except InvalidIdTokenHint:
            return False
        release = self.release.for_audience(account_id, client.sector)
        return release is not None and release.subject == subject

    def _active_release(self, account_id: str, client: OidcClient) -> Release | None:
        release = self.release.for_audience(account_id, client.sector)
        return release if release is not None and release.account.is_active else None

    def claims(self, parent: IdentifiedParent, scope: str) -> dict[str, Any]:
        return user_claims(
            parent.subject,
            parent.account,
            dt.datetime.fromtimestamp(parent.auth_time, dt.UTC),
            set(scope.split()),
            self.logout_url,
            parent.children,
        )


# --- Authorization server -----------------------------------------------------------------------


class AuthorizationServer(FlaskAuthorizationServer):
    def __init__(self, provider: OidcProvider) -> None:
        super().__init__(query_client=provider.client, save_token=self._save_token)
        self.provider = provider
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: secrets.token_urlsafe(32),
                expires_generator=ACCESS_TOKEN_TTL_SECONDS,
            ),
        )
        self.register_grant(
            AuthorizationCodeGrant,
            [AuthorizationRequestRules(), S256CodeChallenge(), EduConnectOpenIDCode(provider)],
        )
        self.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(provider))
        protector = UserInfoProtector()
        protector.register_token_validator(AccessTokenValidator(provider))
        self.register_endpoint(UserInfo(server=self, resource_protector=protector))
        self.register_endpoint(EndSession(provider))

    def _save_token(self, token: dict[str, Any], request: Any) -> None:
        parent: IdentifiedParent = request.user
        code: IssuedCode = request.authorization_code
        issued = IssuedToken(
            client_id=request.client.client_id,
            account_id=parent.account.id,
            subject=parent.subject,
            scope=token.get("scope", ""),
            auth_time=parent.auth_time,
            expires_at=int(self.provider.clock()) + int(token["expires_in"]),
            issued_at=self.provider.clock(),
        )
        self.provider.grants.save_token(token["access_token"], issued, code.digest)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ]

    @property
    def provider(self) -> OidcProvider:
        provider: OidcProvider = self.server.provider
        return provider

    def save_authorization_code(self, code: str, request: Any) -> None:
        parent: SignedInParent = request.user
        data = request.payload.data
        nonce = data.get("nonce") or None  # bound to this browser when presented (present_nonce)
        self.provider.grants.save_code(
            code,
            IssuedCode(
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                account_id=parent.account_id,
                auth_time=parent.auth_time,
                nonce=nonce,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                sid=parent.sid,
            ),
        )

    def query_authorization_code(self, code: str, client: OidcClient) -> IssuedCode | None:
        try:
            issued = self.provider.grants.redeem_code(code)
        except CodeReused:
            return None
        if issued is None or issued.client_id != client.client_id:
            return None
        return issued

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Nothing left: :meth:`GrantStore.redeem_code` deleted it when it was redeemed."""

    def authenticate_user(self, authorization_code: IssuedCode) -> IdentifiedParent | None:
        return self.provider.answered_parent(
            authorization_code.account_id,
            authorization_code.auth_time,
            self.request.client,
            authorization_code.sid,
        )


class AuthorizationRequestRules:
    """Authorization request checks of OIDC Core §3.1.2.1 / §6 that Authlib leaves to us."""

    def __call__(self, grant: grants.AuthorizationCodeGrant) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.validate)

    def validate(self, grant: grants.AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if "request" in data:
            raise RequestNotSupportedError()
        if "request_uri" in data:
            raise RequestURINotSupportedError()
        for name in ("state", "nonce", "login_hint", "code_challenge"):
            if len(data.get(name) or "") > MAX_PARAMETER_LENGTH:
                raise InvalidRequestError(f"'{name}' is too long.")
        max_age = data.get("max_age")
        if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
            raise InvalidRequestError("'max_age' must be a non-negative integer.")


class S256CodeChallenge(CodeChallenge):
    """PKCE for every client (RFC 9700 §2.1.1), S256 only; Authlib's ``required`` covers only
    public clients and allows ``plain``."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant: grants.AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: 'code_challenge' is missing.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: grants.AuthorizationCodeGrant, result: Any) -> None:
        code: IssuedCode = grant.request.authorization_code
        if not code.code_challenge or code.code_challenge_method != "S256":
            if grant.request.form.get("code_verifier"):
                raise InvalidRequestError("'code_verifier' without a 'code_challenge' (RFC 9700 4.8.2).")
            raise InvalidGrantError("The code was issued without PKCE.")
        super().validate_code_verifier(grant, result)


class EduConnectOpenIDCode(OpenIDCode):
    """ID tokens (OIDC Core §2, §3.1.3.6): the claims of the token itself and the pairwise ``sub``;
    the scope claims go to the userinfo endpoint (§5.4)."""

    def __init__(self, provider: OidcProvider) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """Never a replay by itself: the same browser presenting its nonce again (Back, reload, a
        second tab) gets a fresh code; :meth:`OidcProvider.present_nonce`, which knows the
        browser, refuses the nonce to any other."""
        return False

    def get_client_algorithm(self, client: OidcClient) -> str:
        return client.id_token_signed_response_alg

    def resolve_client_private_key(self, client: OidcClient) -> Any:
        return self.provider.keys.for_algorithm(client.id_token_signed_response_alg)

    def get_encode_header(self, client: OidcClient) -> dict[str, str]:
        key = self.resolve_client_private_key(client)
        return {"typ": "JWT", "alg": client.id_token_signed_response_alg, "kid": key.kid}

    def get_client_claims(self, client: OidcClient) -> dict[str, Any]:
        now = int(self.provider.clock())
        return {
            "iss": self.provider.issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_TTL_SECONDS,
        }

    def generate_user_info(self, user: IdentifiedParent, scope: str) -> dict[str, Any]:
        return {"sub": user.subject, "sid": user.sid} if user.sid else {"sub": user.subject}


class PrivateKeyJwt(JWTBearerClientAssertion):
    """``private_key_jwt`` (OIDC Core §9, RFC 7523 §2.2): an assertion signed with a registered key."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, provider: OidcProvider) -> None:
        super().__init__(validate_jti=True, leeway=provider.leeway)
        self.provider = provider

    def get_audiences(self) -> list[str]:
        return [self.provider.endpoint(TOKEN_PATH), self.provider.issuer]

    def resolve_client_public_key(self, client: OidcClient) -> KeySet:
        # ``sub`` names the client before any signature is checked: it may name one without keys.
        if client.token_endpoint_auth_method != self.CLIENT_AUTH_METHOD:
            raise InvalidClientError(description="The client does not use private_key_jwt.")
        return client.public_keys

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(CLIENT_ASSERTION_ALGS))
        except JoseError as exc:
            raise InvalidClientError(description="Invalid client assertion.") from exc
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: Any, jti: str) -> bool:
        remaining = int(claims["exp"]) - int(self.provider.clock())
        if remaining > MAX_ASSERTION_LIFETIME_SECONDS:
            raise InvalidClientError(description="Client assertion lives too long.")
        return self.provider.grants.consume_assertion_id(claims["iss"], str(jti), remaining + self.leeway)


# --- Userinfo (OIDC Core §5.3) ------------------------------------------------------------------


class BearerToken:
    """An access token as Authlib's resource protector wants it (TokenMixin, duck-typed)."""

    def __init__(self, issued: IssuedToken, client: OidcClient, parent: IdentifiedParent, now: float) -> None:
        self.issued, self.client, self.parent, self._now = issued, client, parent, now
        self.scope = issued.scope

    def get_scope(self) -> str:
        return self.issued.scope

    def get_expires_in(self) -> int:
        return max(0, self.issued.expires_at - int(self._now))

    def is_expired(self) -> bool:
        return self.issued.expires_at <= self._now

    def is_revoked(self) -> bool:
        return False  # a revoked token is deleted from the store

    def check_client(self, client: OidcClient) -> bool:
        return client.client_id == self.client.client_id

    def get_user(self) -> IdentifiedParent:
        return self.parent

    def get_client(self) -> OidcClient:
        return self.client


class AccessTokenValidator(BearerTokenValidator):
    def __init__(self, provider: OidcProvider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> BearerToken | None:
        issued = self.provider.grants.token(token_string)
        if issued is None:
            return None
        client = self.provider.client(issued.client_id)
        if client is None:
            return None
        parent = self.provider.token_parent(issued, client)
        if parent is None:
            return None
        return BearerToken(issued, client, parent, self.provider.clock())


class UserInfoProtector(ResourceProtector):
    """Bearer token from the ``Authorization`` header, or the form body of a POST (RFC 6750 §2.2)."""

    def parse_request_authorization(self, request: Any) -> Any:
        if "Authorization" not in request.headers and flask_request.method == "POST":
            token = flask_request.form.get("access_token")
            if token:
                return self.get_token_validator("bearer"), token
        return super().parse_request_authorization(request)


class UserInfo(UserInfoEndpoint):
    def generate_user_info(self, user: IdentifiedParent, scope: str) -> dict[str, Any]:
        provider: OidcProvider = self.server.provider
        return provider.claims(user, scope)

    def get_issuer(self) -> str:
        issuer: str = self.server.provider.issuer
        return issuer


# --- RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) --------------------------------


class EndSession(EndSessionEndpoint):
    def __init__(self, provider: OidcProvider) -> None:
        super().__init__()
        self.provider = provider

    def get_server_jwks(self) -> KeySet:
        return self.provider.keys.public_keyset

    def get_algorithms(self) -> list[str]:
        return list(OIDC_SIGNING_ALGS)

    def end_session(self, end_session_request: Any) -> None:
        """Nothing here: the view ends the session and every participant's (idp.single_logout)."""
