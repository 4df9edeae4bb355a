"""Authorization codes, access tokens, nonces and assertion IDs in the ephemeral store (DESIGN §3).

Nothing of this goes to SQL: every value has a TTL and one-time values use ``add`` (``SET NX``) or
``pop`` (``GETDEL``). Keys hold a SHA-256 of the code or token, never the value itself, so a dump
of Redis gives nothing an attacker could present.

A code is redeemed once (RFC 6749 §4.1.2, RFC 9700 §4.2.1): the first redemption marks it used and
deletes it; a second one finds the mark, revokes the access token issued from it and fails.

A new password ends what the old one opened (issue 18): :meth:`GrantStore.revoke_account` records
the moment under the account, and every code or access token of that account issued until then
is refused. One key per account, living as long as the longest-lived token: nothing to
enumerate, nothing left behind.
This provider issues no refresh token (``grant_types_supported`` is ``authorization_code`` only):
a client that wants more after ten minutes sends the parent through the authorization endpoint,
where the ended sessions and the new password apply.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from federation.stores import KeyValueStore, claim_for

CODE_PREFIX = "oidc:code:"
CODE_USED_PREFIX = "oidc:code-used:"
CODE_TOKEN_PREFIX = "oidc:code-token:"  # noqa: S105 - a key prefix
TOKEN_PREFIX = "oidc:token:"  # noqa: S105 - a key prefix
REVOKED_BEFORE_PREFIX = "oidc:revoked-before:"  # + account id: codes and tokens issued until then
NONCE_SCOPE = "oidc-nonce"  # under federation.stores.PRESENTED_PREFIX
ASSERTION_PREFIX = "oidc:assertion:"

# RFC 6749 §4.1.2 recommends 10 minutes at most; a browser redirect and a back-channel call take
# seconds.
CODE_TTL_SECONDS = 60
ACCESS_TOKEN_TTL_SECONDS = 600
# A nonce is remembered as long as an ID token carrying it is valid (OIDC Core §15.5.2).
NONCE_TTL_SECONDS = 3600

_USED = b"used"
_REVOKED = b"revoked"


class CodeReused(Exception):
    """The code was presented before: the token issued from it is revoked (RFC 6749 §10.5)."""


@dataclass(frozen=True)
class IssuedCode:
    """What an authorization code stands for (Authlib's AuthorizationCodeMixin, duck-typed)."""

    client_id: str
    redirect_uri: str
    scope: str
    account_id: str
    auth_time: int
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    sid: str | None = None  # the IdP session's ``sid``, put in the ID token (Front-Channel Logout §3)
    issued_at: float = 0.0  # stamped by GrantStore.save_code
    digest: str = ""

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return ["pwd"]


@dataclass(frozen=True)
class IssuedToken:
    """An access token's record: who, for which client, which scope, until when."""

    client_id: str
    account_id: str
    subject: str
    scope: str
    auth_time: int
    expires_at: int
    issued_at: float = 0.0  # a record written before this field existed counts as issued long ago


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class GrantStore:
    def __init__(self, store: KeyValueStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def save_code(self, code: str, issued: IssuedCode) -> None:
        record = {k: v for k, v in asdict(issued).items() if k != "digest"}
        record["issued_at"] = self._clock()
        self._store.set(CODE_PREFIX + digest(code), json.dumps(record).encode(), CODE_TTL_SECONDS)

    def redeem_code(self, code: str) -> IssuedCode | None:
        """The code's record, once; None when unknown, expired or revoked with its account's
        grants; :class:`CodeReused` the second time.

        The used mark is taken first with ``add``: of two concurrent redemptions exactly one wins,
        and the other revokes what the winner obtains.
        """
        key = digest(code)
        if not self._store.add(CODE_USED_PREFIX + key, _USED, ACCESS_TOKEN_TTL_SECONDS):
            self._revoke_token_of(key)
            raise CodeReused(key)
        raw = self._store.pop(CODE_PREFIX + key)
        if raw is None:
            return None
        issued = IssuedCode(**json.loads(raw), digest=key)
        return None if self._is_revoked(issued.account_id, issued.issued_at) else issued

    def save_token(self, access_token: str, issued: IssuedToken, code_digest: str) -> None:
        token_key = digest(access_token)
        ttl = max(1, issued.expires_at - int(self._clock()))
        self._store.set(TOKEN_PREFIX + token_key, json.dumps(asdict(issued)).encode(), ttl)
        self._store.set(CODE_TOKEN_PREFIX + code_digest, token_key.encode(), ACCESS_TOKEN_TTL_SECONDS)
        # A reuse may have raced this issuance: it marked the code revoked before the link existed.
        if self._store.get(CODE_USED_PREFIX + code_digest) == _REVOKED:
            self._store.delete(TOKEN_PREFIX + token_key)

    def token(self, access_token: str) -> IssuedToken | None:
        raw = self._store.get(TOKEN_PREFIX + digest(access_token))
        if raw is None:
            return None
        issued = IssuedToken(**json.loads(raw))
        if issued.expires_at <= self._clock() or self._is_revoked(issued.account_id, issued.issued_at):
            return None
        return issued

    def revoke_account(self, account_id: str) -> None:
        """Every code and access token of the account issued until now is refused from now on.

        Kept as long as a token lives (codes live less): anything issued before is expired by then.
        A tie on the clock counts as before: the revocation wins."""
        self._store.set(
            REVOKED_BEFORE_PREFIX + account_id, repr(self._clock()).encode(), ACCESS_TOKEN_TTL_SECONDS
        )

    def _is_revoked(self, account_id: str, issued_at: float) -> bool:
        raw = self._store.get(REVOKED_BEFORE_PREFIX + account_id)
        return raw is not None and issued_at <= float(raw)

    def _revoke_token_of(self, code_digest: str) -> None:
        self._store.set(CODE_USED_PREFIX + code_digest, _REVOKED, ACCESS_TOKEN_TTL_SECONDS)
        token_key = self._store.pop(CODE_TOKEN_PREFIX + code_digest)
        if token_key is not None:
            self._store.delete(TOKEN_PREFIX + token_key.decode())

    def claim_nonce(self, client_id: str, nonce: str, browser_id: str) -> bool:
        """Bind this client's nonce to the first browser that presents it: True for that browser,
        also when it presents it again (Back, reload, a second tab); False for another browser.

        OIDC Core §3.1.2.1 and §15.5.2 leave the nonce check to the client, which compares the ID
        token's nonce with the one of its own session: a fresh code for the same nonce in the
        same browser is what it expects. Another browser presenting that nonce replays a request
        it did not make (a captured URL), and is refused."""
        scope = f"{NONCE_SCOPE}:{client_id}"
        return claim_for(self._store, scope, digest(nonce), browser_id, NONCE_TTL_SECONDS)

    def consume_assertion_id(self, client_id: str, jti: str, ttl_seconds: int) -> bool:
        """A client assertion's ``jti`` is accepted once while the assertion is valid (RFC 7523 §3)."""
        return self._store.add(f"{ASSERTION_PREFIX}{client_id}:{digest(jti)}", b"1", max(1, ttl_seconds))
