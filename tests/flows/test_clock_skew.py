"""A Response refused only because it is dated outside the time window (DESIGN §5, ±3 min): the
log says by how much the partner's clock is off, with the request id; the parent is told to try
again, with the way back (issue 13 item 4). The window stays strict: the existing negative tests
(tests/flows/test_aten_response_checks.py) keep their 400.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time

import lxml.html
import pytest
import saml2.time_util

from federation.keys import key_pair
from tests.browser import Browser, page_text
from tests.flows.forged_responses import Signer, pending_request_id, set_times, signed_form, unsigned_response
from tests.flows.saml_steps import add_parent, response_page
from tests.flows.transition_steps import aten_login_page, forget_transitions

TITLE = "Connexion momentanément impossible"


@pytest.fixture
def browser(stack):
    forget_transitions(stack)
    return Browser(stack.apps())


@pytest.fixture
def aten_signer(deployment):
    pair = key_pair(deployment.certs_dir, "aten", "signing")
    return Signer(pair.key_file, pair.cert_file)


def pending_to_aten(browser: Browser) -> str:
    aten_login_page(browser)
    sso_url = next(h.split(" ", 1)[1] for h in browser.history if "aten.test/saml/sso" in h)
    return pending_request_id(sso_url)


def refusal_logged(caplog, reference: str) -> float:
    """The offset in the log line of the refusal whose page shows ``reference``."""
    lines = [r.getMessage() for r in caplog.records if f"request_id={reference}" in r.getMessage()]
    (line,) = [m for m in lines if "horloge_decalee" in m]
    match = re.search(r"offset_seconds=([+-]\d+)", line)
    assert match, line
    assert "allowed_seconds=180" in line
    return float(match.group(1))


def reference_on(page) -> str:
    match = re.search(r"Référence : ([0-9a-f]+)", page_text(page))
    assert match, page_text(page)
    return match.group(1)


def links_of(page) -> dict[str, str]:
    doc = lxml.html.fromstring(page.get_data(as_text=True))
    return {" ".join(a.text_content().split()): a.get("href") for a in doc.xpath("//main//a")}


@pytest.mark.parametrize(("shift_minutes", "low", "high"), [(-10, -615, -599), (+4, 225, 241)])
def test_an_aten_response_outside_the_window_is_refused_with_its_offset_logged(
    browser, stack, aten_signer, caplog, shift_minutes, low, high
):
    root = unsigned_response(stack.aten.extensions["aten"].saml.server, pending_to_aten(browser))
    set_times(root, issued_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=shift_minutes))
    with caplog.at_level(logging.WARNING, logger="educonnect"):
        refused = browser.post("https://idp.test/saml/sp/acs", signed_form(root, aten_signer))
    assert refused.status_code == 400 and "Location" not in refused.headers
    assert TITLE in page_text(refused) and "Réessayez dans quelques minutes" in page_text(refused)
    assert links_of(refused)["Réessayer"] == "/transition/aten"  # a new request to ATEN
    assert low <= refusal_logged(caplog, reference_on(refused)) <= high
    assert browser.get("https://idp.test/transition/compte").status_code == 400  # nothing kept


def test_an_educonnect_response_outside_the_window_is_refused_at_the_ent(stack, caplog, monkeypatch):
    """The ENT's clock 10 minutes ahead of ÉduConnect's: pysaml2 reads the time it checks the
    window against from ``saml2.time_util.utc_now``, which the test moves for that check only."""
    browser = Browser({"https://ent.test": stack.ent, "https://idp.test": stack.idp})
    post_page = response_page(browser, add_parent(stack.idp))
    real_now = saml2.time_util.utc_now
    monkeypatch.setattr(saml2.time_util, "utc_now", lambda: real_now() + 600)
    services = stack.ent.extensions["ent"]
    ahead = dataclasses.replace(services.saml_sign_in, clock=lambda: time.time() + 600)
    monkeypatch.setitem(stack.ent.extensions, "ent", dataclasses.replace(services, saml_sign_in=ahead))
    with caplog.at_level(logging.WARNING, logger="educonnect"):
        refused = browser.submit(post_page, form_id="saml-post")
    assert refused.status_code == 400 and "Location" not in refused.headers
    assert TITLE in page_text(refused)
    assert links_of(refused)["Réessayer"] == "/"  # the portal, where both buttons are
    assert -615 <= refusal_logged(caplog, reference_on(refused)) <= -599


@pytest.mark.parametrize(("ahead_minutes", "low", "high"), [(-4, 235, 245), (14, -845, -835)])
def test_an_authn_request_outside_atens_window_is_a_clock_skew(
    stack, caplog, monkeypatch, ahead_minutes, low, high
):
    """ATEN's clock 4 minutes behind ÉduConnect's (the request is from its future, beyond the
    3-minute skew), or 14 ahead (the request is older than 10 minutes + the skew): refused with
    the page to try again and the offset logged (the window itself unchanged)."""
    services = stack.aten.extensions["aten"]
    moved = dataclasses.replace(
        services, clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=ahead_minutes)
    )
    monkeypatch.setitem(stack.aten.extensions, "aten", moved)
    browser = Browser(stack.apps())
    with caplog.at_level(logging.WARNING, logger="educonnect"):
        refused = browser.follow(browser.get("https://idp.test/transition/aten"))
    assert refused.request.url.startswith("https://aten.test/saml/sso")
    assert refused.status_code == 400 and TITLE in page_text(refused)
    assert "Réessayer" in links_of(refused)
    assert low <= refusal_logged(caplog, reference_on(refused)) <= high
