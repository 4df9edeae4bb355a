"""Each AuthnRequest ID answered once, at ÉduConnect and at ATEN (DESIGN §5, issue 14 item 7).

The first browser that presents a signed AuthnRequest URL goes on, again on reload or Back; any
other browser gets « Demande de connexion refusée »; the answer is issued once. Parallel
presentations run on real threads against every backend of the suite (embedded, and
PostgreSQL + Redis).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import pytest

from tests.browser import Browser, page_text
from tests.flows.saml_steps import PASSWORD, add_parent, saml_response_xml
from tests.flows.transition_steps import ATEN_PARENTS

PARALLEL = 8
REFUSED = "Demande de connexion refusée"


def new_browser(stack) -> Browser:
    return Browser(stack.apps())


def signed_request_url(browser: Browser) -> str:
    """The signed HTTP-Redirect URL the ENT's first button sends this browser to."""
    to_idp = browser.get("https://ent.test/connexion/educonnect")
    assert to_idp.status_code == 302
    url = to_idp.headers["Location"]
    assert url.startswith("https://idp.test/saml/sso?SAMLRequest=")
    return url


def aten_request_url(browser: Browser) -> str:
    """The signed URL ÉduConnect sends this browser to at ATEN (parcours de transition)."""
    response = browser.get("https://ent.test/connexion/sans-compte")
    for _ in range(6):
        location = urljoin(response.request.url, response.headers["Location"])
        if location.startswith("https://aten.test/saml/sso?"):
            return location
        response = browser.get(location)
    raise AssertionError("no AuthnRequest to ATEN: " + " → ".join(browser.history))


def assert_refused(response) -> None:
    assert response.status_code == 400, page_text(response)
    assert "Location" not in response.headers
    text = page_text(response)
    assert REFUSED in text and "Services en ligne" in text
    assert "SAMLResponse" not in response.get_data(as_text=True)


def log_in(browser: Browser, login_page, identifier: str):
    assert login_page.request.path == "/connexion", page_text(login_page)
    return browser.follow(browser.submit(login_page, identifiant=identifier, mot_de_passe=PASSWORD))


def test_the_same_browser_presenting_its_pending_request_again_goes_on(stack):
    parent = add_parent(stack.idp)
    browser = new_browser(stack)
    url = signed_request_url(browser)
    assert browser.follow(browser.get(url)).request.path == "/connexion"
    again = browser.follow(browser.get(url))  # reload, or Back to the request, before answering
    post_page = log_in(browser, again, parent.identifier)
    assert post_page.request.path == "/saml/reponse" and 'name="SAMLResponse"' in post_page.get_data(
        as_text=True
    )
    landing = browser.follow(browser.submit(post_page, form_id="saml-post"))
    assert landing.request.path == "/accueil", page_text(landing)


def test_a_second_browser_presenting_the_same_signed_url_is_refused(stack):
    first = new_browser(stack)
    url = signed_request_url(first)
    assert first.follow(first.get(url)).request.path == "/connexion"
    assert_refused(new_browser(stack).get(url))
    # The first browser still goes on.
    assert first.follow(first.get(url)).request.path == "/connexion"


def test_a_second_browser_is_refused_even_when_signed_in(stack):
    parent = add_parent(stack.idp)
    first = new_browser(stack)
    url = signed_request_url(first)
    first.get(url)
    other = new_browser(stack)
    log_in(other, other.get("https://idp.test/connexion"), parent.identifier)  # an IdP session
    assert_refused(other.get(url))


def test_the_answer_is_issued_once_even_to_the_same_browser(stack):
    parent = add_parent(stack.idp)
    browser = new_browser(stack)
    url = signed_request_url(browser)
    post_page = log_in(browser, browser.follow(browser.get(url)), parent.identifier)
    assert 'name="SAMLResponse"' in post_page.get_data(as_text=True)
    # Signed in now: presenting the answered request again would answer it at once; it is refused.
    assert_refused(browser.get(url))
    assert_refused(new_browser(stack).get(url))


def test_a_signed_in_browser_gets_one_answer_and_a_new_request_another(stack):
    parent = add_parent(stack.idp)
    browser = new_browser(stack)
    log_in(browser, browser.follow(browser.get(signed_request_url(browser))), parent.identifier)
    again = browser.get(signed_request_url(browser))  # a new AuthnRequest: a new ID
    assert again.status_code == 200 and 'name="SAMLResponse"' in again.get_data(as_text=True)


def run_in_parallel(count: int, task):
    barrier = threading.Barrier(count)

    def start(index: int):
        barrier.wait()
        return task(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count)))


def test_parallel_presentations_in_fresh_browsers_let_exactly_one_proceed(stack):
    url = signed_request_url(new_browser(stack))
    browsers = [new_browser(stack) for _ in range(PARALLEL)]
    responses = run_in_parallel(PARALLEL, lambda i: browsers[i].get(url))
    proceeding = [r for r in responses if r.status_code == 302]
    assert len(proceeding) == 1, [r.status_code for r in responses]
    assert proceeding[0].headers["Location"] == "/connexion"
    for refused in (r for r in responses if r is not proceeding[0]):
        assert_refused(refused)


def test_parallel_presentations_in_one_signed_in_session_give_one_response(stack):
    """A double click, or workers racing on one session: one signed Response, which a tab that
    raced on it gets again (the ENT accepts it once); a tab arriving after it is refused."""
    parent = add_parent(stack.idp)
    signed_in = new_browser(stack)
    log_in(signed_in, signed_in.get("https://idp.test/connexion"), parent.identifier)
    cookie = signed_in.clients["https://idp.test"].get_cookie("idp_session", domain="idp.test")
    assert cookie is not None
    url = signed_request_url(new_browser(stack))
    tabs = [new_browser(stack) for _ in range(PARALLEL)]
    for tab in tabs:
        tab._client("https://idp.test/")[0].set_cookie("idp_session", cookie.value, domain="idp.test")
    responses = run_in_parallel(PARALLEL, lambda i: tabs[i].get(url))
    answered = [r for r in responses if 'name="SAMLResponse"' in r.get_data(as_text=True)]
    assert answered, [r.status_code for r in responses]
    assert len({saml_response_xml(r) for r in answered}) == 1  # one Response, however many tabs
    for refused in (r for r in responses if r not in answered):
        assert_refused(refused)
    assert_refused(tabs[0].get(url))  # and none after it


# --- ATEN -----------------------------------------------------------------------------------------


def aten_log_in(browser: Browser, login_page, uid: str):
    assert login_page.request.url.startswith("https://aten.test/connexion"), page_text(login_page)
    return browser.submit(login_page, identifiant=uid, mot_de_passe=ATEN_PARENTS[uid][0])


def test_aten_lets_the_same_browser_present_its_request_again(stack):
    browser = new_browser(stack)
    url = aten_request_url(browser)
    browser.follow(browser.get(url))
    login_page = browser.follow(browser.get(url))  # reload before signing in
    post_page = aten_log_in(browser, login_page, "mdurand")
    assert post_page.status_code == 200 and 'name="SAMLResponse"' in post_page.get_data(as_text=True)


def test_aten_refuses_the_same_signed_url_in_a_second_browser(stack):
    first = new_browser(stack)
    url = aten_request_url(first)
    assert first.follow(first.get(url)).request.path == "/connexion"
    assert_refused(new_browser(stack).get(url))


def test_aten_answers_a_request_once(stack):
    browser = new_browser(stack)
    url = aten_request_url(browser)
    post_page = aten_log_in(browser, browser.follow(browser.get(url)), "mdurand")
    assert 'name="SAMLResponse"' in post_page.get_data(as_text=True)
    assert_refused(browser.get(url))  # Back to the answered request
    assert_refused(new_browser(stack).get(url))


def test_aten_parallel_presentations_let_exactly_one_proceed(stack):
    url = aten_request_url(new_browser(stack))
    browsers = [new_browser(stack) for _ in range(PARALLEL)]
    responses = run_in_parallel(PARALLEL, lambda i: browsers[i].get(url))
    proceeding = [r for r in responses if r.status_code == 302]
    assert len(proceeding) == 1, [r.status_code for r in responses]
    for refused in (r for r in responses if r is not proceeding[0]):
        assert_refused(refused)


@pytest.mark.parametrize("service", ["idp", "aten"])
def test_the_refusal_leads_back_to_the_portal_when_configured(stack, deployment, service):
    """« Revenir aux Services en ligne » on the refusal page (portal_url, as in the demo)."""
    from aten_adapter import create_app as create_aten
    from idp import create_app as create_idp
    from tests.conftest import DEMO_LDIF

    backend = stack.backend
    portal = "https://ent.test/"
    if service == "idp":
        app = create_idp(
            deployment.settings(
                "idp",
                backend.database_url,
                backend.redis_url,
                crypto_backend=backend.crypto,
                portal_url=portal,
            )
        )
        url = signed_request_url(new_browser(stack))
    else:
        app = create_aten(
            deployment.settings(
                "aten",
                backend.database_url,
                backend.redis_url,
                crypto_backend=backend.crypto,
                portal_url=portal,
                directory={"backend": "ldif", "ldif_file": str(DEMO_LDIF)},
            ),
            env={},
        )
        url = aten_request_url(new_browser(stack))
    base = f"https://{service}.test"
    new_browser(stack).get(url)  # the first browser
    refused = Browser({base: app}).get(url)
    assert_refused(refused)
    import lxml.html

    doc = lxml.html.fromstring(refused.get_data(as_text=True))
    assert doc.xpath('//a[normalize-space()="Revenir aux Services en ligne"]/@href') == [portal]
