"""No dead end (issue 13 item 4): every page a parent can land on, each error page included,
offers a way back. These tests enumerate the pages, so that a new one without a way back fails:
every typed failure of the three services, every page template, and the pages a browser meets
when something is stale (404, 405, an expired form, a lost session, a refused request).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import lxml.html
import pytest
from flask import Flask, render_template

import aten_adapter
import federation
import idp
import sp_ent
from federation.errors import FederationError
from federation.web import ERROR_PAGES, HELP_URL, SERVICE_TAGLINES, layout
from tests.browser import Browser

ROOT = Path(__file__).resolve().parents[2]
# Failures shown on the form they come from, with the form itself as the way on (not error.html).
SHOWN_ON_THEIR_FORM = {
    "identifiants_invalides": "the login form, with the identifier kept",
    "mot_de_passe_invalide": "« Choisir mon mot de passe », each failed rule named",
    "date_naissance_incorrecte": "« Ajout d'élèves », the attempt counted",
    "etablissement_non_autorise": "sp_ent's own page, back to the establishment chooser",
}
PORTAL = "https://ent.test/"


def every_failure() -> dict[str, type[FederationError]]:
    for package in (federation, idp, sp_ent, aten_adapter):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if "migrations" not in module.name:
                importlib.import_module(module.name)
    found: dict[str, type[FederationError]] = {}
    pending = [FederationError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_typed_failure_has_a_french_page():
    failures = every_failure()
    assert {"session_expiree", "horloge_decalee", "aten_refus", "message_refuse"} <= set(failures)
    missing = sorted(set(failures) - set(ERROR_PAGES) - set(SHOWN_ON_THEIR_FORM))
    assert not missing, f"no page in federation.web.ERROR_PAGES for {missing}"


def main_links(html: str) -> dict[str, str]:
    doc = lxml.html.fromstring(html)
    return {" ".join(a.text_content().split()): a.get("href") for a in doc.xpath("//main//a[@href]")}


@pytest.mark.parametrize("code", sorted(ERROR_PAGES))
@pytest.mark.parametrize("portal_url", [PORTAL, None])
def test_every_error_page_leads_back(code, portal_url):
    """« Recommencer » (or the page's own action) to where this service restarts, and
    « Revenir aux Services en ligne » where the portal is configured, besides the help page."""
    app = Flask("error_pages")
    app.register_blueprint(layout)
    app.jinja_env.globals.update(
        service_title="ÉduConnect", service_tagline=SERVICE_TAGLINES["idp"], help_url=HELP_URL
    )
    app.jinja_env.globals["portal_url"] = portal_url
    page = ERROR_PAGES[code]
    with app.test_request_context("/"):
        html = render_template("error.html", page=page, restart_url="/transition/aten")
    links = main_links(html)
    assert links[page.action] == "/transition/aten"
    assert links["Page d'aide Educonnect"] == HELP_URL
    assert links.get("Revenir aux Services en ligne") == portal_url


# Single Logout's answers to a hidden frame of « Déconnexion en cours… » (front-channel): no
# parent sees them, the page around the frames leads on.
FRAME_PAGES = {"logout_participant_done.html", "logout_notified.html"}


def page_templates() -> list[Path]:
    return sorted(
        path
        for package in ("federation", "idp", "sp_ent", "aten_adapter")
        for path in (ROOT / package / "templates").glob("*.html")
        if '{% extends "layout.html" %}' in path.read_text(encoding="utf-8") and path.name not in FRAME_PAGES
    )


@pytest.mark.parametrize("template", page_templates(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_page_template_leads_somewhere(template):
    """A page is a link, a button or a form away from the next step or the way back."""
    source = template.read_text(encoding="utf-8").split("{% block content %}", 1)[-1]
    assert any(way in source for way in ("href=", "<form", "login_form(", "logout_button(")), template


def stale_pages(browser: Browser) -> dict[str, object]:
    return {
        "idp 404": browser.get("https://idp.test/page-qui-n-existe-pas"),
        "ent 404": browser.get("https://ent.test/page-qui-n-existe-pas"),
        "aten 404": browser.get("https://aten.test/page-qui-n-existe-pas"),
        "idp 405 (ACS reopened by GET is resume; the IdP's SSO by POST)": browser.post(
            "https://idp.test/saml/reponse", {}
        ),
        "ent 405 (ACS opened again)": browser.get("https://ent.test/saml/acs"),
        "idp session lost": browser.get("https://idp.test/transition/compte"),
        "idp form expired": browser.post("https://idp.test/connexion", {"identifiant": "x"}),
        "ent session lost (answer without a request)": browser.post("https://ent.test/saml/acs", {}),
        "idp refused request": browser.get("https://idp.test/saml/sso?SAMLRequest=pas-du-saml"),
        "aten refused request": browser.get("https://aten.test/saml/sso?SAMLRequest=pas-du-saml"),
        "aten form without request": browser.post("https://aten.test/connexion", {"identifiant": "x"}),
        "idp ATEN answer without request": browser.post("https://idp.test/saml/sp/acs", {}),
    }


def test_every_stale_page_a_browser_meets_leads_back(stack):
    for name, response in stale_pages(Browser(stack.apps())).items():
        assert response.status_code >= 400, name  # type: ignore[attr-defined]
        html = response.get_data(as_text=True)  # type: ignore[attr-defined]
        links = main_links(html)
        ways = {label for label, href in links.items() if href != HELP_URL}
        assert ways, f"{name}: only {links}"
        assert "Traceback" not in html and "Method Not Allowed" not in html, name
