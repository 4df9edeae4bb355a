"""« Se déconnecter » in Chromium (issue 14): after logging out at the ENT, « Je dispose d'un
compte Educonnect » asks for the password again, in SAML (Single Logout) and OpenID Connect
(RP-initiated logout); logging out at ÉduConnect logs the parent out of the ENT through a frame
of ÉduConnect's logout page (front-channel), which the browser's CSP must let through."""

from __future__ import annotations

from tests.browser_e2e.parent_browser import ParentBrowser

SIGNED_OUT = "Vous êtes déconnecté des Services en ligne et d'ÉduConnect"


def sign_in_at_the_ent(parent: ParentBrowser) -> None:
    page = parent.page
    parent.goto("ent", "/")
    parent.click_link("Je dispose d'un compte Educonnect")
    parent.path_is("idp", "/connexion")
    page.get_by_label("Identifiant").fill("c.martin1")
    page.get_by_label("Mot de passe").fill("Ecole-2026!")
    parent.click_button("Se connecter")
    parent.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in page.inner_text("main")


def log_out_at_the_ent_then_sign_in_again(parent: ParentBrowser, logged_out_path: str) -> None:
    page = parent.page
    sign_in_at_the_ent(parent)
    # One wording on the page: « Se déconnecter », a button (POST with a CSRF token).
    assert page.get_by_role("button", name="Se déconnecter", exact=True).count() == 1
    assert page.get_by_role("link", name="Se déconnecter d'ÉduConnect").count() == 0
    parent.click_button("Se déconnecter")
    parent.path_is("ent", logged_out_path)
    assert SIGNED_OUT in page.inner_text("main")
    parent.check("deconnecte", phone=True)
    parent.click_link("Se connecter à nouveau")
    parent.path_is("ent", "/")
    parent.click_link("Je dispose d'un compte Educonnect")
    parent.path_is("idp", "/connexion")  # the password again: ÉduConnect's session is over
    assert page.get_by_label("Mot de passe").input_value() == ""


def test_logout_at_the_ent_ends_the_educonnect_session_saml(parent):
    log_out_at_the_ent_then_sign_in_again(parent, "/saml/slo")


def test_logout_at_the_ent_ends_the_educonnect_session_oidc(oidc_parent):
    log_out_at_the_ent_then_sign_in_again(oidc_parent, "/deconnexion/terminee")


def test_a_logout_link_only_shows_the_button(parent):
    sign_in_at_the_ent(parent)
    parent.goto("ent", "/deconnexion")
    assert parent.page.get_by_role("heading", name="Se déconnecter ?").is_visible()
    parent.check("confirmer-deconnexion")
    parent.goto("ent", "/accueil")
    assert "Bonjour Claire Martin" in parent.page.inner_text("main")  # still signed in


def test_logout_at_educonnect_logs_the_parent_out_of_the_ent(parent):
    """IdP-initiated: the ENT gets a LogoutRequest in a hidden frame, then the page moves on."""
    sign_in_at_the_ent(parent)
    parent.goto("idp", "/compte")
    parent.click_button("Se déconnecter")
    parent.page.wait_for_url(f"{parent.urls['idp']}/deconnexion/fin/**")
    assert "Vous êtes aussi déconnecté des services" in parent.page.inner_text("main")
    parent.check("deconnecte-educonnect")
    parent.goto("ent", "/accueil")
    parent.path_is("ent", "/")  # the frame ended the ENT's session
