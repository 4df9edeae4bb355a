"""AuthnRequests by HTTP-POST (SAML bindings §3.5) at ÉduConnect and at ATEN: the same rules as
by HTTP-Redirect (DESIGN §5), the signature enveloped in the request (SAML core §5.4).

Each accepted case is the control of the refusals: the same request, signed by the SP's key,
unbent, goes through to a Response the SP accepts; a refusal therefore means the bent part.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from federation.saml_idp import MAX_POST_REQUEST_CHARS
from tests.browser import Browser, page_text
from tests.flows.post_binding import SAML, SAMLP, Signer, post_fields
from tests.flows.saml_steps import PASSWORD, add_parent
from tests.flows.transition_steps import ATEN_PARENTS, forget_transitions

IDP_SSO = "https://idp.test/saml/sso"
ATEN_SSO = "https://aten.test/saml/sso"
REFUSED = "Demande de connexion refusée"
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"


@pytest.fixture
def browser(stack) -> Browser:
    return Browser(stack.apps())


@pytest.fixture
def ent_signer(deployment) -> Signer:
    return Signer.of(deployment.certs_dir, "ent")


@pytest.fixture
def educonnect_signer(deployment) -> Signer:
    return Signer.of(deployment.certs_dir, "idp")


def ent_request_url(browser: Browser) -> str:
    """The ENT's signed Redirect URL to ÉduConnect, not followed: the request waits at the ENT."""
    to_idp = browser.get("https://ent.test/connexion/educonnect")
    assert to_idp.status_code == 302 and to_idp.headers["Location"].startswith(IDP_SSO + "?")
    return to_idp.headers["Location"]


def educonnect_request_url(browser: Browser) -> str:
    """ÉduConnect's signed Redirect URL to ATEN, not followed: the request waits at ÉduConnect."""
    to_aten = browser.get("https://idp.test/transition/aten")
    assert to_aten.status_code == 302 and to_aten.headers["Location"].startswith(ATEN_SSO + "?")
    return to_aten.headers["Location"]


def assert_refused(response, title: str = REFUSED) -> None:
    assert response.status_code == 400, page_text(response)
    assert "Location" not in response.headers  # an error page, never a redirect
    assert title in page_text(response)
    assert "Traceback" not in response.get_data(as_text=True)


def assert_goes_to_login(response) -> None:
    assert response.status_code == 302, page_text(response)
    assert response.headers["Location"].endswith("/connexion")


# ---- metadata ---------------------------------------------------------------------------------


@pytest.mark.parametrize("base", ["https://idp.test", "https://aten.test"])
def test_metadata_lists_the_http_post_single_sign_on_service(stack, base):
    app = stack.apps()[base]
    root = etree.fromstring(app.test_client().get("/saml/metadata", base_url=base).get_data())
    (idp,) = root.findall(f"{MD}IDPSSODescriptor")
    services = {(s.get("Binding"), s.get("Location")) for s in idp.findall(f"{MD}SingleSignOnService")}
    assert services == {(REDIRECT, f"{base}/saml/sso"), (POST, f"{base}/saml/sso")}
    assert idp.get("WantAuthnRequestsSigned") == "true"


# ---- the successful paths -----------------------------------------------------------------------


def test_ent_request_by_http_post_signs_the_parent_in_at_the_ent(stack, browser, ent_signer):
    parent = add_parent(stack.idp)
    fields = post_fields(ent_request_url(browser), ent_signer)
    to_login = browser.post(IDP_SSO, fields)  # cross-site, no CSRF token: the signature protects it
    assert_goes_to_login(to_login)
    login_page = browser.follow(to_login)
    post_page = browser.follow(
        browser.submit(login_page, identifiant=parent.identifier, mot_de_passe=PASSWORD)
    )
    assert post_page.request.path == "/saml/reponse", page_text(post_page)
    landing = browser.follow(browser.submit(post_page, form_id="saml-post"))
    assert landing.request.path == "/accueil"
    assert "Bonjour Claire Martin" in page_text(landing)


def test_educonnect_request_by_http_post_at_aten_continues_the_transition(stack, browser, educonnect_signer):
    forget_transitions(stack)
    fields = post_fields(educonnect_request_url(browser), educonnect_signer)
    to_login = browser.post(ATEN_SSO, fields)
    assert_goes_to_login(to_login)
    login_page = browser.follow(to_login)
    assert "VALIDER" in page_text(login_page)
    uid = "mdurand"
    post_page = browser.submit(login_page, identifiant=uid, mot_de_passe=ATEN_PARENTS[uid][0])
    assert post_page.status_code == 200, page_text(post_page)
    confirmed = browser.follow(browser.submit(post_page, form_id="saml-post"))
    assert confirmed.request.path == "/transition/compte", page_text(confirmed)
    assert "Choisir mon mot de passe" in page_text(confirmed)


def test_a_signed_in_parent_is_answered_by_the_post_itself(stack, browser, ent_signer):
    parent = add_parent(stack.idp)
    login_page = browser.follow(browser.post(IDP_SSO, post_fields(ent_request_url(browser), ent_signer)))
    post_page = browser.follow(
        browser.submit(login_page, identifiant=parent.identifier, mot_de_passe=PASSWORD)
    )
    assert browser.follow(browser.submit(post_page, form_id="saml-post")).request.path == "/accueil"
    again = browser.post(IDP_SSO, post_fields(ent_request_url(browser), ent_signer))
    # The ÉduConnect session came with the POST: no password asked (a browser sends the cookie
    # cross-site because it is SameSite=None outside the demo; this test client does not check).
    assert again.status_code == 200 and 'name="SAMLResponse"' in again.get_data(as_text=True)
    landing = browser.follow(browser.submit(again, form_id="saml-post"))
    assert landing.request.path == "/accueil"


def test_the_same_browser_may_post_its_request_again(browser, ent_signer):
    fields = post_fields(ent_request_url(browser), ent_signer)
    assert_goes_to_login(browser.post(IDP_SSO, fields))
    assert_goes_to_login(browser.post(IDP_SSO, fields))  # Back, or the form posted again


# ---- refusals ------------------------------------------------------------------------------------


def _set(name: str, value: str) -> Callable[[etree._Element], None]:
    return lambda root: root.set(name, value)


def _issuer(value: str) -> Callable[[etree._Element], None]:
    def bend(root: etree._Element) -> None:
        root.find(f"{{{SAML}}}Issuer").text = value

    return bend


def _issued(delta: dt.timedelta) -> Callable[[etree._Element], None]:
    stamp = (dt.datetime.now(dt.UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _set("IssueInstant", stamp)


def _add_attribute_after_signing(xml: bytes) -> bytes:
    root = etree.fromstring(xml)
    root.set("ForceAuthn", "true")
    return etree.tostring(root)


def _wrapped_under_a_new_root(xml: bytes) -> bytes:
    """Signature wrapping: an unsigned request (new ID, new ACS index) carries the signed one in its
    Extensions, and the genuine signature (Reference to the inner ID) as its own."""
    signed = etree.fromstring(xml)
    evil = copy.deepcopy(signed)
    evil.set("ID", "_wrapping" + signed.get("ID")[1:])
    evil.set("ForceAuthn", "true")
    extensions = etree.Element(f"{{{SAMLP}}}Extensions")
    extensions.append(signed)
    evil.find("{http://www.w3.org/2000/09/xmldsig#}Signature").addnext(extensions)
    return etree.tostring(evil)


def _wrapped_with_the_same_id(xml: bytes) -> bytes:
    """Signature wrapping: the root is altered but keeps its ID; a signed copy sits in Extensions."""
    signed = etree.fromstring(xml)
    evil = copy.deepcopy(signed)
    evil.set("ForceAuthn", "true")
    extensions = etree.Element(f"{{{SAMLP}}}Extensions")
    extensions.append(signed)
    evil.find("{http://www.w3.org/2000/09/xmldsig#}Signature").addnext(extensions)
    return etree.tostring(evil)


def _assertion_beside(xml: bytes) -> bytes:
    """Signature wrapping: an Assertion-like element carries the signed ID; the root has another."""
    signed = etree.fromstring(xml)
    decoy = etree.SubElement(etree.Element(f"{{{SAMLP}}}Extensions"), f"{{{SAML}}}Assertion")
    decoy.set("ID", signed.get("ID"))
    signed.set("ID", "_other" + signed.get("ID")[1:])
    signed.find("{http://www.w3.org/2000/09/xmldsig#}Signature").addnext(decoy.getparent())
    return etree.tostring(signed)


def _deflated(xml: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(xml) + compressor.flush()


def _with_doctype(xml: bytes) -> bytes:
    return b'<!DOCTYPE r [<!ENTITY e "ecole">]>' + xml


REFUSALS: dict[str, dict[str, Any]] = {
    "unsigned": {"signer": None},
    "signed by a key not in the SP's metadata": {"signer": "stranger"},
    "signed with RSA-SHA1": {"signer": "sha1"},
    "tampered after signing": {"after_signing": _add_attribute_after_signing},
    "wrapping: signed request inside a new root": {"after_signing": _wrapped_under_a_new_root},
    "wrapping: signed copy with the same ID inside": {"after_signing": _wrapped_with_the_same_id},
    "wrapping: reference to an Assertion-like element": {"after_signing": _assertion_beside},
    "wrong Destination": {"bend": _set("Destination", "https://evil.test/saml/sso")},
    "ACS not in metadata": {"bend": _set("AssertionConsumerServiceURL", "https://evil.test/saml/acs")},
    "DOCTYPE": {"after_signing": _with_doctype},
    "deflated (the Redirect encoding)": {"after_signing": _deflated},
}


@pytest.mark.parametrize("sso", [IDP_SSO, ATEN_SSO], ids=["educonnect", "aten"])
@pytest.mark.parametrize("case", list(REFUSALS))
def test_bent_post_requests_are_refused(browser, deployment, tmp_path, sso, case):
    options = REFUSALS[case]
    if sso == IDP_SSO:
        url, signer = ent_request_url(browser), Signer.of(deployment.certs_dir, "ent")
    else:
        url, signer = educonnect_request_url(browser), Signer.of(deployment.certs_dir, "idp")
    chosen: Signer | None = signer
    if options.get("signer") == "stranger":
        chosen = Signer.stranger(tmp_path)
    elif options.get("signer") == "sha1":
        chosen = dataclasses.replace(signer, sha1=True)
    elif "signer" in options:
        chosen = options["signer"]
    fields = post_fields(url, chosen, bend=options.get("bend"), after_signing=options.get("after_signing"))
    assert_refused(browser.post(sso, fields))


@pytest.mark.parametrize("sso", [IDP_SSO, ATEN_SSO], ids=["educonnect", "aten"])
def test_post_request_from_an_unknown_issuer_gets_an_error_page(browser, deployment, sso):
    url = ent_request_url(browser) if sso == IDP_SSO else educonnect_request_url(browser)
    signer = Signer.of(deployment.certs_dir, "ent" if sso == IDP_SSO else "idp")
    fields = post_fields(url, signer, bend=_issuer("https://evil.test/saml/metadata"))
    assert_refused(browser.post(sso, fields), "Service inconnu")


@pytest.mark.parametrize("sso", [IDP_SSO, ATEN_SSO], ids=["educonnect", "aten"])
@pytest.mark.parametrize("delta", [dt.timedelta(hours=-1), dt.timedelta(hours=1)], ids=["old", "future"])
def test_post_request_issued_outside_the_window_is_refused(browser, deployment, sso, delta):
    url = ent_request_url(browser) if sso == IDP_SSO else educonnect_request_url(browser)
    signer = Signer.of(deployment.certs_dir, "ent" if sso == IDP_SSO else "idp")
    refused = browser.post(sso, post_fields(url, signer, bend=_issued(delta)))
    assert refused.status_code == 400
    assert "Location" not in refused.headers
    assert "Connexion momentanément impossible" in page_text(refused)


@pytest.mark.parametrize("sso", [IDP_SSO, ATEN_SSO], ids=["educonnect", "aten"])
def test_post_request_replayed_from_another_browser_is_refused(stack, deployment, sso):
    first = Browser(stack.apps())
    url = ent_request_url(first) if sso == IDP_SSO else educonnect_request_url(first)
    fields = post_fields(url, Signer.of(deployment.certs_dir, "ent" if sso == IDP_SSO else "idp"))
    assert_goes_to_login(first.post(sso, fields))
    assert_refused(Browser(stack.apps()).post(sso, fields))


@pytest.mark.parametrize("sso", [IDP_SSO, ATEN_SSO], ids=["educonnect", "aten"])
@pytest.mark.parametrize(
    "fields",
    [{}, {"SAMLRequest": "A" * (MAX_POST_REQUEST_CHARS + 4)}, {"SAMLRequest": "pas du base64 !"}],
    ids=["absent", "oversize", "undecodable"],
)
def test_absent_oversize_or_undecodable_post_request_is_refused(browser, sso, fields):
    assert_refused(browser.post(sso, fields))
