"""Authorization endpoint rules of DESIGN §5: code flow only, exact redirect_uri, the IdP's pages."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import lxml.html
import pytest

from idp.continuation import Continuation
from idp.saml_idp import AuthenticationRequest
from idp.session_state import IdpSession
from tests.browser import page_text
from tests.oidc.conftest import SAML_ENTITY_ID
from tests.oidc.rp import ISSUER


@pytest.mark.parametrize(
    "response_type",
    ["id_token", "token", "id_token token", "code id_token", "code token", "code id_token token"],
)
def test_implicit_and_hybrid_flows_are_refused(rp, response_type):
    request = rp.request(response_type=response_type)
    response = rp.authorize(request)
    answer = rp.callback(response)
    assert answer["error"] == "unsupported_response_type" and answer["state"] == request.state
    assert "code" not in answer and "id_token" not in answer and "access_token" not in answer
    assert urlsplit(response.headers["Location"]).fragment  # these flows answer in the fragment


@pytest.mark.parametrize(
    "variant",
    [
        "https://lycee.test/oidc/retour/",  # trailing slash
        "https://LYCEE.test/oidc/retour",  # case of the host
        "https://lycee.test/OIDC/retour",  # case of the path
        "https://lycee.test:443/oidc/retour",  # explicit default port
        "https://lycee.test:8443/oidc/retour",  # another port
        "https://lycee.test/oidc/retour/autre",  # registered URI as a prefix
        "https://lycee.test/oidc/retour?suite=1",  # added query
        "https://lycee.test/oidc",  # a prefix of the registered URI
        "http://lycee.test/oidc/retour",  # scheme
        "https://lycee.test.attaquant.test/oidc/retour",
    ],
)
def test_redirect_uri_must_match_exactly_or_the_parent_sees_a_page(rp, variant):
    response = rp.authorize(rp.request(redirect_uri=variant))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "Demande de connexion refusée" in page_text(response)


def test_unknown_client_gets_a_page_never_a_redirect(rp):
    response = rp.authorize(rp.request(client_id="ent-inconnu"))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "Service inconnu" in page_text(response)


def test_request_without_openid_scope_is_refused(rp):
    answer = rp.callback(rp.authorize(rp.request(scope="profile")))
    assert answer["error"] == "invalid_scope"


def test_duplicated_parameter_is_refused_without_redirect(rp, op):
    request = rp.request()
    query = "&".join(f"{k}={v}" for k, v in request.params.items()) + "&state=deux"
    response = op.test_client().get(f"/oidc/authorize?{query}", base_url=ISSUER)
    assert response.status_code == 400 and "Location" not in response.headers


def test_oversized_state_is_refused(rp):
    answer = rp.callback(rp.authorize(rp.request(state="x" * 600)))
    assert answer["error"] == "invalid_request"


def test_a_nonce_presented_by_another_browser_is_refused(rp, parent):
    """The same browser may present its nonce again (tests/oidc/test_repeated_requests.py); a
    request replayed from another browser is refused before any login."""
    first = rp.request()
    assert "code" in rp.sign_in(parent, first)
    rp.browser = rp.op.test_client()  # another browser, the same request
    answer = rp.callback(rp.authorize(first))
    assert answer["error"] == "invalid_request" and answer["state"] == first.state
    assert "code" not in answer


def test_idp_hint_aten_starts_the_transition_and_keeps_the_request(rp):
    request = rp.request(idp_hint="aten")
    response = rp.authorize(request)
    assert response.status_code == 302 and response.headers["Location"] == "/transition/aten"
    with rp.session() as sess:
        resumed = IdpSession.load(sess).next_url
    assert resumed is not None
    assert resumed.startswith("/oidc/authorize?") and f"state={request.state}" in resumed


def test_idp_hint_aten_with_a_session_answers_at_once(rp, parent):
    rp.tokens(parent)
    answer = rp.callback(rp.authorize(rp.request(idp_hint="aten")))
    assert "code" in answer


def test_login_hint_and_ui_locales_are_accepted_before_login(rp):
    response = rp.follow_to_client(rp.authorize(rp.request(login_hint="c.martin1", ui_locales="fr-FR")))
    assert response.status_code == 200 and response.request.path == "/connexion"
    (value,) = lxml.html.fromstring(response.get_data(as_text=True)).xpath(
        '//input[@id="identifiant"]/@value'
    )
    assert value == "c.martin1"  # OIDC Core §3.1.2.1: the identifier is filled in


def test_login_hint_is_only_text_in_the_login_page(rp):
    hint = '"><script>alert(1)</script>' + "x" * 100
    page = rp.follow_to_client(rp.authorize(rp.request(login_hint=hint))).get_data(as_text=True)
    assert "<script>alert" not in page
    (value,) = lxml.html.fromstring(page).xpath('//input[@id="identifiant"]/@value')
    assert value == hint[:64]  # escaped, and capped like the field itself


def test_newest_request_wins_over_a_forgotten_saml_request(rp, parent):
    forgotten = AuthenticationRequest("id-oublie", SAML_ENTITY_ID, "https://ent.test/saml/acs", None)
    with rp.session() as sess:
        IdpSession(pending_saml=forgotten).save(sess)
    answer = rp.sign_in(parent)
    assert "code" in answer  # not the SAML answer page of the forgotten request


STEP_ACCOUNTS: set[str] = set()


@pytest.fixture
def pending_step(op, parent, monkeypatch):
    """A step due before any answer (like « Ajout d'élèves »), for this test's parent only."""
    services = op.extensions["idp"]

    def step(account, state, now):
        return "/etape-de-test" if account.id in STEP_ACCOUNTS else None

    steps = Continuation(steps=(*services.continuation.steps, step))
    monkeypatch.setitem(op.extensions, "idp", dataclasses.replace(services, continuation=steps))
    STEP_ACCOUNTS.add(parent.id)
    yield parent
    STEP_ACCOUNTS.discard(parent.id)


def test_pending_step_comes_before_the_answer_then_the_request_resumes(rp, pending_step):
    request = rp.request()
    login_page = rp.follow_to_client(rp.authorize(request))
    after_login = rp.log_in(login_page, pending_step)
    assert after_login.headers["Location"] == "/etape-de-test"
    with rp.session() as sess:
        resumed = IdpSession.load(sess).next_url
    assert resumed is not None
    STEP_ACCOUNTS.discard(pending_step.id)  # the parent completes the step
    answer = rp.callback(rp.follow_to_client(rp.get(ISSUER + resumed)))
    assert answer["state"] == request.state and "code" in answer


def test_prompt_none_with_a_pending_step_is_interaction_required(rp, pending_step):
    login_page = rp.follow_to_client(rp.authorize(rp.request()))
    assert rp.log_in(login_page, pending_step).headers["Location"] == "/etape-de-test"
    # Signed in, the step not done: a silent request cannot be answered.
    answer = rp.callback(rp.authorize(rp.request(prompt="none")))
    assert answer["error"] == "interaction_required"


def test_steps_passed_once_are_not_asked_again_in_the_same_session(rp, pending_step):
    """The steps belong to the login (DESIGN §2 C): a step due later waits for the next login."""
    STEP_ACCOUNTS.discard(pending_step.id)
    rp.tokens(pending_step)
    STEP_ACCOUNTS.add(pending_step.id)
    answer = rp.callback(rp.authorize(rp.request(prompt="none")))
    assert "code" in answer
    rp.browser = rp.op.test_client()  # another browser: a new login
    login_page = rp.follow_to_client(rp.authorize(rp.request()))
    assert rp.log_in(login_page, pending_step).headers["Location"] == "/etape-de-test"


def test_inactive_account_session_is_not_answered(rp, parent, op):
    rp.tokens(parent)
    sessions = op.extensions["idp"].accounts._sessions
    from sqlalchemy import update

    from idp.storage.models import AccountRow

    with sessions.begin() as db:
        db.execute(update(AccountRow).where(AccountRow.id == parent.id).values(status="bloque"))
    answer = rp.callback(rp.authorize(rp.request(prompt="none")))
    assert answer["error"] == "login_required"
