"""The OpenID Provider Metadata (OpenID Connect Discovery 1.0 §3), built once per process.

It states only what the provider does: code flow, S256, pairwise subjects, RS256/ES256, the
three client authentication methods, query response mode, no request objects.
"""

from __future__ import annotations

from typing import Any

from federation.keys import OIDC_SIGNING_ALGS
from idp.oidc.claims import EDUCONNECT_CLAIMS, ID_TOKEN_CLAIMS, PROFILE_CLAIMS
from idp.oidc.clients import AUTH_METHODS, SCOPES

DISCOVERY_PATH = "/.well-known/openid-configuration"
AUTHORIZATION_PATH = "/oidc/authorize"
TOKEN_PATH = "/oidc/token"  # noqa: S105 - a path
USERINFO_PATH = "/oidc/userinfo"
JWKS_PATH = "/oidc/jwks"
END_SESSION_PATH = "/oidc/logout"
CLIENT_ASSERTION_ALGS = ("RS256", "ES256", "PS256")


def provider_metadata(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZATION_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "userinfo_endpoint": issuer + USERINFO_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "end_session_endpoint": issuer + END_SESSION_PATH,
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": list(OIDC_SIGNING_ALGS),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(dict.fromkeys([*ID_TOKEN_CLAIMS, *PROFILE_CLAIMS, *EDUCONNECT_CLAIMS])),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "authorization_response_iss_parameter_supported": True,
        "prompt_values_supported": ["none", "login"],
        "ui_locales_supported": ["fr-FR"],
        "claims_locales_supported": ["fr-FR"],
        "display_values_supported": ["page"],
        # OpenID Connect Front-Channel Logout 1.0 §3 and Back-Channel Logout 1.0 §2.1: ``sid`` in
        # every ID token, the logout of one session as well as of the parent.
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
