"""A request sent again, in Chromium (issue 13 item 4, issue 14 item 7).

OpenID Connect: the same authorization request re-sent by the parent's own browser (a second tab,
a reload, Back) leads them on to the ENT. SAML: the same signed AuthnRequest URL opened in a
second, fresh browser gets « Demande de connexion refusée » with the way back to « Services en
ligne »; the first browser goes on.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser

from tests.browser_e2e.parent_browser import ParentBrowser

IDENTIFIER, PASSWORD = "c.martin1", "Ecole-2026!"  # config/demo/educonnect_accounts.toml


def request_url(parent: ParentBrowser, path: str, service: str = "idp") -> str:
    """The first request of this tab to ``path`` at ``service`` (a redirect the browser followed)."""
    prefix = parent.urls[service] + path
    return next(d.url for d in parent.documents if d.url.startswith(prefix))


def last_answer(parent: ParentBrowser, url: str) -> dict[str, list[str]]:
    """What ÉduConnect answered ``url`` with the last time this tab sent it: the ENT's callback."""
    locations = [
        d.header_value("location") or "" for d in parent.documents if d.url == url and d.status == 302
    ]
    assert locations and locations[-1].startswith(parent.urls["ent"] + "/oidc/retour?"), locations
    return parse_qs(urlsplit(locations[-1]).query)


def sign_in(parent: ParentBrowser) -> None:
    parent.page.get_by_label("Identifiant").fill(IDENTIFIER)
    parent.page.get_by_label("Mot de passe").fill(PASSWORD)
    parent.click_button("Se connecter")


def to_login_page(parent: ParentBrowser) -> str:
    parent.goto("ent", "/")
    parent.click_link("Je dispose d'un compte Educonnect")
    parent.path_is("idp", "/connexion")
    return request_url(parent, "/oidc/authorize?")


def test_oidc_second_tab_and_reload_of_the_authorization_request_lead_to_the_ent(oidc_parent, context):
    url = to_login_page(oidc_parent)
    second = ParentBrowser(context.new_page(), oidc_parent.urls, oidc_parent.name + "-onglet")
    second.page.goto(url)  # the same request in a second tab
    second.path_is("idp", "/connexion")
    second.check("second-onglet")
    sign_in(second)
    second.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in second.page.inner_text("main")
    # The first tab sends the request again (reload of its address): its nonce was seen.
    oidc_parent.page.goto(url)
    oidc_parent.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in oidc_parent.page.inner_text("main")
    oidc_parent.check("onglet-recharge")
    answer = last_answer(oidc_parent, url)
    assert "error" not in answer and answer["code"], answer  # a fresh code, never « Replay attack »


def test_oidc_back_from_the_ent_then_forward_keeps_the_parent_on(oidc_parent):
    to_login_page(oidc_parent)
    sign_in(oidc_parent)
    oidc_parent.path_is("ent", "/accueil")
    oidc_parent.page.go_back()
    oidc_parent.path_is("idp", "/connexion")
    assert "Demande de connexion refusée" not in oidc_parent.page.inner_text("main")
    oidc_parent.page.go_forward()
    oidc_parent.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in oidc_parent.page.inner_text("main")


def assert_refused_in_a_fresh_browser(parent: ParentBrowser, chromium: Browser, url: str) -> None:
    other = chromium.new_context(locale="fr-FR")
    try:
        stranger = ParentBrowser(other.new_page(), parent.urls, parent.name + "-autre-navigateur")
        stranger.page.goto(url)
        assert "Demande de connexion refusée" in stranger.page.inner_text("main")
        stranger.check("demande-refusee", phone=True)
        stranger.click_link("Revenir aux Services en ligne")
        stranger.path_is("ent", "/")
    finally:
        other.close()


def test_saml_same_signed_url_in_a_second_browser_is_refused(parent, chromium):
    parent.goto("ent", "/")
    parent.click_link("Je dispose d'un compte Educonnect")
    parent.path_is("idp", "/connexion")
    url = request_url(parent, "/saml/sso?")
    assert "Signature=" in url
    assert_refused_in_a_fresh_browser(parent, chromium, url)
    # The first browser still goes on: the same request again (reload), then the answer.
    parent.page.goto(url)
    parent.path_is("idp", "/connexion")
    sign_in(parent)
    parent.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in parent.page.inner_text("main")


def test_saml_same_signed_url_at_aten_in_a_second_browser_is_refused(parent, chromium):
    parent.goto("ent", "/")
    parent.click_link("Je n'ai pas de compte Educonnect")
    parent.path_is("aten", "/connexion")
    url = request_url(parent, "/saml/sso?", service="aten")
    assert_refused_in_a_fresh_browser(parent, chromium, url)
    parent.page.reload()  # the first browser: still its login page
    parent.path_is("aten", "/connexion")
    assert parent.page.get_by_role("button", name="VALIDER").is_visible()
