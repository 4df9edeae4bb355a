"""``id_token_hint`` on the authorization endpoint (OpenID Connect Core §3.1.2.1).

The hint is an ID token we issued to the requesting client: our signature (a key of our JWKS,
current, next or previous), our ``iss`` and that client in ``aud``. Its ``sub`` is pairwise per
client sector (``idp.domain.parent_release.subject_for``), so the caller compares it with the
signed-in parent's subject for that client.

An expired hint is accepted: Core §3.1.2.1 wants "an ID Token previously issued", and an RP sends
the one it holds, often past its ``exp`` (one hour) when the parent comes back later; the hint only
names a parent, it authenticates nobody. Authlib's RP-Initiated Logout endpoint decides the same.
"""

from __future__ import annotations

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from federation.keys import OIDC_SIGNING_ALGS

# An ID token of ours is about 1 KiB; anything much larger is not one (checked before decoding).
MAX_ID_TOKEN_HINT_LENGTH = 8192


class InvalidIdTokenHint(Exception):
    """Not an ID token we issued to this client: not a JWT, another signature, ``iss`` or ``aud``."""


def hinted_subject(hint: str, keys: KeySet, issuer: str, client_id: str) -> str:
    """The ``sub`` of ``hint`` once it is checked to be our ID token for ``client_id``."""
    if len(hint) > MAX_ID_TOKEN_HINT_LENGTH:
        raise InvalidIdTokenHint("id_token_hint too long")
    try:
        token = jwt.decode(hint, keys, algorithms=list(OIDC_SIGNING_ALGS))
    except (JoseError, ValueError, TypeError) as exc:  # joserfc raises ValueError for a non-JWT
        raise InvalidIdTokenHint(f"id_token_hint not verified: {exc}") from exc
    claims = token.claims
    if claims.get("iss") != issuer:
        raise InvalidIdTokenHint(f"id_token_hint issued by {claims.get('iss')!r}")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if client_id not in audiences:
        raise InvalidIdTokenHint(f"id_token_hint issued to {audience!r}, not to {client_id!r}")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidIdTokenHint("id_token_hint without sub")
    return subject
