"""An SP whose metadata lists its SingleLogoutService with the HTTP-POST binding only gets
ÉduConnect's LogoutRequest posted to it (SAML bindings §3.5) and its LogoutResponse is counted.

Found by the interop suite (issue 16 item 6): ÉduConnect used to skip such an SP (pysaml2 raises
UnsupportedBinding for the Redirect binding, which ended the search before HTTP-POST was tried),
and even once found, the logout page framed the SP's endpoint itself instead of the page of ours
that posts the signed LogoutRequest. Here the demo ENT (whose /saml/slo takes both bindings) is
registered from its metadata without the HTTP-Redirect SingleLogoutService; the parent, signed
in there and at python3-saml's SP, logs out at the latter.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from tests.browser import page_text
from tests.flows.test_slo_interop_python3_saml import (
    ENT,
    IDP,
    SP,
    Federation,
    frames_and_next,
    registered_federation,
    signed_in_at_both,
    status_codes,
)
from tests.onelogin_sp import onelogin_settings

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"


def with_http_post_logout_only(metadata: Path, target: Path) -> Path:
    root = etree.fromstring(metadata.read_bytes())
    for service in root.iter(f"{{{MD}}}SingleLogoutService"):
        if service.get("Binding") == REDIRECT:
            service.getparent().remove(service)
    bindings = [s.get("Binding") for s in root.iter(f"{{{MD}}}SingleLogoutService")]
    assert bindings == ["urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"], bindings
    target.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return target


@pytest.fixture(scope="module")
def federation(deployment, backend, stack, tmp_path_factory) -> Federation:
    root = tmp_path_factory.mktemp("post-slo-ent")
    settings = onelogin_settings(stack.idp.extensions["idp"].saml.metadata, root)
    ent_metadata = with_http_post_logout_only(
        deployment.metadata("ent.xml", backend.crypto), root / "ent-post-slo.xml"
    )
    return registered_federation(
        deployment, backend, stack, root, settings, service_providers=[{"metadata": str(ent_metadata)}]
    )


def test_the_logout_request_is_posted_to_the_sp_and_its_answer_counted(federation: Federation):
    browser = federation.browser()
    signed_in_at_both(federation, browser)
    progress = browser.get(browser.get(f"{SP}/logout").headers["Location"])
    assert progress.status_code == 200 and "Déconnexion en cours" in page_text(progress)
    frames, next_url = frames_and_next(progress)
    assert len(frames) == 1 and urlsplit(frames[0]).path.startswith("/saml/slo/envoi/"), frames
    assert ENT in progress.headers["Content-Security-Policy"]  # the frame goes there once posted
    posting = browser.get(frames[0])  # our page in the frame: the signed LogoutRequest in a form
    assert 'name="SAMLRequest"' in posting.get_data(as_text=True)
    answered = browser.follow(browser.submit(posting, form_id="saml-post"))
    assert answered.request.url.startswith(f"{IDP}/saml/slo?SAMLResponse=") and answered.status_code == 200
    answer = browser.get(next_url)
    assert status_codes(answer.headers["Location"]) == ["urn:oasis:names:tc:SAML:2.0:status:Success"]
    assert browser.get(f"{ENT}/accueil").headers["Location"] == "/"  # the ENT's session is over
