"""Untimed browser steps that prepare the timed operations (sessions, fresh SAML messages).

Everything here goes through the real services over HTTP, like a browser would: the ENT signs
the AuthnRequests, the IdP answers them, and the load process later replays only the step
being measured.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from bench.loopback_http import Connection, Reply, hidden_field, local_target

IDP_COOKIE = "idp_session"
ENT_COOKIE = "ent_session"


class StepFailed(Exception):
    pass


def _expect(reply: Reply, status: int, what: str) -> Reply:
    if reply.status != status:
        excerpt = reply.body[:300].decode("utf-8", "replace")
        raise StepFailed(f"{what}: HTTP {reply.status}, expected {status} {reply.location} {excerpt}")
    return reply


def _cookie(reply: Reply, name: str) -> str:
    value = reply.cookie(name)
    if not value:
        raise StepFailed(f"no {name} cookie set")
    return f"{name}={value}"


def ent_authn_request(ent: Connection) -> tuple[str, str]:
    """A fresh signed AuthnRequest: (the ENT session cookie holding it, its IdP path and query)."""
    reply = _expect(ent.request("GET", "/connexion/educonnect"), 302, "ENT /connexion/educonnect")
    return _cookie(reply, ENT_COOKIE), local_target(reply.location)


def login_form(idp: Connection) -> tuple[str, str]:
    """A new IdP session with its login form: (cookie, CSRF token)."""
    reply = _expect(idp.request("GET", "/connexion"), 200, "IdP GET /connexion")
    return _cookie(reply, IDP_COOKIE), hidden_field(reply.body, "csrf_token")


def login_body(csrf_token: str, identifier: str, password: str) -> str:
    return urlencode({"csrf_token": csrf_token, "identifiant": identifier, "mot_de_passe": password})


def signed_in_idp_session(idp: Connection, identifier: str, password: str) -> str:
    """The cookie of an IdP session where this parent has signed in."""
    cookie, csrf_token = login_form(idp)
    body = login_body(csrf_token, identifier, password).encode()
    reply = _expect(idp.request("POST", "/connexion", body, cookie), 302, "IdP POST /connexion")
    return _cookie(reply, IDP_COOKIE)


def saml_post_body(idp: Connection, idp_cookie: str, sso_path: str) -> str:
    """The IdP's answer to one AuthnRequest, as the form body the browser posts to the ACS."""
    page = _expect(idp.request("GET", sso_path, cookie=idp_cookie), 200, "IdP /saml/sso").body
    fields = {"SAMLResponse": hidden_field(page, "SAMLResponse")}
    if b'name="RelayState"' in page:
        fields["RelayState"] = hidden_field(page, "RelayState")
    return urlencode(fields)


def oidc_code(idp: Connection, idp_cookie: str, client_id: str, redirect_uri: str) -> tuple[str, str]:
    """A fresh authorization code (PKCE S256) for this signed-in IdP session: (code, verifier)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid profile educonnect",
            "state": secrets.token_urlsafe(12),
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    reply = idp.request("GET", f"/oidc/authorize?{query}", cookie=idp_cookie)
    _expect(reply, 302, "IdP /oidc/authorize")
    if not reply.location.startswith(redirect_uri + "?"):
        raise StepFailed(f"IdP /oidc/authorize: redirected to {reply.location[:120]}")
    codes = parse_qs(urlsplit(reply.location).query).get("code")
    if not codes:
        raise StepFailed(f"IdP /oidc/authorize: no code in {reply.location[:120]}")
    return codes[0], verifier
