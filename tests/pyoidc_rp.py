"""An independent OpenID Connect relying party for interop tests: pyoidc (``oic``, its own JOSE code
on pyjwkest), as an ENT on another stack would use it.

It knows ÉduConnect only from its issuer URL: discovery (``/.well-known/openid-configuration``)
and the JWKS it names, both fetched by pyoidc itself over HTTP. It is registered with the
documented command (``educonnect-bridge oidc client add``), whose printed secret is all the
operator hands over. A parent's browser is a ``requests`` session that follows the IdP's
redirects and fills its login form, and stops at the RP's ``redirect_uri`` (no server there: the
RP reads the code from the URL, as its callback would).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import requests
from oic import rndstr
from oic.oic import Client
from oic.oic.message import AuthorizationResponse, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from oic.utils.settings import OicClientSettings

ROOT = Path(__file__).resolve().parents[1]
REDIRECT_URI = "https://rp-pyoidc.test/oidc/retour"
SCOPES = ["openid", "profile", "educonnect"]


@dataclass(frozen=True)
class Registration:
    """What the operator hands the RP: its client_id, how it authenticates, its ID token alg."""

    client_id: str
    auth_method: str = "client_secret_basic"
    id_token_alg: str = "RS256"
    secret: str = ""


def register_client(env: Mapping[str, str], wanted: Registration) -> Registration:
    """``educonnect-bridge oidc client add`` as the README shows it; the secret is the one printed."""
    command = ["oidc", "client", "add", wanted.client_id, "--redirect-uri", REDIRECT_URI]
    command += ["--auth-method", wanted.auth_method, "--id-token-alg", wanted.id_token_alg]
    added = subprocess.run(
        [sys.executable, "-m", "educonnect_bridge", *command],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    (line,) = [line for line in added.stdout.splitlines() if line.startswith("client_secret")]
    return replace(wanted, secret=line.rsplit(" : ", 1)[1].strip())


def discovered_client(issuer: str, registration: Registration) -> Client:
    """A pyoidc Client configured from discovery only, plus what registration handed over."""
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD, settings=OicClientSettings())
    client.provider_config(issuer)  # discovery; the JWKS goes into the key jar, fetched on use
    client.store_registration_info(
        RegistrationResponse(
            client_id=registration.client_id,
            client_secret=registration.secret,
            redirect_uris=[REDIRECT_URI],
            token_endpoint_auth_method=registration.auth_method,
            id_token_signed_response_alg=registration.id_token_alg,
        )
    )
    client.config["code_challenge"] = {"method": "S256", "length": 64}
    return client


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    state: str
    nonce: str
    code_verifier: str
    request_args: dict[str, Any]


def start_authorization(client: Client) -> AuthorizationStart:
    """pyoidc's authorization request: code flow, nonce, PKCE S256 (our OP requires it)."""
    state, nonce = rndstr(), rndstr()
    pkce, verifier = client.add_code_challenge()
    request_args = {
        "response_type": "code",
        "scope": SCOPES,
        "state": state,
        "nonce": nonce,
        "redirect_uri": REDIRECT_URI,
        **pkce,
    }
    request = client.construct_AuthorizationRequest(request_args=request_args)
    return AuthorizationStart(
        request.request(client.authorization_endpoint), state, nonce, verifier, request_args
    )


def sign_in_with_browser(url: str, identifier: str, password: str) -> str:
    """The parent's browser from the authorization URL to the redirect back to the RP."""
    browser = requests.Session()
    response = browser.get(url, allow_redirects=False, timeout=10)
    for _ in range(10):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(REDIRECT_URI):
                return location
            response = browser.get(location, allow_redirects=False, timeout=10)
            continue
        assert response.status_code == 200, response.text[:300]
        (form,) = lxml.html.fromstring(response.text).xpath("//form[.//input[@name='identifiant']]")
        data = {i.get("name"): i.get("value", "") for i in form.xpath(".//input") if i.get("name")}
        data.update(identifiant=identifier, mot_de_passe=password)
        target = urljoin(response.url, form.get("action") or response.url)
        response = browser.post(
            target, data=data, headers={"Referer": response.url}, allow_redirects=False, timeout=10
        )
    raise AssertionError(f"never redirected to {REDIRECT_URI}")


def authorization_response(client: Client, location: str) -> AuthorizationResponse:
    """The RP's callback: pyoidc parses and checks the redirect (state known to it)."""
    answer = client.parse_response(AuthorizationResponse, info=urlsplit(location).query, sformat="urlencoded")
    assert isinstance(answer, AuthorizationResponse), answer.to_dict()
    return answer
