"""The journeys of the help page with ``demo --protocol oidc``, in Chromium.

Browsers apply the CSP ``form-action`` directive to the redirects that follow a form submission:
« Se connecter », « Ajout d'élèves » and « Plus tard » answer with a redirect to the authorization
endpoint, which redirects to the ENT's ``/oidc/retour`` on another origin. Test clients and
urllib follow such chains whatever the CSP says; only a browser shows that the parent arrives.
"""

from __future__ import annotations

from tests.browser_e2e.journeys import MDURAND, create_account, fill_birth_date


def test_oidc_educonnect_login_reaches_the_ent(oidc_parent):
    page = oidc_parent.page
    oidc_parent.goto("ent", "/")
    oidc_parent.click_link("Je dispose d'un compte Educonnect")
    oidc_parent.path_is("idp", "/connexion")
    csp = oidc_parent.documents[-1].header_value("content-security-policy") or ""
    # Exactly the registered redirect URI of the pending request, never a wildcard.
    assert f"form-action 'self' {oidc_parent.urls['ent']}/oidc/retour;" in csp
    oidc_parent.check("connexion-educonnect")
    page.get_by_label("Identifiant").fill("c.martin1")
    page.get_by_label("Mot de passe").fill("Ecole-2026!")
    oidc_parent.click_button("Se connecter")
    oidc_parent.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in page.inner_text("main")
    oidc_parent.check("ent-sans-eleve")


def test_oidc_transition_then_children_reaches_the_ent(oidc_parent):
    page = oidc_parent.page
    create_account(oidc_parent, MDURAND)
    oidc_parent.check("compte-cree")
    oidc_parent.click_link("Continuer")
    oidc_parent.path_is("idp", "/eleves")
    fill_birth_date(oidc_parent, "Léa", MDURAND.children["Léa"])
    oidc_parent.check("ajout-eleves")
    oidc_parent.click_button("Ajout d'élèves")
    oidc_parent.path_is("ent", "/etablissement/0861001W")
    assert "Les Tilleuls" in page.inner_text("main")
    oidc_parent.check("etablissement")


def test_a_page_without_pending_authorization_allows_only_its_own_forms(oidc_parent):
    oidc_parent.goto("idp", "/connexion")
    csp = oidc_parent.documents[-1].header_value("content-security-policy") or ""
    assert "form-action 'self';" in csp
