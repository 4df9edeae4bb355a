"""Codes and tokens in the ephemeral store: short-lived, single use, revoked on reuse."""

from __future__ import annotations

from typing import Any

import pytest

from federation.stores.embedded_store import EmbeddedStore
from idp.oidc.grant_store import (
    ACCESS_TOKEN_TTL_SECONDS,
    CODE_PREFIX,
    CODE_TTL_SECONDS,
    NONCE_TTL_SECONDS,
    REVOKED_BEFORE_PREFIX,
    CodeReused,
    GrantStore,
    IssuedCode,
    IssuedToken,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    return EmbeddedStore(tmp_path / "store.sqlite3", clock=clock)


@pytest.fixture
def grants(store, clock):
    return GrantStore(store, clock)


CODE = IssuedCode(
    client_id="ent",
    redirect_uri="https://ent.test/cb",
    scope="openid",
    account_id="a1",
    auth_time=1_800_000_000,
    nonce="n",
    code_challenge="c" * 43,
    code_challenge_method="S256",
)


def _token(clock, **changes) -> IssuedToken:
    fields: dict[str, Any] = {
        "client_id": "ent",
        "account_id": "a1",
        "subject": "s",
        "scope": "openid",
        "auth_time": 1,
        "expires_at": int(clock()) + ACCESS_TOKEN_TTL_SECONDS,
    }
    return IssuedToken(**(fields | changes))


def test_code_is_redeemed_once(grants):
    grants.save_code("le-code", CODE)
    redeemed = grants.redeem_code("le-code")
    assert redeemed is not None and redeemed.client_id == "ent" and redeemed.digest
    with pytest.raises(CodeReused):
        grants.redeem_code("le-code")


def test_code_expires(grants, clock):
    grants.save_code("le-code", CODE)
    clock.now += CODE_TTL_SECONDS + 1
    assert grants.redeem_code("le-code") is None


def test_store_keeps_a_hash_of_the_code_not_the_code(grants, store):
    grants.save_code("le-code-secret", CODE)
    assert store.get(CODE_PREFIX + "le-code-secret") is None


def test_oidcc_codereuse_30seconds(grants, clock):
    """The suite reuses the code 30 s later: refused, and the token issued from it revoked."""
    grants.save_code("le-code", CODE)
    first = grants.redeem_code("le-code")
    grants.save_token("le-jeton", _token(clock), first.digest)
    assert grants.token("le-jeton") is not None
    clock.now += 30
    with pytest.raises(CodeReused):
        grants.redeem_code("le-code")
    assert grants.token("le-jeton") is None


def test_reuse_racing_the_first_issuance_still_revokes(grants, clock):
    grants.save_code("le-code", CODE)
    first = grants.redeem_code("le-code")
    with pytest.raises(CodeReused):
        grants.redeem_code("le-code")  # arrives before the first request saved its token
    grants.save_token("le-jeton", _token(clock), first.digest)
    assert grants.token("le-jeton") is None


def test_token_expires(grants, clock):
    grants.save_code("le-code", CODE)
    grants.save_token("le-jeton", _token(clock), grants.redeem_code("le-code").digest)
    clock.now += ACCESS_TOKEN_TTL_SECONDS + 1
    assert grants.token("le-jeton") is None


def test_nonce_is_bound_to_the_first_browser_of_each_client(grants, clock):
    assert grants.claim_nonce("ent", "n1", "navigateur-a")
    assert grants.claim_nonce("ent", "n1", "navigateur-a")  # Back, reload, a second tab
    assert not grants.claim_nonce("ent", "n1", "navigateur-b")  # another browser
    assert grants.claim_nonce("autre-ent", "n1", "navigateur-b")  # another client's nonce
    clock.now += NONCE_TTL_SECONDS + 1  # as long as an ID token carrying it is valid
    assert grants.claim_nonce("ent", "n1", "navigateur-b")


def test_client_assertion_id_is_consumed_once(grants):
    assert grants.consume_assertion_id("ent", "jti-1", 60)
    assert not grants.consume_assertion_id("ent", "jti-1", 60)


def _issue(grants, clock, code: str, token: str, **changes) -> None:
    grants.save_code(code, CODE)
    redeemed = grants.redeem_code(code)
    grants.save_token(token, _token(clock, issued_at=clock(), **changes), redeemed.digest)


def test_revoking_an_account_refuses_what_it_was_issued_until_then(grants, clock):
    _issue(grants, clock, "code-1", "jeton-a1")
    _issue(grants, clock, "code-2", "jeton-a2", client_id="autre-ent")
    _issue(grants, clock, "code-3", "jeton-b1", account_id="b2")
    grants.save_code("code-en-attente", CODE)  # issued, not yet redeemed
    clock.now += 1
    grants.revoke_account("a1")
    assert grants.token("jeton-a1") is None and grants.token("jeton-a2") is None
    assert grants.redeem_code("code-en-attente") is None
    assert grants.token("jeton-b1") is not None  # another account
    clock.now += 1
    _issue(grants, clock, "code-4", "jeton-a3")  # issued after the revocation
    assert grants.token("jeton-a3") is not None


def test_a_revocation_wins_a_tie_on_the_clock(grants, clock):
    _issue(grants, clock, "code-1", "jeton-a1")
    grants.revoke_account("a1")  # same instant as the issuance
    assert grants.token("jeton-a1") is None


def test_a_token_recorded_without_its_issuance_time_counts_as_issued_before(grants, clock):
    """A record written before ``issued_at`` existed (a token in flight during an upgrade)."""
    grants.save_code("code-1", CODE)
    grants.save_token("jeton-a1", _token(clock), grants.redeem_code("code-1").digest)
    clock.now += 1
    assert grants.token("jeton-a1") is not None
    grants.revoke_account("a1")
    assert grants.token("jeton-a1") is None


def test_a_revocation_outlives_every_token_it_refuses(grants, clock, store):
    _issue(grants, clock, "code-1", "jeton-a1")
    grants.revoke_account("a1")
    clock.now += ACCESS_TOKEN_TTL_SECONDS - 1
    assert grants.token("jeton-a1") is None  # still refused just before it would have expired
    assert store.get(REVOKED_BEFORE_PREFIX + "a1") is not None
    clock.now += 2
    assert store.get(REVOKED_BEFORE_PREFIX + "a1") is None  # gone with the last token it covered
