"""A public service's chrome (issue 13, item 8) on the three services, with production settings:
the footer's legal links on every page, the legal pages themselves, ATEN's name, and pages never
cached (only the fingerprinted static files are)."""

from __future__ import annotations

import lxml.html
import pytest

from federation.legal_pages import AXE_CORE_VERSION
from tests.browser import Browser, page_text
from tests.conftest import BASE_URLS

FOOTER_LINKS = {
    "Accessibilité : partiellement conforme": "/accessibilite",
    "Mentions légales": "/mentions-legales",
    "Données personnelles": "/donnees-personnelles",
}
PAGES = [
    ("ent", "/"),
    ("ent", "/page-qui-n-existe-pas"),
    ("idp", "/connexion"),
    ("idp", "/transition/mot-de-passe"),  # an error page: session expired
    ("aten", "/"),
    ("aten", "/connexion"),  # no request in flight: an error page
    ("idp", "/accessibilite"),
]


@pytest.fixture
def browser(stack):
    return Browser(stack.apps())


def footer_links(html: str) -> dict[str, str]:
    doc = lxml.html.fromstring(html)
    links = doc.xpath('//footer[@role="contentinfo"]//a[@class="fr-footer__bottom-link"]')
    return {" ".join(a.text_content().split()): a.get("href") for a in links}


@pytest.mark.parametrize(("service", "path"), PAGES)
def test_every_page_links_its_legal_pages_from_the_footer(browser, service, path):
    page = browser.get(BASE_URLS[service] + path)
    assert footer_links(page.get_data(as_text=True)) == FOOTER_LINKS
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("service", ["ent", "idp", "aten"])
def test_the_legal_pages_of_each_service(browser, service):
    legal = browser.get(f"{BASE_URLS[service]}/mentions-legales")
    assert legal.status_code == 200 and "Éditeur" in page_text(legal)
    data = browser.get(f"{BASE_URLS[service]}/donnees-personnelles")
    text = page_text(data)
    assert "Responsable du traitement" in text and "Vos droits" in text and "CNIL" in text
    assert "Aucun cookie de mesure d'audience" in text
    statement = browser.get(f"{BASE_URLS[service]}/accessibilite")
    text = page_text(statement)
    assert statement.status_code == 200 and statement.headers["Cache-Control"] == "no-store"
    assert "Déclaration d'accessibilité" in text and "partiellement conforme" in text
    assert "(RGAA), version 4.1" in text and f"axe-core {AXE_CORE_VERSION}" in text
    for section in ("Non-conformités", "Retour d'information et contact", "Voies de recours"):
        assert section in text
    assert BASE_URLS[service] in text  # the statement names the service it applies to


def test_the_portal_has_no_header_link_to_itself(browser):
    html = browser.get(f"{BASE_URLS['ent']}/").get_data(as_text=True)
    assert "fr-header__tools" not in html


def test_aten_pages_say_they_are_aten(browser):
    page = browser.get(f"{BASE_URLS['aten']}/")
    doc = lxml.html.fromstring(page.get_data(as_text=True))
    assert doc.xpath("string(//p[@class='fr-header__service-title'])") == "ATEN"
    assert doc.xpath("string(//title)").endswith("– ATEN")
    notice = " ".join(doc.xpath("string(//header//*[@class='fr-notice__title'])").split())
    assert notice.startswith("Vous êtes sur ATEN")
    # ÉduConnect's pages have no such banner: the two services no longer look the same
    idp = browser.get(f"{BASE_URLS['idp']}/connexion").get_data(as_text=True)
    assert "fr-notice" not in idp
