"""A LogoutRequest at ÉduConnect is checked like an AuthnRequest (DESIGN §5, issue 14 item 1):
issuer from metadata, signature, Destination, IssueInstant window, ID consumed once, NameID and
SessionIndex of this session. Each refusal is a French error page and ends nothing."""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NameID
from saml2.xmldsig import SIG_RSA_SHA1, SIG_RSA_SHA256

from federation.stores import SESSION_PREFIX
from federation.web import get_store
from tests.browser import Browser, page_text
from tests.flows.saml_steps import add_parent, response_page

ENT = "https://ent.test"
IDP = "https://idp.test"
IDP_SLO = f"{IDP}/saml/slo"
IDP_ENTITY = f"{IDP}/saml/metadata"


@pytest.fixture
def browser(stack):
    return Browser({ENT: stack.ent, IDP: stack.idp})


@pytest.fixture
def subject(stack, browser):
    """A parent signed in at the ENT by SAML: what the ENT's LogoutRequest names."""
    post_page = response_page(browser, add_parent(stack.idp))
    browser.follow(browser.submit(post_page, form_id="saml-post"))
    cookie = browser.clients[ENT].get_cookie("ent_session", domain="ent.test")
    raw = get_store(stack.ent).get(SESSION_PREFIX + cookie.value)
    assert raw is not None
    return json.loads(raw)["saml_session"]


def logout_request_url(stack, subject, sign=True, sigalg=SIG_RSA_SHA256, **changes) -> str:
    """A LogoutRequest of the ENT (its own pysaml2 client and key), some fields changed."""
    client = stack.ent.extensions["ent"].saml.client
    _, request = client.create_logout_request(
        changes.pop("destination", IDP_SLO),
        IDP_ENTITY,
        name_id=NameID(
            text=changes.pop("name_id", subject["name_id"]),
            format=subject["name_format"],
            name_qualifier=subject["name_qualifier"],
            sp_name_qualifier=subject["sp_name_qualifier"],
        ),
        session_indexes=[changes.pop("session_index", subject["session_index"])],
        sign=False,
    )
    for name, value in changes.items():
        setattr(request, name, value)
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(request), IDP_SLO, "", sign=sign, sigalg=sigalg)
    return dict(info["headers"])["Location"]


def assert_refused_and_signed_in(browser, response):
    assert response.status_code == 400, page_text(response)
    assert "SAMLResponse" not in response.headers.get("Location", "")
    assert "Référence" in page_text(response) or "refusé" in page_text(response).lower()
    again = browser.follow(browser.get(f"{ENT}/connexion/educonnect"))
    assert 'name="SAMLResponse"' in again.get_data(as_text=True)  # ÉduConnect's session goes on


def test_the_ents_own_request_is_accepted(stack, browser, subject):
    """The baseline the refusals below differ from by one field."""
    answer = browser.get(logout_request_url(stack, subject))
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(f"{ENT}/saml/slo?SAMLResponse=")


def test_unsigned_request_is_refused(stack, browser, subject):
    assert_refused_and_signed_in(browser, browser.get(logout_request_url(stack, subject, sign=False)))


def test_sha1_signature_is_refused(stack, browser, subject):
    url = logout_request_url(stack, subject, sigalg=SIG_RSA_SHA1)
    assert_refused_and_signed_in(browser, browser.get(url))


def test_a_forged_signature_is_refused(stack, browser, subject):
    parts = urlsplit(logout_request_url(stack, subject))
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    signature = bytearray(base64.b64decode(query["Signature"]))
    signature[10] ^= 0xFF
    query["Signature"] = base64.b64encode(bytes(signature)).decode()
    assert_refused_and_signed_in(browser, browser.get(f"{IDP_SLO}?{urlencode(query)}"))


def test_a_request_altered_after_signing_is_refused(stack, browser, subject):
    parts = urlsplit(logout_request_url(stack, subject))
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15)
    altered = xml.replace(subject["name_id"].encode(), b"quelqu-un-d-autre")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    query["SAMLRequest"] = base64.b64encode(compressor.compress(altered) + compressor.flush()).decode()
    assert_refused_and_signed_in(browser, browser.get(f"{IDP_SLO}?{urlencode(query)}"))


def test_unknown_issuer_gets_an_error_page_never_a_redirect(stack, browser, subject):
    client = stack.ent.extensions["ent"].saml.client
    _, request = client.create_logout_request(
        IDP_SLO, IDP_ENTITY, name_id=NameID(text=subject["name_id"]), session_indexes=["x"], sign=False
    )
    request.issuer.text = "https://inconnu.test/saml/metadata"
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(request), IDP_SLO, "", sign=True)
    response = browser.get(dict(info["headers"])["Location"])
    assert_refused_and_signed_in(browser, response)


@pytest.mark.parametrize("destination", ["https://idp.test/autre", None])
def test_wrong_or_missing_destination_is_refused(stack, browser, subject, destination):
    url = logout_request_url(stack, subject, destination=destination)
    assert_refused_and_signed_in(browser, browser.get(url))


@pytest.mark.parametrize("shift", [dt.timedelta(minutes=-20), dt.timedelta(minutes=10)])
def test_issue_instant_outside_the_window_is_refused(stack, browser, subject, shift):
    instant = (dt.datetime.now(dt.UTC) + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = logout_request_url(stack, subject, issue_instant=instant)
    assert_refused_and_signed_in(browser, browser.get(url))


def test_a_replayed_request_is_refused(stack, browser, subject):
    url = logout_request_url(stack, subject)
    assert browser.get(url).status_code == 302  # first use: the session ends
    post_page = response_page(browser, add_parent(stack.idp, "Paul", "Durand"))  # a new session
    browser.follow(browser.submit(post_page, form_id="saml-post"))
    replayed = browser.get(url)
    assert "message_rejoue" not in page_text(replayed)  # the code is for the log only
    assert_refused_and_signed_in(browser, replayed)


def test_another_name_id_is_refused(stack, browser, subject):
    url = logout_request_url(stack, subject, name_id="un-autre-parent")
    assert_refused_and_signed_in(browser, browser.get(url))


def test_another_session_index_is_refused(stack, browser, subject):
    url = logout_request_url(stack, subject, session_index="id-d-une-autre-session")
    assert_refused_and_signed_in(browser, browser.get(url))


def test_doctype_and_oversized_requests_are_refused(stack, browser, subject):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    xml = (
        b'<!DOCTYPE x [<!ENTITY a "b">]>'
        b'<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>'
    )
    doctype = base64.b64encode(compressor.compress(xml) + compressor.flush()).decode()
    assert_refused_and_signed_in(browser, browser.get(f"{IDP_SLO}?{urlencode({'SAMLRequest': doctype})}"))
    huge = "A" * (17 * 1024)
    assert_refused_and_signed_in(browser, browser.get(f"{IDP_SLO}?{urlencode({'SAMLRequest': huge})}"))


def test_an_unsigned_post_request_is_refused(stack, browser, subject):
    client = stack.ent.extensions["ent"].saml.client
    _, request = client.create_logout_request(
        IDP_SLO,
        IDP_ENTITY,
        name_id=NameID(text=subject["name_id"]),
        session_indexes=[subject["session_index"]],
        sign=False,
    )
    encoded = base64.b64encode(str(request).encode()).decode()
    response = browser.post(IDP_SLO, data={"SAMLRequest": encoded})
    assert_refused_and_signed_in(browser, response)
