"""The relying party's rules, without I/O: what to send, and what to accept back.

The two portal buttons start the authorization code flow (OIDC Core §3.1) with PKCE S256
(RFC 7636), a ``state`` and a ``nonce`` kept in this browser's session; the second button adds
``idp_hint=aten`` (the parcours de transition). At the callback the code is exchanged with
client_secret_basic, the ID token verified with joserfc (the one algorithm configured: signature
from the provider's JWKS, ``iss``, ``aud``, ``exp``, ``iat``, ``nonce``, ``at_hash``), and the
userinfo claims read under their SAML attribute names (DESIGN §4), FrEduVecteur a list. Each
function here takes the provider's answers as values and the time as a number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from federation.errors import ClockSkew, ProtocolError
from sp_ent.errors import UnknownSigningKey
from sp_ent.oidc.settings import RelyingPartyConfig

DISCOVERY_PATH = "/.well-known/openid-configuration"
SCOPE = "openid profile educonnect"
ATEN_HINT = "aten"

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


@dataclass(frozen=True)
class PendingAuthorization:
    """What this browser's session keeps between the redirect and the callback (by ``state``)."""

    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str


@dataclass(frozen=True)
class AuthenticatedParent:
    subject: str
    given_name: str
    family_name: str
    attributes: dict[str, list[str]]
    id_token: str
    sid: str = ""  # the provider's session (Front-/Back-Channel Logout): what a logout names


def new_authorization(random_token: Callable[[int], str] = secrets.token_urlsafe) -> PendingAuthorization:
    return PendingAuthorization(
        state=random_token(24), nonce=random_token(24), code_verifier=random_token(48)
    )


def checked_discovery(document: dict[str, Any], issuer: str) -> dict[str, Any]:
    # OpenID Connect Discovery §4.3: the document's issuer is exactly the one we trust.
    if document.get("issuer") != issuer:
        raise ProtocolError(f"discovery issuer {document.get('issuer')!r} is not {issuer}")
    return document


def endpoint(metadata: Mapping[str, Any], name: str, issuer: str) -> str:
    """An endpoint of the discovery document; only under the issuer (no redirect elsewhere)."""
    url = metadata.get(name)
    if not isinstance(url, str) or not url.startswith(issuer + "/"):
        raise ProtocolError(f"{name} missing or outside the issuer")
    return url


def authorization_url(
    config: RelyingPartyConfig, authorize: str, pending: PendingAuthorization, idp_hint: str | None
) -> str:
    params = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": config.redirect_uri,
        "scope": SCOPE,
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": _s256(pending.code_verifier),
        "code_challenge_method": "S256",
        "ui_locales": "fr-FR",
    }
    if idp_hint:
        params["idp_hint"] = idp_hint
    return f"{authorize}?{urlencode(params)}"


def authorization_code(args: Mapping[str, str], issuer: str) -> str:
    """The code of the authorization response, from our issuer (RFC 9207), or ProtocolError."""
    if args.get("iss") is not None and args.get("iss") != issuer:
        raise ProtocolError(f"authorization response from {args.get('iss')!r} (RFC 9207)")
    if args.get("error"):
        raise ProtocolError(f"authorization refused: {args.get('error')} {args.get('error_description', '')}")
    code = args.get("code")
    if not code:
        raise ProtocolError("authorization response without code")
    return code


def token_request(
    config: RelyingPartyConfig, code: str, pending: PendingAuthorization
) -> tuple[dict[str, str], dict[str, str]]:
    """(form, headers) of the code exchange, with client_secret_basic (RFC 6749 §2.3.1)."""
    credentials = f"{_form_encode(config.client_id)}:{_form_encode(config.client_secret)}"
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": config.redirect_uri,
        "code_verifier": pending.code_verifier,
    }
    return form, {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def checked_tokens(status: int, answer: Mapping[str, Any]) -> Tokens:
    if status != 200:
        raise ProtocolError(
            f"token endpoint refused: {answer.get('error')} {answer.get('error_description')}"
        )
    if str(answer.get("token_type", "")).lower() != "bearer":
        raise ProtocolError("token_type is not Bearer")
    id_token, access_token = answer.get("id_token"), answer.get("access_token")
    if not isinstance(id_token, str) or not isinstance(access_token, str):
        raise ProtocolError("token response without id_token or access_token")
    return Tokens(id_token=id_token, access_token=access_token)


def verified_id_token_claims(
    config: RelyingPartyConfig, tokens: Tokens, keys: KeySet, nonce: str, now: float
) -> dict[str, Any]:
    """OIDC Core §3.1.3.7, with the one algorithm we expect (never the token's own choice).

    :class:`UnknownSigningKey` when the token's ``kid`` is not in ``keys``: the caller may
    refresh the provider's JWKS once (key rollover) and try again.
    """
    try:
        token = jwt.decode(tokens.id_token, keys, algorithms=[config.id_token_alg])
        jwt.JWTClaimsRegistry(
            now=int(now),
            leeway=config.leeway_seconds,
            iss={"essential": True, "value": config.issuer},
            aud={"essential": True, "value": config.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except InvalidKeyIdError as exc:
        raise UnknownSigningKey(f"ID token key not in the JWKS: {exc}") from exc
    except ClaimError as exc:
        if isinstance(exc, ExpiredTokenError) or exc.claim in ("iat", "nbf"):
            raise _clock_skew(token.claims, now, config.leeway_seconds, exc) from exc
        raise ProtocolError(f"ID token refused: {exc}") from exc
    except JoseError as exc:
        raise ProtocolError(f"ID token refused: {exc}") from exc
    claims = dict(token.claims)
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != config.client_id:
        raise ProtocolError("ID token for several audiences without our azp")
    if "at_hash" in claims and not hmac.compare_digest(
        str(claims["at_hash"]), _half_hash(tokens.access_token)
    ):
        raise ProtocolError("at_hash does not match the access token")
    return claims


def _clock_skew(claims: Mapping[str, Any], now: float, leeway: int, exc: ClaimError) -> ClockSkew:
    """A signed ID token dated outside our window: ``iat`` minus our time is the measured offset."""
    issued = claims.get("iat")
    offset = float(issued) - now if isinstance(issued, int | float) and not isinstance(issued, bool) else None
    shown = "unknown" if offset is None else f"{offset:+.0f}"
    return ClockSkew(f"clock skew: offset_seconds={shown} allowed_seconds={leeway} (ID token {exc})", offset)


def authenticated_parent(
    claims: Mapping[str, Any], userinfo: Mapping[str, Any], id_token: str
) -> AuthenticatedParent:
    # OIDC Core §5.3.2: the userinfo sub must be the ID token's, or the answer is not for us.
    if userinfo.get("sub") != claims["sub"]:
        raise ProtocolError("userinfo sub differs from the ID token's")
    attributes = {
        name: [str(v) for v in value] if isinstance(value, list) else [str(value)]
        for claim, name in CLAIM_ATTRIBUTES.items()
        if (value := userinfo.get(claim)) is not None
    }
    return AuthenticatedParent(
        subject=claims["sub"],
        given_name=str(userinfo.get("given_name", "")),
        family_name=str(userinfo.get("family_name", "")),
        attributes=attributes,
        id_token=id_token,
        sid=str(claims.get("sid") or ""),
    )


def verified_logout_token_claims(
    config: RelyingPartyConfig, logout_token: str, keys: KeySet, now: float
) -> dict[str, Any]:
    """OpenID Connect Back-Channel Logout 1.0 §2.6: signature with our one algorithm, ``iss``,
    ``aud``, a recent ``iat``, the back-channel ``events`` member, ``sid`` or ``sub``, no
    ``nonce``. The caller consumes ``jti`` once."""
    try:
        token = jwt.decode(logout_token, keys, algorithms=[config.id_token_alg])
        jwt.JWTClaimsRegistry(
            now=int(now),
            leeway=config.leeway_seconds,
            iss={"essential": True, "value": config.issuer},
            aud={"essential": True, "value": config.client_id},
            iat={"essential": True},
            jti={"essential": True},
            events={"essential": True},
        ).validate(token.claims)
    except InvalidKeyIdError as exc:
        raise UnknownSigningKey(f"logout token key not in the JWKS: {exc}") from exc
    except JoseError as exc:
        raise ProtocolError(f"logout token refused: {exc}") from exc
    claims = dict(token.claims)
    events = claims["events"]
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise ProtocolError("logout token without the back-channel logout event")
    if "nonce" in claims:
        raise ProtocolError("logout token with a nonce (Back-Channel Logout §2.4)")
    if (
        not isinstance(claims["iat"], int)
        or claims["iat"] < now - MAX_LOGOUT_TOKEN_AGE_SECONDS - config.leeway_seconds
    ):
        raise ProtocolError("logout token too old")
    if not claims.get("sid") and not claims.get("sub"):
        raise ProtocolError("logout token naming neither sid nor sub")
    return claims


def end_session_url(config: RelyingPartyConfig, metadata: Mapping[str, Any], id_token: str) -> str | None:
    """RP-initiated logout at the provider, when its discovery document offers it."""
    endpoint_url = metadata.get("end_session_endpoint")
    if not isinstance(endpoint_url, str) or not endpoint_url.startswith(config.issuer + "/"):
        return None
    params = {
        "id_token_hint": id_token,
        "client_id": config.client_id,
        "post_logout_redirect_uri": config.post_logout_redirect_uri,
    }
    return f"{endpoint_url}?{urlencode(params)}"


BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_LOGOUT_TOKEN_AGE_SECONDS = 300


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _half_hash(value: str) -> str:
    """``at_hash`` for RS256/ES256 (OIDC Core §3.1.3.6): left half of the SHA-256, base64url."""
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()[:16]).rstrip(b"=").decode()


def _form_encode(value: str) -> str:
    # RFC 6749 §2.3.1: client_secret_basic credentials are URL-encoded before base64.
    return quote(value, safe="")
