"""Error pages show parents no technical code: the code goes to the log with the request id, and
the page gives that id (« Référence : … ») for the helpdesk (issue 13, item 6)."""

from __future__ import annotations

import logging

import pytest

from federation.web import ERROR_PAGES
from tests.browser import Browser, page_text


@pytest.fixture
def browser(stack):
    return Browser(stack.apps())


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://idp.test/saml/reponse", "session_expiree"),  # no pending request in this browser
        ("https://idp.test/saml/sso?SAMLRequest=pas-un-message", "message_refuse"),
        ("https://ent.test/page-qui-n-existe-pas", "page_introuvable"),
    ],
)
def test_the_page_gives_the_reference_and_the_log_the_code(browser, caplog, url, code):
    with caplog.at_level(logging.INFO, logger="educonnect"):
        page = browser.get(url)
    text = page_text(page)
    reference = page.headers["X-Request-Id"]
    assert ERROR_PAGES[code].title in text
    assert f"Référence : {reference}" in text
    assert code not in page.get_data(as_text=True)
    if code != "page_introuvable":  # a 404 is not a refusal: the access log has it
        refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused:")]
        assert any(f"request_id={reference} {code} " in line for line in refusals), refusals


def test_a_reference_given_by_the_proxy_is_the_one_shown(browser):
    page = (
        browser.apps["https://idp.test"]
        .test_client()
        .get("/saml/reponse", base_url="https://idp.test", headers={"X-Request-Id": "ref-proxy-42"})
    )
    assert "Référence : ref-proxy-42" in page_text(page)
