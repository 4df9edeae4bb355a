"""A relying party for the tests, doing what the OpenID conformance suite does against an OP.

It builds authorization requests, drives the parent's browser (a Flask test client of the IdP)
through the login page, reads the code from the redirect, calls the token and userinfo endpoints
and verifies ID tokens with the published JWKS — nothing is trusted that the suite would not.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import lxml.html
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.test import TestResponse

from idp.domain.accounts import Account
from tests.flows.saml_steps import PASSWORD

ISSUER = "https://idp.test"
AUTHORIZE = "/oidc/authorize"
TOKEN_URL = f"{ISSUER}/oidc/token"


def json_body(response: TestResponse) -> dict[str, Any]:
    body = response.get_json(silent=True)
    assert isinstance(body, dict), response.get_data(as_text=True)[:300]
    return body


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class AuthorizationRequest:
    params: dict[str, str]
    verifier: str

    @property
    def state(self) -> str:
        return self.params.get("state", "")

    @property
    def nonce(self) -> str | None:
        return self.params.get("nonce")


@dataclass
class Rp:
    op: Flask
    client_id: str
    redirect_uri: str
    auth_method: str = "client_secret_basic"
    secret: str | None = None
    private_key: RSAKey | None = None
    browser: FlaskClient = field(init=False)

    def __post_init__(self) -> None:
        self.browser = self.op.test_client()

    # --- front channel -------------------------------------------------------------------------
    def request(self, **overrides: str | None) -> AuthorizationRequest:
        verifier = secrets.token_urlsafe(48)
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile educonnect",
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return AuthorizationRequest({k: v for k, v in params.items() if v is not None}, verifier)

    def get(self, url: str) -> TestResponse:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == ISSUER, url
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.browser.get(path, base_url=ISSUER)

    def session(self) -> Any:
        """The parent's IdP session, to read or change (``with rp.session() as sess``)."""
        return self.browser.session_transaction(base_url=ISSUER)

    def authorize(self, request: AuthorizationRequest, method: str = "GET") -> TestResponse:
        if method == "POST":
            return self.browser.post(AUTHORIZE, base_url=ISSUER, data=request.params)
        return self.browser.get(f"{AUTHORIZE}?{urlencode(request.params)}", base_url=ISSUER)

    def follow_to_client(self, response: TestResponse, max_hops: int = 8) -> TestResponse:
        """Follow redirects inside the IdP; stop at a page or at a redirect leaving it."""
        for _ in range(max_hops):
            location = response.headers.get("Location")
            if response.status_code not in (302, 303) or not location:
                return response
            target = urljoin(ISSUER + "/", location)
            if not target.startswith(ISSUER + "/"):
                return response
            response = self.get(target)
        raise AssertionError("too many redirects inside the IdP")

    def log_in(self, login_page: TestResponse, account: Account, password: str = PASSWORD) -> TestResponse:
        assert login_page.status_code == 200 and login_page.request.path == "/connexion", login_page.status
        doc = lxml.html.fromstring(login_page.get_data(as_text=True))
        (token,) = doc.xpath('//input[@name="csrf_token"]/@value')
        return self.browser.post(
            "/connexion",
            base_url=ISSUER,
            data={"csrf_token": token, "identifiant": account.identifier, "mot_de_passe": password},
            headers={"Referer": f"{ISSUER}/connexion"},
        )

    def sign_in(self, account: Account, request: AuthorizationRequest | None = None) -> dict[str, str]:
        """Authorization request → login page (unless signed in) → back to the client: the redirect's
        parameters."""
        request = request or self.request()
        response = self.follow_to_client(self.authorize(request))
        if response.status_code == 200 and response.request.path == "/connexion":
            response = self.follow_to_client(self.log_in(response, account))
        return self.callback(response)

    def callback(self, response: TestResponse) -> dict[str, str]:
        assert response.status_code in (302, 303), (
            f"{response.status}: {response.get_data(as_text=True)[:300]}"
        )
        location = response.headers["Location"]
        assert location.split("?")[0].split("#")[0] == self.redirect_uri, location
        parts = urlsplit(location)
        return {k: v[0] for k, v in parse_qs(parts.query or parts.fragment).items()}

    # --- back channel --------------------------------------------------------------------------
    def token_request(
        self, code: str, verifier: str | None, redirect_uri: str | None = None, **extra: str
    ) -> TestResponse:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or self.redirect_uri,
        }
        if verifier is not None:
            data["code_verifier"] = verifier
        headers = {}
        if self.auth_method == "client_secret_basic":
            creds = base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
            headers["Authorization"] = f"Basic {creds}"
        elif self.auth_method == "client_secret_post":
            data.update(client_id=self.client_id, client_secret=self.secret or "")
        elif self.auth_method == "private_key_jwt":
            data.update(
                client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                client_assertion=self.client_assertion(),
            )
        else:
            data["client_id"] = self.client_id
        data.update(extra)
        return self.op.test_client().post("/oidc/token", base_url=ISSUER, data=data, headers=headers)

    def client_assertion(self, **overrides: Any) -> str:
        assert self.private_key is not None
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": TOKEN_URL,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + 120,
        }
        claims.update(overrides)
        return jwt.encode({"alg": "RS256", "kid": self.private_key.kid}, claims, self.private_key)

    def tokens(self, account: Account, **overrides: str | None) -> dict[str, Any]:
        request = self.request(**overrides)
        answer = self.sign_in(account, request)
        response = self.token_request(answer["code"], request.verifier)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = json_body(response)
        body["_request"] = request
        return body

    def userinfo(self, access_token: str, method: str = "GET") -> TestResponse:
        client = self.op.test_client()
        headers = {"Authorization": f"Bearer {access_token}"}
        if method == "POST":
            return client.post("/oidc/userinfo", base_url=ISSUER, headers=headers)
        return client.get("/oidc/userinfo", base_url=ISSUER, headers=headers)

    def jwks(self) -> KeySet:
        jwks = json_body(self.op.test_client().get("/oidc/jwks", base_url=ISSUER))
        return KeySet.import_key_set(jwks)  # type: ignore[arg-type]

    def verify_id_token(
        self, id_token: str, nonce: str | None, algorithms: tuple[str, ...] = ("RS256",)
    ) -> dict:
        token = jwt.decode(id_token, self.jwks(), algorithms=list(algorithms))
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": ISSUER},
            "aud": {"essential": True, "value": self.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
        }
        if nonce:
            options["nonce"] = {"essential": True, "value": nonce}
        registry = jwt.JWTClaimsRegistry(leeway=5, **options)
        registry.validate(token.claims)
        return dict(token.claims) | {"_header": token.header}
