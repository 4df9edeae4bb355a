"""OpenID Connect logout (issue 14, item 3): RP-initiated logout ends the whole ÉduConnect session;
Front-Channel Logout 1.0 and Back-Channel Logout 1.0 tell the ENT when the session ends elsewhere.
The ENT checks every logout token: signature, iss, aud, iat, events, no nonce, jti once."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urljoin

import lxml.html
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from federation.stores import SESSION_PREFIX
from federation.web import get_store
from idp.oidc.clients import OidcClient, hash_client_secret, new_client_secret, write_client
from sp_ent import create_app as create_ent
from tests.browser import Browser, page_text
from tests.conftest import Stack
from tests.flows.saml_steps import PASSWORD, add_parent
from tests.oidc.back_channel import AppsHttpClient, AppsLogoutPoster

ENT = "https://ent.test"
IDP = "https://idp.test"
CLIENT_ID = "ent-portail"
BACKCHANNEL = f"{ENT}/oidc/deconnexion-serveur"
FRONTCHANNEL = f"{ENT}/oidc/deconnexion-frontale"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture(scope="module")
def poster() -> AppsLogoutPoster:
    return AppsLogoutPoster()


@pytest.fixture(scope="module")
def oidc_stack(deployment, backend, stack, tmp_path_factory, poster) -> Stack:
    from idp import create_app as create_idp

    secret = new_client_secret()
    clients = tmp_path_factory.mktemp("oidc_logout_clients")
    write_client(
        clients,
        OidcClient(
            client_id=CLIENT_ID,
            redirect_uris=(f"{ENT}/oidc/retour",),
            post_logout_redirect_uris=(f"{ENT}/deconnexion/terminee",),
            token_endpoint_auth_method="client_secret_basic",
            client_secret_hash=hash_client_secret(secret),
            frontchannel_logout_uri=FRONTCHANNEL,
            backchannel_logout_uri=BACKCHANNEL,
        ),
    )
    db, redis, crypto = backend.database_url, backend.redis_url, backend.crypto
    idp = create_idp(
        deployment.settings("idp", db, redis, crypto_backend=crypto, oidc_clients_dir=str(clients)),
        logout_poster=poster,
    )
    ent = create_ent(
        deployment.settings(
            "ent",
            db,
            redis,
            crypto_backend=crypto,
            protocol="oidc",
            oidc={"issuer": IDP, "client_id": CLIENT_ID, "client_secret": secret},
        ),
        oidc_http=AppsHttpClient({IDP: idp}),
    )
    poster.apps[ENT] = ent
    return Stack(idp=idp, ent=ent, aten=stack.aten, backend=backend)


@pytest.fixture
def browser(oidc_stack):
    return Browser({ENT: oidc_stack.ent, IDP: oidc_stack.idp})


def signed_in(oidc_stack, browser: Browser) -> dict:
    """A parent signed in at the ENT by OpenID Connect; the ENT's stored session."""
    account = add_parent(oidc_stack.idp)
    page = browser.follow(browser.get(f"{ENT}/connexion/educonnect"))
    landing = browser.follow(browser.submit(page, identifiant=account.identifier, mot_de_passe=PASSWORD))
    assert landing.request.url == f"{ENT}/accueil", page_text(landing)
    cookie = browser.clients[ENT].get_cookie("ent_session", domain="ent.test")
    assert cookie is not None
    raw = get_store(oidc_stack.ent).get(SESSION_PREFIX + cookie.value)
    assert raw is not None
    return json.loads(raw)


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def is_signed_in_at_the_ent(browser: Browser) -> bool:
    return browser.get(f"{ENT}/accueil").status_code == 200


def asks_for_the_password(browser: Browser) -> bool:
    return browser.follow(browser.get(f"{ENT}/connexion/educonnect")).request.url == f"{IDP}/connexion"


def test_discovery_announces_front_and_back_channel_logout(oidc_stack):
    document = oidc_stack.idp.test_client().get("/.well-known/openid-configuration", base_url=IDP).get_json()
    for name in ("frontchannel_logout", "backchannel_logout"):
        assert document[f"{name}_supported"] is True and document[f"{name}_session_supported"] is True


def test_id_tokens_carry_the_session_sid(oidc_stack, browser):
    stored = signed_in(oidc_stack, browser)
    assert len(claims_of(stored["oidc_id_token"])["sid"]) >= 20


def test_logout_at_the_ent_ends_the_educonnect_session(oidc_stack, browser):
    signed_in(oidc_stack, browser)
    out = browser.submit(browser.get(f"{ENT}/deconnexion"))
    assert out.headers["Location"].startswith(f"{IDP}/oidc/logout?")
    back = browser.follow(out)
    assert back.request.url == f"{ENT}/deconnexion/terminee"
    assert "déconnecté des Services en ligne et d'ÉduConnect" in page_text(back)
    assert not is_signed_in_at_the_ent(browser) and asks_for_the_password(browser)


def test_logout_at_educonnect_reaches_the_ent_by_both_channels(oidc_stack, browser, poster):
    signed_in(oidc_stack, browser)
    account_page = browser.get(f"{IDP}/compte")
    progress = browser.submit(account_page)
    assert progress.status_code == 200 and "Déconnexion en cours" in page_text(progress)
    assert poster.statuses[-1] == 200  # the back channel: the ENT ended the session already
    assert not is_signed_in_at_the_ent(browser)
    doc = lxml.html.fromstring(progress.get_data(as_text=True))
    (frame,) = doc.xpath("//iframe/@src")
    assert frame.startswith(f"{FRONTCHANNEL}?iss=") and "&sid=" in frame
    assert f"frame-src 'self' {ENT};" in progress.headers["Content-Security-Policy"]
    notified = browser.get(frame)  # the front channel, as the browser loads the frame
    assert (
        notified.status_code == 200
        and f"frame-ancestors {IDP}" in notified.headers["Content-Security-Policy"]
    )
    (next_url,) = doc.xpath('//a[normalize-space()="Continuer"]/@href')
    done = browser.get(urljoin(progress.request.url, next_url))
    assert "Vous êtes aussi déconnecté des services" in page_text(done)
    assert asks_for_the_password(browser)


def test_front_channel_logout_ends_the_session_it_names(oidc_stack, browser):
    stored = signed_in(oidc_stack, browser)
    sid = claims_of(stored["oidc_id_token"])["sid"]
    refused = browser.get(f"{FRONTCHANNEL}?iss=https://autre.test&sid={sid}")
    assert refused.status_code == 400 and is_signed_in_at_the_ent(browser)
    assert browser.get(f"{FRONTCHANNEL}?iss={IDP}&sid=autre").status_code == 200
    assert is_signed_in_at_the_ent(browser)  # another sid: another session
    assert browser.get(f"{FRONTCHANNEL}?iss={IDP}&sid={sid}").status_code == 200
    assert not is_signed_in_at_the_ent(browser)


# --- the logout token's checks at the ENT (Back-Channel Logout §2.6) ---------------------------


def logout_token(oidc_stack, session_sid: str, key=None, header=None, **changes) -> str:
    idp_key = oidc_stack.idp.extensions["idp"].oidc.keys.for_algorithm("RS256")
    now = int(time.time())
    claims = {
        "iss": IDP,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": f"jti-{time.time_ns()}",
        "events": {EVENT: {}},
        "sid": session_sid,
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    head = header or {"alg": "RS256", "kid": idp_key.kid, "typ": "logout+jwt"}
    return jwt.encode(head, claims, key or idp_key)


def post_token(oidc_stack, token: str):
    return oidc_stack.ent.test_client().post(
        "/oidc/deconnexion-serveur", base_url=ENT, data={"logout_token": token}
    )


@pytest.fixture
def sid(oidc_stack, browser) -> str:
    return str(claims_of(signed_in(oidc_stack, browser)["oidc_id_token"])["sid"])


def test_a_valid_logout_token_ends_the_session(oidc_stack, browser, sid):
    answer = post_token(oidc_stack, logout_token(oidc_stack, sid))
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert not is_signed_in_at_the_ent(browser)


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://autre.test"},
        {"aud": "un-autre-client"},
        {"iat": int(time.time()) - 3600, "exp": int(time.time()) + 60},
        {"events": None},
        {"events": {"http://schemas.openid.net/event/autre": {}}},
        {"nonce": "n-0S6_WzA2Mj"},
        {"exp": int(time.time()) - 600},
        {"sid": None},
    ],
    ids=["iss", "aud", "iat", "no-events", "other-event", "nonce", "expired", "no-sid-nor-sub"],
)
def test_a_wrong_logout_token_is_refused(oidc_stack, browser, sid, changes):
    answer = post_token(oidc_stack, logout_token(oidc_stack, sid, **changes))
    assert answer.status_code == 400
    assert is_signed_in_at_the_ent(browser)


def test_a_logout_token_signed_by_another_key_is_refused(oidc_stack, browser, sid):
    foreign = RSAKey.generate_key(2048, parameters={"kid": "cle-etrangere"})
    token = logout_token(oidc_stack, sid, key=foreign, header={"alg": "RS256", "kid": "cle-etrangere"})
    assert post_token(oidc_stack, token).status_code == 400
    assert is_signed_in_at_the_ent(browser)


def test_an_unsigned_logout_token_is_refused(oidc_stack, browser, sid):
    token = logout_token(oidc_stack, sid)
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    unsigned = f"{header}.{token.split('.')[1]}."
    assert post_token(oidc_stack, unsigned).status_code == 400
    assert is_signed_in_at_the_ent(browser)


def test_a_replayed_logout_token_is_refused(oidc_stack, browser, sid):
    token = logout_token(oidc_stack, "une-autre-session")
    assert post_token(oidc_stack, token).status_code == 200
    head, _, signature = token.split(".")
    altered = {**claims_of(token), "sid": sid}
    forged = base64.urlsafe_b64encode(json.dumps(altered).encode()).rstrip(b"=").decode()
    assert post_token(oidc_stack, f"{head}.{forged}.{signature}").status_code == 400  # altered
    assert post_token(oidc_stack, token).status_code == 400  # the same jti again
    assert is_signed_in_at_the_ent(browser)
