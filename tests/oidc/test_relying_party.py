"""The ENT's ID token and callback checks (OIDC Core §3.1.3.7), against a scripted provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from federation.errors import ClockSkew, ConfigurationError, ProtocolError
from federation.settings import build_settings
from sp_ent.oidc.core import PendingAuthorization
from sp_ent.oidc.http_client import HttpAnswer
from sp_ent.oidc.relying_party import OidcRelyingParty
from sp_ent.oidc.settings import RelyingPartyConfig

ISSUER = "https://idp.test"
CLIENT = "ent-portail"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class ScriptedProvider:
    """Discovery, JWKS, token and userinfo answers; the ID token's claims and key are set per test."""

    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, auto_kid=True))
    published: list[Any] = field(default_factory=list)
    claims: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    userinfo: dict[str, Any] = field(default_factory=dict)
    issuer_in_discovery: str = ISSUER
    id_token: str | None = None
    jwks_fetches: int = 0

    def __post_init__(self) -> None:
        self.published = [self.key]

    def get(self, url: str, headers) -> HttpAnswer:
        if url == f"{ISSUER}/.well-known/openid-configuration":
            document = {
                "issuer": self.issuer_in_discovery,
                "authorization_endpoint": f"{ISSUER}/oidc/authorize",
                "token_endpoint": f"{ISSUER}/oidc/token",
                "userinfo_endpoint": f"{ISSUER}/oidc/userinfo",
                "jwks_uri": f"{ISSUER}/oidc/jwks",
                "end_session_endpoint": f"{ISSUER}/oidc/logout",
            }
            return HttpAnswer(200, json.dumps(document).encode())
        if url == f"{ISSUER}/oidc/jwks":
            self.jwks_fetches += 1
            return HttpAnswer(200, json.dumps(KeySet(self.published).as_dict(private=False)).encode())
        if url == f"{ISSUER}/oidc/userinfo":
            assert headers["Authorization"] == "Bearer AT"
            return HttpAnswer(200, json.dumps(self.userinfo).encode())
        raise AssertionError(url)

    def post(self, url: str, data, headers) -> HttpAnswer:
        assert url == f"{ISSUER}/oidc/token" and data["code_verifier"] == "v" * 43
        assert headers["Authorization"].startswith("Basic ")
        token = self.id_token or jwt.encode(
            {"alg": "RS256", "kid": self.key.kid} | self.header, self.claims, self.key
        )
        return HttpAnswer(
            200, json.dumps({"token_type": "Bearer", "access_token": "AT", "id_token": token}).encode()
        )


def at_hash(token: str) -> str:
    return b64(hashlib.sha256(token.encode()).digest()[:16])


@pytest.fixture
def provider() -> ScriptedProvider:
    now = int(time.time())
    scripted = ScriptedProvider()
    scripted.claims = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "sujet-1",
        "iat": now,
        "exp": now + 300,
        "nonce": "le-nonce",
        "at_hash": at_hash("AT"),
    }
    scripted.userinfo = {
        "sub": "sujet-1",
        "given_name": "Claire",
        "family_name": "Martin",
        "FrEduCtId": "abc",
        "FrEduVecteur": ["1|MARTIN|Claire|E1|0860001J"],
        "FrEduCtPersonAffiliation": "resp1d",
    }
    return scripted


CONFIG = RelyingPartyConfig(
    issuer=ISSUER,
    client_id=CLIENT,
    client_secret="secret",
    redirect_uri="https://ent.test/oidc/retour",
    post_logout_redirect_uri="https://ent.test/",
    leeway_seconds=10,
)
PENDING = PendingAuthorization(state="st", nonce="le-nonce", code_verifier="v" * 43)


def complete(provider: ScriptedProvider, **args: str):
    rp = OidcRelyingParty(CONFIG, provider)
    return rp.complete({"code": "c", "state": "st", "iss": ISSUER} | args, PENDING)


def test_verified_parent_has_the_saml_shaped_attributes(provider):
    parent = complete(provider)
    assert parent.subject == "sujet-1" and parent.given_name == "Claire"
    assert parent.attributes == {
        "sn": ["Martin"],
        "givenName": ["Claire"],
        "FrEduCtId": ["abc"],
        "FrEduVecteur": ["1|MARTIN|Claire|E1|0860001J"],
        "FrEduCtPersonAffiliation": ["resp1d"],
    }


@pytest.mark.parametrize(
    "claim_changes",
    [
        {"nonce": "un-autre"},
        {"nonce": None},
        {"aud": "un-autre-ent"},
        {"aud": ["un-autre-ent"]},
        {"aud": [CLIENT, "un-autre-ent"]},  # several audiences and no azp
        {"iss": "https://faux-idp.test"},
        {"exp": int(time.time()) - 60},
        {"iat": None},
        {"sub": None},
        {"at_hash": at_hash("un autre jeton")},
    ],
)
def test_id_token_claims_are_checked(provider, claim_changes):
    for name, value in claim_changes.items():
        if value is None:
            provider.claims.pop(name)
        else:
            provider.claims[name] = value
    with pytest.raises(ProtocolError):
        complete(provider)


def test_id_token_signed_by_another_key_is_refused(provider):
    intruder = RSAKey.generate_key(2048)
    provider.id_token = jwt.encode({"alg": "RS256", "kid": provider.key.kid}, provider.claims, intruder)
    with pytest.raises(ProtocolError):
        complete(provider)


def test_id_token_with_another_algorithm_is_refused(provider):
    ec = ECKey.generate_key("P-256", auto_kid=True)
    provider.published.append(ec)
    provider.id_token = jwt.encode({"alg": "ES256", "kid": ec.kid}, provider.claims, ec)
    with pytest.raises(ProtocolError):
        complete(provider)  # a valid signature, but not the algorithm this ENT expects


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_or_hmac_id_token_is_refused(provider, alg):
    header = b64(json.dumps({"alg": alg, "kid": provider.key.kid}).encode())
    signing_input = f"{header}.{b64(json.dumps(provider.claims).encode())}"
    secret = provider.key.as_pem(private=False)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if alg == "HS256" else b""
    provider.id_token = f"{signing_input}.{b64(signature)}"
    with pytest.raises(ProtocolError):
        complete(provider)


def test_new_signing_key_is_fetched_once(provider):
    rp = OidcRelyingParty(CONFIG, provider)
    rp.keys()  # cached before the rollover
    provider.key = RSAKey.generate_key(2048, auto_kid=True)
    provider.published.append(provider.key)
    assert rp.complete({"code": "c", "state": "st"}, PENDING).subject == "sujet-1"
    assert provider.jwks_fetches == 2


def test_userinfo_of_another_subject_is_refused(provider):
    provider.userinfo["sub"] = "sujet-2"
    with pytest.raises(ProtocolError):
        complete(provider)


def test_error_and_foreign_issuer_answers_are_refused(provider):
    with pytest.raises(ProtocolError, match="access_denied"):
        complete(provider, error="access_denied", code="")
    with pytest.raises(ProtocolError, match="9207"):
        complete(provider, iss="https://faux-idp.test")


def test_discovery_of_another_issuer_is_refused(provider):
    provider.issuer_in_discovery = "https://faux-idp.test"
    with pytest.raises(ProtocolError, match="issuer"):
        complete(provider)


def test_authorization_url_carries_pkce_s256_state_nonce_and_hint(provider):
    rp = OidcRelyingParty(CONFIG, provider)
    url = rp.authorization_url(PENDING, idp_hint="aten")
    assert url.startswith(f"{ISSUER}/oidc/authorize?")
    assert f"code_challenge={b64(hashlib.sha256(b'v' * 43).digest())}" in url
    assert "code_challenge_method=S256" in url and "state=st" in url and "nonce=le-nonce" in url
    assert "idp_hint=aten" in url


def ent_settings(root, oidc: dict[str, str], env: dict[str, str] | None = None):
    """The ENT's production settings with ``protocol = "oidc"`` and this ``[oidc]`` table."""
    data = {"base_url": "https://ent.test", "secret_key": "k" * 40, "protocol": "oidc", "oidc": oidc}
    return build_settings("ent", data, env or {}, root=root)


def test_production_settings_need_https_and_a_secret(tmp_path):
    oidc = {"issuer": "http://idp.test", "client_id": CLIENT, "client_secret": "s"}
    with pytest.raises(ConfigurationError, match="HTTPS"):
        ent_settings(tmp_path, oidc)  # the settings loader refuses it: the start stops
    settings = ent_settings(tmp_path, {"issuer": ISSUER, "client_id": CLIENT})
    with pytest.raises(ConfigurationError, match="client_secret"):
        RelyingPartyConfig.from_settings(settings)
    with_secret = ent_settings(
        tmp_path, {"issuer": ISSUER, "client_id": CLIENT}, {"ENT_OIDC_CLIENT_SECRET": "x"}
    )
    assert RelyingPartyConfig.from_settings(with_secret).client_secret == "x"


@pytest.mark.parametrize(("iat_shift", "exp_shift"), [(600, 900), (-900, -600)])
def test_an_id_token_dated_outside_the_leeway_is_a_clock_skew_with_its_offset(provider, iat_shift, exp_shift):
    """ÉduConnect's clock 10 minutes ahead of the ENT's, or 15 behind: refused (the window stays
    strict), as ClockSkew whose offset is the token's iat minus our time (issue 13 item 4)."""
    now = int(time.time())
    provider.claims.update(iat=now + iat_shift, exp=now + exp_shift)
    with pytest.raises(ClockSkew) as refused:
        complete(provider)
    assert refused.value.offset_seconds is not None
    assert iat_shift - 30 <= refused.value.offset_seconds <= iat_shift + 1
    assert f"offset_seconds={refused.value.offset_seconds:+.0f}" in refused.value.detail
