"""Journey A (« Utilisation du compte Educonnect ») and « Se déconnecter » then sign in again, in
Chromium, with the ENT on SAML and on OpenID Connect, on a phone and a desktop.

Elements are found by their visible French wording, as a parent following the help page does.
"""

from __future__ import annotations

import pytest

from tests.browser_e2e.journeys import (
    ECOLE_TILLEULS,
    MDURAND,
    NEW_PASSWORD,
    WRONG_CREDENTIALS,
    add_children,
    at_establishment,
    create_account,
    sign_in,
)

DEMO_ACCOUNTS = {"c.martin1": ("Ecole-2026!", "Claire Martin"), "j.dupont1": ("Poitiers#86", "Jérôme Dupont")}


@pytest.mark.journey("A « Je dispose d'un compte Educonnect » (chaque compte de démonstration)")
@pytest.mark.parametrize("account", list(DEMO_ACCOUNTS))
def test_a_educonnect_login(journey, account):
    password, name = DEMO_ACCOUNTS[account]
    page = journey.page
    # 1-2 - « Services en ligne », « Je dispose d'un compte Educonnect »
    journey.goto("ent", "/")
    journey.check("services-en-ligne")
    journey.click_link("Je dispose d'un compte Educonnect")
    # 3 - the ÉduConnect login page
    journey.path_is("idp", "/connexion")
    assert page.title() == "Connexion – ÉduConnect"
    if journey.protocol == "oidc":  # the form may lead to exactly the registered redirect URI
        csp = journey.documents[-1].header_value("content-security-policy") or ""
        assert f"form-action 'self' {journey.urls['ent']}/oidc/retour;" in csp
    journey.check("connexion-educonnect")
    # A wrong password and an unknown identifier: the same page, the same message.
    sign_in(journey, account, password + "x")
    assert page.get_by_role("alert").inner_text() == WRONG_CREDENTIALS
    wrong_password = page.inner_text("main")
    journey.check("mot-de-passe-incorrect")
    sign_in(journey, "x.inconnu9", password)
    assert page.get_by_role("alert").inner_text() == WRONG_CREDENTIALS
    assert page.inner_text("main") == wrong_password
    journey.check("identifiant-inconnu")
    # 4 - the ENT: no child attached to the demo accounts, the page says why and what to do
    sign_in(journey, account, password)
    journey.path_is("ent", "/accueil")
    main = page.inner_text("main")
    assert f"Bonjour {name}" in main and "Aucun élève n'est rattaché à votre compte ÉduConnect" in main
    journey.check("ent-aucun-eleve")


def logout_control(journey):
    """« Se déconnecter », a link or a button (a form posting the logout)."""
    return journey.link("Se déconnecter").or_(journey.button("Se déconnecter"))


@pytest.mark.journey("Se déconnecter, puis se connecter à nouveau")
def test_logout_then_sign_in_again(journey):
    """Nobody at a shared family computer finds the previous parent signed in (DESIGN §2 E)."""
    page = journey.page
    create_account(journey, MDURAND)
    journey.click_link("Continuer")
    add_children(journey, MDURAND)
    at_establishment(journey, *ECOLE_TILLEULS, "Bonjour Marie Durand", "Léa Durand")
    journey.check("ent-etablissement")
    journey.press(logout_control(journey))
    # The page after says so (waited for: the logout may go through ÉduConnect and back).
    page.get_by_text("Vous êtes déconnecté").first.wait_for()
    journey.check("deconnecte")
    # Signing in again asks for the password: neither the ENT nor ÉduConnect remembers her.
    journey.goto("ent", "/")
    journey.click_link("Je dispose d'un compte Educonnect")
    journey.path_is("idp", "/connexion")
    assert page.get_by_label("Mot de passe").input_value() == ""
    journey.check("connexion-a-nouveau")
    sign_in(journey, MDURAND.identifier, NEW_PASSWORD)
    # Léa is confirmed: no « Ajout d'élèves » this time, straight to her school.
    at_establishment(journey, *ECOLE_TILLEULS, "Bonjour Marie Durand", "Léa Durand")
    journey.check("ent-etablissement-a-nouveau")


def test_a_page_without_pending_authorization_allows_only_its_own_forms(oidc_parent):
    """With no authorization in flight, ÉduConnect's forms may post to ÉduConnect only."""
    oidc_parent.goto("idp", "/connexion")
    csp = oidc_parent.documents[-1].header_value("content-security-policy") or ""
    assert "form-action 'self';" in csp
