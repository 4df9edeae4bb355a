"""What ÉduConnect tells an OpenID Connect relying party about a parent (DESIGN §4), by scope.

``profile`` gives the standard ``given_name`` / ``family_name`` (OIDC Core §5.4); the dedicated
``educonnect`` scope gives the ÉduConnect attributes under their SAML names, as the SAML IdP
releases them (``idp.domain.release``: confirmed children only). ``FrEduVecteur`` is always an
array; the others are strings, or arrays in the rare case the parent has several values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from idp.domain.accounts import Account
from idp.domain.release import ReleasedChild, released_attributes

PROFILE_SCOPE = "profile"
EDUCONNECT_SCOPE = "educonnect"
PROFILE_CLAIMS = ("given_name", "family_name")
EDUCONNECT_CLAIMS = (
    "FrEduCtId",
    "FrEduCtPersonAffiliation",
    "FrEduVecteur",
    "FrEduCtDateConnexion",
    "FrEduUrlRetour",
)
ARRAY_CLAIMS = frozenset({"FrEduVecteur"})
# Claims of the ID token itself (OIDC Core §2), for the discovery document.
ID_TOKEN_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr")


def user_claims(
    subject: str,
    account: Account,
    auth_time: dt.datetime,
    scopes: set[str],
    logout_url: str,
    children: Sequence[ReleasedChild] = (),
) -> dict[str, Any]:
    """``children``: the confirmed ones only, as for SAML."""
    claims: dict[str, Any] = {"sub": subject}
    if PROFILE_SCOPE in scopes:
        claims["given_name"] = account.given_name
        claims["family_name"] = account.family_name
    if EDUCONNECT_SCOPE in scopes:
        released = released_attributes(account, auth_time, logout_url, children)
        for name in EDUCONNECT_CLAIMS:
            values = released.get(name)
            if values is None:
                continue
            claims[name] = list(values) if name in ARRAY_CLAIMS or len(values) != 1 else values[0]
    return claims
