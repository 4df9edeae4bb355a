"""Single Logout with an SP we did not write: OneLogin's python3-saml (issue 14, item 8).

The SP is registered with ÉduConnect only from its metadata, with the documented command
(``educonnect-bridge sp add``), and knows ÉduConnect only from ÉduConnect's metadata. It does
SP-initiated SLO, and receives ÉduConnect's LogoutRequest when the parent logs out at the ENT.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import lxml.html
import pytest
from click.testing import CliRunner
from flask import Flask

from educonnect_bridge.cli import main
from tests.browser import Browser, page_text
from tests.flows.saml_steps import PASSWORD, add_parent
from tests.onelogin_sp import BASE as SP
from tests.onelogin_sp import create_sp_app, onelogin_settings, sp_metadata

ENT = "https://ent.test"
IDP = "https://idp.test"


@dataclass
class Federation:
    idp: Flask
    ent: Flask
    sp: Flask
    idp_settings: dict

    def browser(self) -> Browser:
        return Browser({ENT: self.ent, IDP: self.idp, SP: self.sp})


@pytest.fixture(scope="module")
def federation(deployment, backend, stack, tmp_path_factory) -> Federation:
    root = tmp_path_factory.mktemp("onelogin")
    settings = onelogin_settings(stack.idp.extensions["idp"].saml.metadata, root)
    return registered_federation(deployment, backend, stack, root, settings)


def registered_federation(deployment, backend, stack, root, settings: dict, **idp_settings) -> Federation:
    """python3-saml's SP registered by ``sp add`` from its metadata, and an IdP that reads it
    (``idp_settings``: more of the IdP's settings)."""
    from idp import create_app as create_idp

    metadata_file = root / "sp-onelogin.xml"
    metadata_file.write_text(sp_metadata(settings))
    config_dir, sp_dir = root / "config", root / "service_providers"
    config_dir.mkdir()
    (config_dir / "idp.toml").write_text(f'service_providers_dir = "{sp_dir}"\n')
    added = CliRunner().invoke(
        main, ["sp", "add", str(metadata_file)], env={"EDUCONNECT_CONFIG_DIR": str(config_dir)}
    )
    assert added.exit_code == 0, added.output
    idp = create_idp(
        deployment.settings(
            "idp",
            backend.database_url,
            backend.redis_url,
            crypto_backend=backend.crypto,
            service_providers_dir=str(sp_dir),
            **idp_settings,
        )
    )
    return Federation(idp=idp, ent=stack.ent, sp=create_sp_app(settings), idp_settings=settings["idp"])


def test_the_independent_sp_finds_single_logout_in_our_metadata(federation):
    """python3-saml used to say « The IdP does not support Single Log Out »."""
    service = federation.idp_settings["singleLogoutService"]
    assert service["url"] == f"{IDP}/saml/slo"
    assert service["binding"] == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"


def signed_in_at_both(federation: Federation, browser: Browser) -> None:
    account = add_parent(federation.idp)
    login_page = browser.follow(browser.get(f"{SP}/login"))
    assert login_page.request.url == f"{IDP}/connexion", page_text(login_page)
    post_page = browser.follow(
        browser.submit(login_page, identifiant=account.identifier, mot_de_passe=PASSWORD)
    )
    at_sp = browser.follow(browser.submit(post_page, form_id="saml-post"))
    assert at_sp.status_code == 200 and at_sp.get_json()["name_id"], at_sp.get_data(as_text=True)
    # The same ÉduConnect session signs the parent in at the ENT, no password asked.
    ent_post = browser.follow(browser.get(f"{ENT}/connexion/educonnect"))
    assert 'name="SAMLResponse"' in ent_post.get_data(as_text=True)
    landing = browser.follow(browser.submit(ent_post, form_id="saml-post"))
    assert "Bonjour" in page_text(landing)


def frames_and_next(page) -> tuple[list[str], str]:
    doc = lxml.html.fromstring(page.get_data(as_text=True))
    frames = [urljoin(page.request.url, src) for src in doc.xpath("//iframe/@src")]
    (next_url,) = doc.xpath('//a[normalize-space()="Continuer"]/@href')
    return frames, urljoin(page.request.url, next_url)


def status_codes(location: str) -> list[str]:
    encoded = parse_qs(urlsplit(location).query)["SAMLResponse"][0]
    root = lxml.etree.fromstring(zlib.decompress(base64.b64decode(encoded), -15))
    return root.xpath("//*[local-name()='StatusCode']/@Value")


def assert_signed_out_everywhere(federation: Federation, browser: Browser) -> None:
    assert browser.get(f"{SP}/moi").get_json()["name_id"] is None
    assert browser.get(f"{ENT}/accueil").headers["Location"] == "/"
    login = browser.follow(browser.get(f"{ENT}/connexion/educonnect"))
    assert login.request.url == f"{IDP}/connexion"  # ÉduConnect asks for the password again


def test_sp_initiated_logout_reaches_the_ent_and_answers_success(federation):
    browser = federation.browser()
    signed_in_at_both(federation, browser)
    progress = browser.get(browser.get(f"{SP}/logout").headers["Location"])
    assert progress.status_code == 200 and "Déconnexion en cours" in page_text(progress)
    frames, next_url = frames_and_next(progress)
    assert [urlsplit(f).path for f in frames] == ["/saml/slo"] and frames[0].startswith(ENT)
    done = browser.follow(browser.get(frames[0]))  # the ENT answers ÉduConnect inside the frame
    assert done.request.url.startswith(f"{IDP}/saml/slo?SAMLResponse=") and done.status_code == 200
    assert "frame-ancestors 'self'" in done.headers["Content-Security-Policy"]
    answer = browser.get(next_url)
    assert answer.headers["Location"].startswith(f"{SP}/sls?SAMLResponse=")
    assert status_codes(answer.headers["Location"]) == ["urn:oasis:names:tc:SAML:2.0:status:Success"]
    at_sp = browser.follow(answer)
    assert at_sp.status_code == 200 and at_sp.get_json() == {"logged_out": True}, at_sp.get_data(as_text=True)
    assert_signed_out_everywhere(federation, browser)


def log_out_at_the_ent(browser: Browser):
    to_idp = browser.submit(browser.get(f"{ENT}/deconnexion"))
    progress = browser.get(to_idp.headers["Location"])
    assert progress.status_code == 200, page_text(progress)
    return progress


def test_logout_at_the_ent_sends_the_independent_sp_a_logout_request(federation):
    browser = federation.browser()
    signed_in_at_both(federation, browser)
    frames, next_url = frames_and_next(log_out_at_the_ent(browser))
    assert len(frames) == 1 and frames[0].startswith(f"{SP}/sls?SAMLRequest=")
    answered = browser.get(frames[0])  # python3-saml checks our signed LogoutRequest, answers it
    assert answered.status_code == 302, answered.get_data(as_text=True)
    assert browser.get(answered.headers["Location"]).status_code == 200  # its LogoutResponse, checked
    after = browser.follow(browser.get(next_url))
    assert after.request.url.startswith(f"{ENT}/saml/slo?SAMLResponse=")
    assert "ainsi que des services où vous étiez connecté" in page_text(after)
    assert_signed_out_everywhere(federation, browser)


def test_a_participant_that_does_not_answer_gives_partial_logout(federation):
    browser = federation.browser()
    signed_in_at_both(federation, browser)
    _, next_url = frames_and_next(log_out_at_the_ent(browser))  # the SP's frame never loads
    answer = browser.get(next_url)
    assert status_codes(answer.headers["Location"]) == [
        "urn:oasis:names:tc:SAML:2.0:status:Success",
        "urn:oasis:names:tc:SAML:2.0:status:PartialLogout",
    ]
    after = browser.follow(answer)
    assert "n'a pas confirmé votre déconnexion" in page_text(after)
    assert browser.get(f"{ENT}/accueil").headers["Location"] == "/"
    login = browser.follow(browser.get(f"{ENT}/connexion/educonnect"))
    assert login.request.url == f"{IDP}/connexion"  # ÉduConnect's session is over all the same


def test_a_logout_response_to_no_request_of_ours_is_refused(federation):
    browser = federation.browser()
    signed_in_at_both(federation, browser)
    frames, _ = frames_and_next(log_out_at_the_ent(browser))
    answered = browser.get(frames[0])
    location = answered.headers["Location"]
    assert browser.get(location).status_code == 200
    replayed = browser.get(location)  # the same LogoutResponse again
    assert replayed.status_code == 400 and "SAMLResponse" not in page_text(replayed)
