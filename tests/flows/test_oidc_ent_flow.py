"""Flows A, B and C of DESIGN §2 with the ENT as an OpenID Connect relying party.

The same pages as with SAML, end to end through the Flask test clients with strict production
settings; the ENT's back-channel calls (token, userinfo, discovery, JWKS) reach the IdP's test
client. Runs on each storage backend.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import lxml.html
import pytest

from federation.stores import SESSION_PREFIX
from federation.web import get_store
from idp.oidc.clients import OidcClient, hash_client_secret, new_client_secret, write_client
from sp_ent import create_app as create_ent
from tests.browser import Browser, page_text
from tests.conftest import DEMO_LDIF, Stack
from tests.flows.children_steps import dates_of, parent_with_children
from tests.flows.saml_steps import PASSWORD, add_parent
from tests.flows.transition_steps import aten_sign_in, choose_password, forget_transitions, linked_accounts
from tests.oidc.back_channel import AppsHttpClient
from tests.registry_helpers import Child, new_establishment
from tests.settable_clock import SettableClock

ENT = "https://ent.test"
IDP = "https://idp.test"
CLIENT_ID = "ent-portail"
ENT_ENTITY_ID = f"{ENT}/saml/metadata"


@pytest.fixture(scope="module")
def oidc_stack(deployment, backend, tmp_path_factory) -> Stack:
    from aten_adapter import create_app as create_aten
    from idp import create_app as create_idp

    secret = new_client_secret()
    clients = tmp_path_factory.mktemp("oidc_clients")
    write_client(
        clients,
        OidcClient(
            client_id=CLIENT_ID,
            redirect_uris=(f"{ENT}/oidc/retour",),
            post_logout_redirect_uris=(f"{ENT}/deconnexion/terminee",),
            token_endpoint_auth_method="client_secret_basic",
            client_secret_hash=hash_client_secret(secret),
            sector_identifier=ENT_ENTITY_ID,  # the same subject as the ENT's SAML NameID
        ),
    )
    db, redis, crypto = backend.database_url, backend.redis_url, backend.crypto
    idp = create_idp(
        deployment.settings("idp", db, redis, crypto_backend=crypto, oidc_clients_dir=str(clients))
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
    aten = create_aten(
        deployment.settings(
            "aten",
            db,
            redis,
            crypto_backend=crypto,
            directory={"backend": "ldif", "ldif_file": str(DEMO_LDIF)},
        ),
        env={},
    )
    return Stack(idp=idp, ent=ent, aten=aten, backend=backend)


@pytest.fixture
def browser(oidc_stack):
    return Browser(oidc_stack.apps())


@pytest.fixture
def parent(oidc_stack):
    return add_parent(oidc_stack.idp)


def login_page(browser: Browser, button: str = "/connexion/educonnect"):
    to_idp = browser.get(ENT + button)
    assert to_idp.status_code == 302
    location = urlsplit(to_idp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{IDP}/oidc/authorize"
    query = parse_qs(location.query)
    assert query["code_challenge_method"] == ["S256"] and query["state"] and query["nonce"]
    return browser.follow(to_idp)


def sign_in(browser: Browser, identifier: str, password: str = PASSWORD):
    page = login_page(browser)
    assert page.request.url == f"{IDP}/connexion", page_text(page)
    return browser.follow(browser.submit(page, identifiant=identifier, mot_de_passe=password))


def ent_session(browser: Browser, ent) -> dict:
    import json

    cookie = browser.clients[ENT].get_cookie("ent_session", domain="ent.test")
    assert cookie is not None
    raw = get_store(ent).get(SESSION_PREFIX + cookie.value)
    assert raw is not None
    return json.loads(raw)


def test_parent_signs_in_to_the_ent_through_oidc(browser, oidc_stack, parent):
    landing = sign_in(browser, parent.identifier)
    assert landing.request.url == f"{ENT}/accueil", page_text(landing)
    assert "Bonjour Claire Martin" in page_text(landing)
    signed_in = ent_session(browser, oidc_stack.ent)["parent"]
    subjects = oidc_stack.idp.extensions["idp"].subjects
    # The sector of this client is the ENT's SAML entityID: the same subject as its NameID.
    assert signed_in["subject"] == subjects.ensure_pairwise_subject(parent.id, ENT_ENTITY_ID)
    attributes = signed_in["attributes"]
    assert attributes["FrEduCtId"] == [parent.id]
    assert attributes["sn"] == ["Martin"] and attributes["givenName"] == ["Claire"]
    assert attributes["FrEduUrlRetour"] == [f"{IDP}/deconnexion"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", attributes["FrEduCtDateConnexion"][0])
    calls = oidc_stack.ent.extensions["ent"].oidc().rp.http.calls
    assert "POST /oidc/token" in calls and "GET /oidc/userinfo" in calls


def test_second_sign_in_reuses_the_idp_session(browser, parent):
    sign_in(browser, parent.identifier)
    again = browser.follow(browser.get(f"{ENT}/connexion/educonnect"))
    assert again.request.url == f"{ENT}/accueil"  # no second password prompt
    assert not any(step.startswith("POST https://idp.test/connexion") for step in browser.history[-6:])


def test_children_are_confirmed_then_released_as_a_list(browser, oidc_stack):
    school, college = new_establishment(1), new_establishment(2)
    family = parent_with_children(
        oidc_stack.idp,
        [Child("Léa", dt.date(2016, 4, 2), school), Child("Hugo", dt.date(2012, 9, 14), college)],
    )
    children = sign_in(browser, family.account.identifier)
    assert children.request.path == "/eleves", page_text(children)
    chooser = browser.follow(browser.submit(children, **dates_of(*family.children)))
    assert chooser.request.url.startswith(ENT), page_text(chooser)
    attributes = ent_session(browser, oidc_stack.ent)["parent"]["attributes"]
    vectors = attributes["FrEduVecteur"]
    assert isinstance(vectors, list) and len(vectors) == 2
    assert {v.split("|")[3] for v in vectors} == {c.student_id for c in family.children}
    assert sorted(attributes["FrEduCtPersonAffiliation"]) == ["resp1d", "resp2d"]
    assert "Choix de l" in page_text(chooser) or school.name in page_text(chooser)


def test_logout_ends_the_ent_and_the_idp_sessions(browser, parent):
    sign_in(browser, parent.identifier)
    confirm = browser.get(f"{ENT}/deconnexion")
    assert confirm.status_code == 200 and "Se déconnecter ?" in page_text(confirm)  # a GET ends nothing
    out = browser.submit(confirm)
    assert out.headers["Location"].startswith(f"{IDP}/oidc/logout?")
    back = browser.follow(out)
    assert back.request.url == f"{ENT}/deconnexion/terminee"  # the registered post_logout_redirect_uri
    assert "déconnecté des Services en ligne et d'ÉduConnect" in page_text(back)
    assert login_page(browser).request.url == f"{IDP}/connexion"  # ÉduConnect asks again


def test_callback_without_a_pending_request_is_refused(browser, parent):
    to_idp = browser.get(f"{ENT}/connexion/educonnect")
    state = parse_qs(urlsplit(to_idp.headers["Location"]).query)["state"][0]
    forged = browser.get(f"{ENT}/oidc/retour?code=invente&state=autre-{state}")
    assert forged.status_code == 400 and "Votre session a expiré" in page_text(forged)


def callback_url(browser: Browser, identifier: str) -> str:
    """Sign in at ÉduConnect and follow the redirects up to the ENT's callback, not into it."""
    response = browser.submit(login_page(browser), identifiant=identifier, mot_de_passe=PASSWORD)
    url = urljoin(response.request.url, response.headers["Location"])
    while not url.startswith(f"{ENT}/oidc/retour"):
        response = browser.get(url)
        url = urljoin(response.request.url, response.headers["Location"])
    return url


def ent_session_id(browser: Browser) -> str:
    cookie = browser.clients[ENT].get_cookie("ent_session", domain="ent.test")
    assert cookie is not None
    return cookie.value


def test_callback_replayed_is_refused(browser, oidc_stack, parent):
    url = callback_url(browser, parent.identifier)
    assert browser.get(url).headers["Location"] == "/accueil"
    signed_in = ent_session_id(browser)
    # This browser: its state was used, nothing of the replay is; the parent simply goes on.
    assert browser.get(url).headers["Location"] == "/accueil"
    assert ent_session_id(browser) == signed_in  # no new sign-in (it would rotate the session)
    assert Browser(oidc_stack.apps()).get(url).status_code == 400  # another browser: no state


def test_idp_error_is_a_french_page_at_the_ent(browser, oidc_stack):
    to_idp = browser.get(f"{ENT}/connexion/educonnect")
    state = parse_qs(urlsplit(to_idp.headers["Location"]).query)["state"][0]
    refused = browser.get(f"{ENT}/oidc/retour?error=access_denied&state={state}&iss={IDP}")
    assert refused.status_code == 400 and "Demande de connexion refusée" in page_text(refused)


def test_transition_path_through_oidc(browser, oidc_stack):
    forget_transitions(oidc_stack)
    confirmed = aten_sign_in(browser, "mdurand")  # the ENT's second button, idp_hint=aten
    assert any("idp_hint=aten" in step for step in browser.history), browser.history
    assert confirmed.request.path == "/transition/compte"
    _, created = choose_password(browser, confirmed)
    created = browser.follow(created)
    assert "Votre compte est créé." in page_text(created)
    (href,) = lxml.html.fromstring(created.get_data(as_text=True)).xpath(
        '//a[normalize-space()="Continuer"]/@href'
    )
    assert href.startswith("/oidc/authorize?"), href  # the ENT's request, resumed
    landing = browser.follow(browser.get(IDP + href))
    assert landing.request.url == f"{ENT}/accueil", page_text(landing)
    assert "Bonjour Marie Durand" in page_text(landing)
    (account,) = linked_accounts(oidc_stack, "Durand")
    assert ent_session(browser, oidc_stack.ent)["parent"]["attributes"]["FrEduCtId"] == [account.id]


@pytest.fixture(scope="module")
def ent_clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def clocked_browser(oidc_stack, ent_clock):
    """The stack with an ENT of the same settings that reads the time from ``ent_clock``."""
    ent_clock.reset()
    ent = create_ent(
        oidc_stack.ent.extensions["ent"].settings,
        oidc_http=AppsHttpClient({IDP: oidc_stack.idp}),
        clock=ent_clock,
    )
    return Browser({**oidc_stack.apps(), ENT: ent})


def test_callback_of_an_expired_request_is_refused(clocked_browser, oidc_stack, ent_clock, parent):
    """The code is fresh and valid at ÉduConnect: only the ENT's pending request has expired."""
    url = callback_url(clocked_browser, parent.identifier)
    ent_clock.advance(oidc_stack.ent.extensions["ent"].settings.pending_request_ttl_seconds)
    refused = clocked_browser.get(url)
    assert refused.status_code == 400 and "Votre session a expiré" in page_text(refused)


def test_callback_just_before_the_expiry_is_accepted(clocked_browser, oidc_stack, ent_clock, parent):
    url = callback_url(clocked_browser, parent.identifier)
    # Not beyond the ID token's lifetime either: the RP checks it against the same clock.
    ent_clock.advance(min(oidc_stack.ent.extensions["ent"].settings.pending_request_ttl_seconds - 1, 60))
    assert clocked_browser.get(url).headers["Location"] == "/accueil"


def authorization_url(browser: Browser) -> str:
    to_idp = browser.get(f"{ENT}/connexion/educonnect")
    assert to_idp.headers["Location"].startswith(f"{IDP}/oidc/authorize?")
    return to_idp.headers["Location"]


def idp_answer(browser: Browser, url: str) -> dict[str, list[str]]:
    """The parameters ÉduConnect answers ``url`` with, for a signed-in browser."""
    response = browser.get(url)
    location = response.headers["Location"]
    assert location.startswith(f"{ENT}/oidc/retour?"), location
    return parse_qs(urlsplit(location).query)


def test_the_same_authorization_request_sent_again_leads_on_to_the_ent(browser, parent):
    """Issue 13 item 4: a second tab or a reload re-sends the request; the nonce was seen."""
    url = authorization_url(browser)
    login = browser.follow(browser.get(url))
    assert login.request.url == f"{IDP}/connexion"
    landing = browser.follow(browser.submit(login, identifiant=parent.identifier, mot_de_passe=PASSWORD))
    assert landing.request.url == f"{ENT}/accueil", page_text(landing)
    again = idp_answer(browser, url)
    assert "error" not in again and again["code"], again  # a fresh code for the same nonce
    assert browser.follow(browser.get(url)).request.url == f"{ENT}/accueil"


def test_the_request_sent_again_after_a_lost_answer_signs_the_parent_in(browser, parent):
    """The first answer never reached the ENT (the network dropped it): the request re-sent is
    answered with a fresh code, which the ENT accepts for its still pending state and nonce."""
    url = callback_url(browser, parent.identifier)  # the answer, not delivered
    request_url = next(step.removeprefix("GET ") for step in browser.history if "/oidc/authorize?" in step)
    landing = browser.follow(browser.get(request_url))
    assert landing.request.url == f"{ENT}/accueil", page_text(landing)
    assert "Bonjour Claire Martin" in page_text(landing)
    assert browser.get(url).headers["Location"] == "/accueil"  # the lost one, late: not used
