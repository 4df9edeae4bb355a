"""Every failure a parent can meet ends on a French page with a next step, accessible, under CSP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, render_template
from playwright.sync_api import Route

from federation.web import ERROR_PAGES, HELP_URL, SERVICE_TAGLINES, layout


@pytest.mark.parametrize("service", ["ent", "idp", "aten"])
def test_unknown_page(parent, service):
    response = parent.goto(service, "/page-qui-n-existe-pas")
    assert response is not None and response.status == 404
    assert parent.page.get_by_role("heading", level=1).inner_text() == "Page introuvable"
    assert parent.page.get_by_role("link", name="Revenir à l'accueil").get_attribute("href") == "/"
    parent.check(f"page-introuvable-{service}", phone=service == "idp")


def test_expired_transition_page(parent):
    """The password page opened without its ATEN sign-in (lost cookie, old tab, bookmark)."""
    response = parent.goto("idp", "/transition/mot-de-passe")
    assert response is not None and response.status == 400
    assert parent.page.title() == "Votre session a expiré – ÉduConnect"
    restart = parent.page.get_by_role("link", name="Recommencer")
    assert restart.get_attribute("href") == "/transition/aten"
    parent.check("session-expiree", phone=True)


def test_expired_form(parent, context):
    parent.goto("idp", "/connexion")
    parent.page.wait_for_load_state("networkidle")  # no late response to set the cookie again
    context.clear_cookies()  # the session, and its CSRF token, are gone
    parent.page.get_by_label("Identifiant").fill("c.martin1")
    parent.page.get_by_label("Mot de passe").fill("Ecole-2026!")
    parent.click_button("Se connecter")
    assert parent.page.get_by_role("heading", level=1).inner_text() == "Le formulaire a expiré"
    parent.check("formulaire-expire")


def test_refused_saml_request(parent):
    response = parent.goto("idp", "/saml/sso?SAMLRequest=pas-du-saml")
    assert response is not None and response.status == 400
    assert parent.page.get_by_role("heading", level=1).inner_text() == "Demande de connexion refusée"
    parent.check("demande-refusee")


def render_error_pages() -> dict[str, str]:
    """Each page of ERROR_PAGES, rendered by the shared template as the IdP renders it."""
    app = Flask("error_pages")
    app.register_blueprint(layout)
    app.jinja_env.globals.update(
        service_title="ÉduConnect", service_tagline=SERVICE_TAGLINES["idp"], help_url=HELP_URL
    )
    with app.test_request_context("/"):
        return {
            code: render_template("error.html", page=page, restart_url="/")
            for code, page in ERROR_PAGES.items()
        }


def serve(html: str, headers: dict[str, str]) -> Callable[[Route], None]:
    return lambda route: route.fulfill(status=503, headers=headers, body=html)


def test_every_error_page_has_a_next_step_and_passes_axe(parent):
    """Service unavailable, ATEN refused, child link blocked… cannot all be caused from a browser:
    each page of ERROR_PAGES is served at the IdP's origin with the IdP's own headers (CSP)."""
    parent.expect_server_errors = True  # the pages are served with 503
    real = parent.goto("idp", "/page-qui-n-existe-pas")
    assert real is not None
    headers = {**real.headers, "content-type": "text/html; charset=utf-8"}
    pages = render_error_pages()
    assert {"session_expiree", "aten_refus", "service_indisponible", "rattachement_bloque"} <= set(pages)
    assert {"trop_de_tentatives", "trop_de_dates_incorrectes", "page_introuvable"} <= set(pages)
    for code, html in pages.items():
        url = f"{parent.urls['idp']}/apercu-erreur/{code}"
        parent.page.route(url, serve(html, headers))
        parent.page.goto(url)
        page = ERROR_PAGES[code]
        main = parent.page.inner_text("main")
        assert page.title in main and page.message in main and page.next_step in main
        assert parent.page.get_by_role("link", name=page.action).is_visible()
        parent.check(f"erreur-{code}", phone=code in ("service_indisponible", "aten_refus"))
