"""« Boîte de réception de la démo » (issue 18 item 4): the demo delivers into a local mailbox and
shows it on a page of its own; in production that page does not exist."""

from __future__ import annotations

import pytest

from tests.browser import Browser, page_text
from tests.flows.saml_steps import add_parent
from tests.flows.self_service_steps import IDP, ask_recovery, give_confirmed_address, new_address


@pytest.fixture(scope="module")
def demo_idp(deployment, stack, tmp_path_factory):
    from idp import create_app

    mailbox = tmp_path_factory.mktemp("mailbox")
    backend = stack.backend
    settings = deployment.settings(
        "idp",
        backend.database_url,
        backend.redis_url,
        crypto_backend=backend.crypto,
        mode="demo",
        cookie_samesite="Lax",
        mail={"mailbox_dir": str(mailbox)},
    )
    assert settings.mail.transport == "mailbox"
    return create_app(settings)


def test_the_demo_shows_the_recovery_mail_and_its_link_works(demo_idp):
    parent = add_parent(demo_idp)
    address = new_address()
    give_confirmed_address(demo_idp, parent, address)
    browser = Browser({IDP: demo_idp})
    sent = browser.follow(ask_recovery(browser, address))
    inbox = browser.get(f"{IDP}/demo/boite-de-reception")
    assert "Boîte de réception de la démo" in page_text(sent)
    text = page_text(inbox)
    assert inbox.status_code == 200 and "Boîte de réception de la démo" in text
    assert address in text and parent.identifier in text
    import lxml.html

    doc = lxml.html.fromstring(inbox.get_data(as_text=True))
    (href,) = doc.xpath('//main//a[normalize-space()="Choisir un nouveau mot de passe"]/@href')[:1]
    form = browser.get(href)
    assert form.status_code == 200 and parent.identifier in page_text(form)


def test_there_is_no_demo_mailbox_in_production(stack):
    answer = stack.idp.test_client().get("/demo/boite-de-reception", base_url=IDP)
    assert answer.status_code == 404
