"""Light pages (issue 13, item 7) and a public service's chrome (item 8), in real Chromium.

Bytes are what Chromium received from the network for a page and everything it loaded (DevTools
Protocol ``Network.loadingFinished.encodedDataLength``: headers and compressed body; a file served
from the browser's cache counts 0), redirects on the way included. The first page of a service
with an empty cache stays under 150 KB, a later page under 30 KB.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Page

from federation.legal_pages import AXE_CORE_VERSION, AXE_TAGS
from tests.browser_e2e.parent_browser import AXE_PATH, ParentBrowser
from tests.browser_e2e.parent_browser import AXE_TAGS as SUITE_AXE_TAGS

FIRST_PAGE_BUDGET = 150_000
LATER_PAGE_BUDGET = 30_000
# Written at the end of the run, for docs/benchmarks.md.
MEASURES: dict[str, int] = {}


@dataclass
class Transfers:
    """Bytes received by one tab, per request, from a CDP session on it."""

    page: Page
    received: list[tuple[str, int]] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    encodings: dict[str, str] = field(default_factory=dict)  # url -> Content-Encoding

    def __post_init__(self) -> None:
        cdp = self.page.context.new_cdp_session(self.page)
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.send("Network.enable")

    def _sent(self, event: dict[str, Any]) -> None:
        redirect = event.get("redirectResponse")
        if redirect:  # the 302 that led here: its bytes are not reported by loadingFinished
            self.received.append((redirect["url"], int(redirect["encodedDataLength"])))
        self.urls[event["requestId"]] = event["request"]["url"]

    def _response(self, event: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
        self.encodings[event["response"]["url"]] = headers.get("content-encoding", "")

    def _finished(self, event: dict[str, Any]) -> None:
        url = self.urls.get(event["requestId"], "?")
        if not url.startswith("data:"):  # inline images of the stylesheet: no network
            self.received.append((url, int(event["encodedDataLength"])))

    def of(self, action: Callable[[], object]) -> tuple[int, str]:
        """Bytes received while ``action`` loads a page and all it needs; and their detail."""
        self.received.clear()
        action()
        self.page.wait_for_load_state("networkidle")
        self.page.evaluate("() => document.fonts.ready.then(() => true)")
        total = sum(size for _, size in self.received)
        detail = "\n".join(f"{size:>8} {url.split('?')[0]}" for url, size in self.received)
        return total, detail


def measure(label: str, transfers: Transfers, action: Callable[[], object], budget: int) -> int:
    total, detail = transfers.of(action)
    MEASURES[label] = total
    assert total <= budget, f"{label}: {total} octets > {budget}\n{detail}"
    return total


@pytest.fixture(scope="module", autouse=True)
def record_measures():
    yield
    if MEASURES:
        print("\npage weight (bytes received):", json.dumps(MEASURES, ensure_ascii=False, indent=1))


def sign_in_page_after_portal(parent: ParentBrowser, transfers: Transfers, protocol: str) -> None:
    def portal() -> None:
        parent.goto("ent", "/")

    measure(f"{protocol}: ENT, accueil (cache vide)", transfers, portal, FIRST_PAGE_BUDGET)
    parent.check("accueil")

    def sign_in_page() -> None:
        parent.click_link("Je dispose d'un compte Educonnect")
        parent.path_is("idp", "/connexion")

    measure(f"{protocol}: ÉduConnect, connexion (cache vide)", transfers, sign_in_page, FIRST_PAGE_BUDGET)
    parent.check("connexion")

    def wrong_password() -> None:
        parent.page.get_by_label("Identifiant").fill("c.martin1")
        parent.page.get_by_label("Mot de passe").fill("pas-le-bon")
        parent.click_button("Se connecter")
        parent.page.get_by_text("L'identifiant ou le mot de passe est incorrect.").first.wait_for()

    measure(f"{protocol}: ÉduConnect, erreur de connexion", transfers, wrong_password, LATER_PAGE_BUDGET)
    parent.check("erreur-connexion")
    measure(
        f"{protocol}: ÉduConnect, déclaration d'accessibilité",
        transfers,
        lambda: parent.click_link("Accessibilité : partiellement conforme"),
        LATER_PAGE_BUDGET,
    )
    parent.check("accessibilite")


def test_saml_pages_are_light_and_assets_compressed(parent):
    transfers = Transfers(parent.page)
    sign_in_page_after_portal(parent, transfers, "SAML")
    stylesheet = next(url for url in transfers.encodings if "/dsfr/dsfr-subset.min." in url)
    assert transfers.encodings[stylesheet] in ("br", "gzip"), transfers.encodings


def test_oidc_pages_are_light(oidc_parent):
    sign_in_page_after_portal(oidc_parent, Transfers(oidc_parent.page), "OIDC")


def test_aten_pages_are_light_and_name_the_academie(parent):
    transfers = Transfers(parent.page)
    parent.goto("ent", "/")
    parent.page.wait_for_load_state("networkidle")

    def aten_page() -> None:
        parent.click_link("Je n'ai pas de compte Educonnect")
        parent.path_is("aten", "/connexion")

    measure("SAML: ATEN, connexion (cache vide)", transfers, aten_page, FIRST_PAGE_BUDGET)
    header = parent.page.get_by_role("banner")
    assert header.locator(".fr-header__service-title").inner_text() == "ATEN"
    assert "Académie de Poitiers" in header.locator(".fr-header__service-tagline").inner_text()
    notice = header.locator(".fr-notice").inner_text()
    assert notice.startswith("Vous êtes sur ATEN, le service de l'académie de Poitiers"), notice
    parent.check("aten-connexion", phone=True)

    def wrong_password() -> None:
        parent.page.get_by_label("Identifiant").fill("mdurand")
        parent.page.get_by_label("Mot de passe").fill("pas-le-bon")
        parent.click_button("VALIDER")
        parent.page.get_by_text("Identifiant ou mot de passe incorrect").first.wait_for()

    measure("SAML: ATEN, erreur de connexion", transfers, wrong_password, LATER_PAGE_BUDGET)
    parent.check("aten-erreur")


def test_a_later_page_loads_no_asset_again(parent):
    """Immutable fingerprinted files: once cached, the browser does not even revalidate them."""
    parent.goto("ent", "/")
    parent.page.wait_for_load_state("networkidle")
    transfers = Transfers(parent.page)
    transfers.of(lambda: parent.click_link("Mentions légales"))
    # A file from the cache is reported with 0 bytes received; a revalidation (304) would count.
    assets = [(url, size) for url, size in transfers.received if "/static/" in url and size > 0]
    assert not assets, assets
    parent.check("mentions-legales")


# ---- a public service's chrome -------------------------------------------------------------

FOOTER_LINKS = {
    "Accessibilité : partiellement conforme": ("/accessibilite", "Déclaration d'accessibilité"),
    "Mentions légales": ("/mentions-legales", "Mentions légales"),
    "Données personnelles": ("/donnees-personnelles", "Données personnelles"),
}


@pytest.mark.parametrize("service", ["ent", "idp", "aten"])
def test_footer_leads_to_the_legal_pages_of_each_service(parent, service):
    for link, (path, heading) in FOOTER_LINKS.items():
        parent.goto(service, "/")
        parent.page.get_by_role("contentinfo").get_by_role("link", name=link, exact=True).click()
        parent.path_is(service, path)
        assert parent.page.get_by_role("heading", level=1).inner_text() == heading
        parent.check(f"{service}{path.replace('/', '-')}", phone=path == "/accessibilite")


@pytest.mark.parametrize("service", ["idp", "aten"])
def test_header_leads_back_to_services_en_ligne(parent, service):
    parent.goto(service, "/page-qui-n-existe-pas")
    parent.page.get_by_role("banner").get_by_role("link", name="Services en ligne", exact=True).click()
    parent.path_is("ent", "/")
    assert parent.page.get_by_role("heading", level=1).inner_text() == "Services en ligne"
    parent.goto(service, "/connexion")
    parent.page.set_viewport_size({"width": 360, "height": 900})  # no DSFR menu script: still shown
    assert parent.page.get_by_role("banner").get_by_role("link", name="Services en ligne").is_visible()
    parent.check(f"{service}-entete-telephone", phone=True)


def test_accessibility_statement_reports_what_the_suite_measures(parent):
    """The statement's axe-core version and rules are the ones every page of the suite passes."""
    installed = json.loads((AXE_PATH.parent / "package.json").read_text(encoding="utf-8"))["version"]
    assert installed == AXE_CORE_VERSION
    assert tuple(SUITE_AXE_TAGS) == AXE_TAGS
    parent.goto("idp", "/accessibilite")
    text = parent.page.get_by_role("main").inner_text()
    assert "partiellement conforme" in text and "RGAA), version 4.1" in text
    assert f"axe-core {AXE_CORE_VERSION}" in text and "aucune violation" in text
    for section in ("Non-conformités", "Retour d'information et contact", "Voies de recours"):
        assert parent.page.get_by_role("heading", name=section).is_visible()
    assert re.search(r"Défenseur des droits, Libre\s+réponse 71120", text)
    parent.check("declaration-accessibilite")
