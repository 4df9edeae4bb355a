"""ÉduConnect reads ATEN's Response strictly (issue 3 item 6), each check with its own test."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import threading
import time

import pytest
from lxml import etree
from saml2.samlp import STATUS_AUTHN_FAILED

from federation.keys import generate_key_pair, key_pair
from idp.session_state import IdpSession
from tests.browser import Browser, page_text
from tests.flows.forged_responses import (
    Signer,
    duplicate_assertion,
    pending_request_id,
    set_audience,
    set_destination,
    set_recipient,
    set_times,
    signed_form,
    unsigned_response,
)
from tests.flows.transition_steps import ATEN_PARENTS, aten_login_page, forget_transitions


@pytest.fixture
def browser(stack):
    forget_transitions(stack)
    return Browser(stack.apps())


@pytest.fixture
def pending(browser):
    """A transition started in this browser: the ID of its AuthnRequest to ATEN."""
    aten_login_page(browser)
    sso_url = next(
        h.split(" ", 1)[1] for h in browser.history if h.startswith("GET https://aten.test/saml/sso")
    )
    return pending_request_id(sso_url)


@pytest.fixture
def aten_server(stack):
    return stack.aten.extensions["aten"].saml.server


@pytest.fixture
def aten_signer(deployment):
    pair = key_pair(deployment.certs_dir, "aten", "signing")
    return Signer(pair.key_file, pair.cert_file)


@pytest.fixture(scope="session")
def attacker_signer(tmp_path_factory):
    pair = key_pair(tmp_path_factory.mktemp("attacker"), "attacker", "signing")
    generate_key_pair(pair, "attacker")
    return Signer(pair.key_file, pair.cert_file)


def post(browser, form):
    return browser.post("https://idp.test/saml/sp/acs", form)


def assert_refused(browser, response):
    assert response.status_code == 400, page_text(response)
    assert "Location" not in response.headers
    # Nothing of the forged identity was kept.
    assert browser.get("https://idp.test/transition/compte").status_code == 400


class MovableClock:
    """The IdP's clock (``IdpServices.clock``), which a test moves forward."""

    def __init__(self) -> None:
        self.ahead = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.ahead


@pytest.fixture
def idp_clock(stack, monkeypatch):
    clock = MovableClock()
    services = dataclasses.replace(stack.idp.extensions["idp"], clock=clock)
    monkeypatch.setitem(stack.idp.extensions, "idp", services)
    return clock


def aten_answer_page(browser):
    """A real ATEN login (« VALIDER »): ATEN's page that posts its signed Response to ÉduConnect."""
    password = ATEN_PARENTS["mdurand"][0]
    post_page = browser.follow(
        browser.submit(aten_login_page(browser), identifiant="mdurand", mot_de_passe=password)
    )
    assert post_page.request.url.startswith("https://aten.test/"), page_text(post_page)
    return post_page


def test_a_pending_request_to_aten_is_answered_within_its_lifetime(browser, stack, idp_clock):
    post_page = aten_answer_page(browser)
    idp_clock.ahead = dt.timedelta(
        seconds=stack.idp.extensions["idp"].settings.pending_request_ttl_seconds - 5
    )
    accepted = browser.submit(post_page, form_id="saml-post")
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/transition/compte")


def test_an_expired_pending_request_to_aten_is_refused_with_the_french_page(browser, stack, idp_clock):
    post_page = aten_answer_page(browser)
    # ATEN's Response is fresh (its own time window holds); only our request to ATEN has expired.
    idp_clock.ahead = dt.timedelta(
        seconds=stack.idp.extensions["idp"].settings.pending_request_ttl_seconds + 1
    )
    refused = browser.submit(post_page, form_id="saml-post")
    assert refused.request.path == "/saml/sp/acs"
    assert refused.status_code == 400 and "Location" not in refused.headers
    assert "Votre session a expiré" in page_text(refused)
    assert browser.get("https://idp.test/transition/compte").status_code == 400  # nothing of it kept


def test_control_a_correct_response_signed_by_aten_is_accepted(browser, pending, aten_server, aten_signer):
    accepted = post(browser, signed_form(unsigned_response(aten_server, pending), aten_signer))
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/transition/compte")


def test_signature_by_a_key_not_in_aten_metadata(browser, pending, aten_server, attacker_signer):
    assert_refused(
        browser, post(browser, signed_form(unsigned_response(aten_server, pending), attacker_signer))
    )


def test_unsigned_assertion_in_a_signed_response(browser, pending, aten_server, aten_signer):
    form = signed_form(unsigned_response(aten_server, pending), aten_signer, sign_assertions=False)
    assert_refused(browser, post(browser, form))


def test_unsigned_response_around_a_signed_assertion(browser, pending, aten_server, aten_signer):
    form = signed_form(unsigned_response(aten_server, pending), aten_signer, sign_response=False)
    assert_refused(browser, post(browser, form))


def test_two_assertions(browser, pending, aten_server, aten_signer):
    root = unsigned_response(aten_server, pending)
    duplicate_assertion(root)
    assert_refused(browser, post(browser, signed_form(root, aten_signer)))


def test_in_response_to_not_pending_in_this_browser(browser, pending, aten_server, aten_signer):
    form = signed_form(unsigned_response(aten_server, "id-from-another-browser"), aten_signer)
    assert_refused(browser, post(browser, form))


def test_wrong_audience(browser, pending, aten_server, aten_signer):
    root = unsigned_response(aten_server, pending)
    set_audience(root, "https://evil.test/sp")
    assert_refused(browser, post(browser, signed_form(root, aten_signer)))


def test_wrong_destination(browser, pending, aten_server, aten_signer):
    root = unsigned_response(aten_server, pending)
    set_destination(root, "https://evil.test/acs")
    assert_refused(browser, post(browser, signed_form(root, aten_signer)))


def test_wrong_recipient(browser, pending, aten_server, aten_signer):
    root = unsigned_response(aten_server, pending)
    set_recipient(root, "https://evil.test/acs")
    assert_refused(browser, post(browser, signed_form(root, aten_signer)))


def test_expired_assertion_beyond_the_skew(browser, pending, aten_server, aten_signer):
    root = unsigned_response(aten_server, pending)
    # expired 4 minutes ago: one minute beyond the 3-minute skew
    set_times(root, issued_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=9))
    assert_refused(browser, post(browser, signed_form(root, aten_signer)))


def test_assertion_from_the_future_beyond_the_skew(browser, pending, aten_server, aten_signer):
    root = unsigned_response(aten_server, pending)
    set_times(root, issued_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=4))
    assert_refused(browser, post(browser, signed_form(root, aten_signer)))


def test_skew_within_three_minutes_is_tolerated(browser, pending, aten_server, aten_signer):
    root = unsigned_response(aten_server, pending)
    # expired 2 minutes ago: within the 3-minute skew
    set_times(root, issued_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=7))
    assert post(browser, signed_form(root, aten_signer)).status_code == 302


def test_doctype_is_refused(browser, pending, aten_server, aten_signer):
    import base64

    form = signed_form(unsigned_response(aten_server, pending), aten_signer)
    xml = base64.b64decode(form["SAMLResponse"])
    form["SAMLResponse"] = base64.b64encode(b'<!DOCTYPE r [<!ENTITY x "y">]>' + xml).decode()
    assert_refused(browser, post(browser, form))


def test_replayed_assertion_is_refused(browser, stack, aten_server, aten_signer):
    aten_login_page(browser)
    first_url = next(h.split(" ", 1)[1] for h in browser.history if "aten.test/saml/sso" in h)
    form = signed_form(unsigned_response(aten_server, pending_request_id(first_url)), aten_signer)
    assert post(browser, form).status_code == 302
    # The same browser starts again (the request ID is pending again only in a racing worker's
    # view): replay the same assertion against a session that still lists its request.
    services = stack.idp.extensions["idp"]
    idp_client = browser.clients["https://idp.test"]
    jar = idp_client.get_cookie("idp_session", domain="idp.test")
    assert jar is not None
    sid = jar.value
    raw = services.store.get(f"session:{sid}")
    import json

    data = json.loads(raw)
    state = IdpSession.load(data)
    services.aten_requests.add(state.pending_requests, pending_request_id(first_url), time.time())
    state.save(data)
    services.store.set(f"session:{sid}", json.dumps(data).encode(), 600)
    replay = post(browser, form)
    assert replay.status_code == 400
    assert "Connexion déjà utilisée" in page_text(replay)


def test_two_parallel_posts_of_one_assertion_accept_it_once(stack, aten_server, aten_signer):
    forget_transitions(stack)
    browser = Browser(stack.apps())
    aten_login_page(browser)
    url = next(h.split(" ", 1)[1] for h in browser.history if "aten.test/saml/sso" in h)
    form = signed_form(unsigned_response(aten_server, pending_request_id(url)), aten_signer)
    jar = browser.clients["https://idp.test"].get_cookie("idp_session", domain="idp.test")
    assert jar is not None
    cookie = jar.value
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def racer() -> None:
        client = stack.idp.test_client()
        client.set_cookie("idp_session", cookie, domain="idp.test")
        barrier.wait(timeout=10)
        statuses.append(client.post("/saml/sp/acs", base_url="https://idp.test", data=form).status_code)

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [302, 400]


def test_a_signed_refusal_from_aten_gives_its_own_french_page(browser, pending, aten_server, aten_signer):
    refusal = aten_server.create_error_response(
        pending, "https://idp.test/saml/sp/acs", (STATUS_AUTHN_FAILED, "refusé"), sign=False
    )
    form = signed_form(etree.fromstring(str(refusal).encode()), aten_signer, sign_assertions=False)
    refused = post(browser, form)
    assert refused.status_code == 400
    assert "Connexion ATEN refusée" in page_text(refused)
    assert "Je n'ai pas de compte Educonnect" in page_text(refused)  # the next step
    assert 'href="/transition/aten"' in refused.get_data(as_text=True)


def test_an_unsigned_refusal_is_not_believed(browser, pending, aten_server):
    refusal = aten_server.create_error_response(
        pending, "https://idp.test/saml/sp/acs", (STATUS_AUTHN_FAILED, "refusé"), sign=False
    )
    form = {"SAMLResponse": base64.b64encode(str(refusal).encode()).decode()}
    refused = post(browser, form)
    assert refused.status_code == 400
    assert "Demande de connexion refusée" in page_text(refused)
