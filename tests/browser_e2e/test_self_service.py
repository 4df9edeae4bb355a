"""« Identifiant ou mot de passe oublié ? » in Chromium (issue 18): the parent asks from the login
page, reads the message in « Boîte de réception de la démo », chooses a new password through the
link and signs in with it."""

from __future__ import annotations

import pytest

from tests.browser_e2e.journeys import ECOLE_TILLEULS, MDURAND, add_children, at_establishment, create_account
from tests.browser_e2e.journeys import NEW_PASSWORD as NEW_PASSWORD_TRANSITION

NEW_PASSWORD = "Vacances-2027!"


@pytest.mark.journey("identifiant ou mot de passe oublié")
def test_forgotten_password_by_email(journey):
    parent, page = journey, journey.page
    parent.goto("ent", "/")
    parent.click_link("Je dispose d'un compte Educonnect")
    parent.path_is("idp", "/connexion")
    parent.click_link("Identifiant ou mot de passe oublié ?")
    parent.path_is("idp", "/identifiant-oublie")
    parent.check("oubli-demande")
    page.get_by_label("Adresse électronique ou identifiant").fill("claire.martin@example.fr")
    parent.submit("Recevoir un message")
    parent.path_is("idp", "/identifiant-oublie/message-envoye")
    assert "Consultez votre messagerie" in page.inner_text("main")
    parent.check("oubli-message-envoye")
    parent.click_link("Boîte de réception de la démo")
    main = page.inner_text("main")
    assert "claire.martin@example.fr" in main and "c.martin1" in main
    parent.check("boite-de-reception")
    page.get_by_role("link", name="Choisir un nouveau mot de passe").first.click()
    parent.path_is("idp", "/mot-de-passe/nouveau")
    assert "c.martin1" in page.inner_text("main")
    page.get_by_label("Mot de passe", exact=True).fill("court")
    page.get_by_label("Confirmation du mot de passe").fill("court")
    parent.submit("Confirmer")
    assert "Le mot de passe doit comporter au moins 8 caractères." in page.get_by_role("alert").inner_text()
    parent.check("nouveau-mot-de-passe-refuse")
    page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    parent.submit("Confirmer")
    assert "Votre mot de passe est modifié." in page.inner_text("main")
    parent.check("mot-de-passe-modifie")
    parent.click_link("Se connecter")
    parent.path_is("idp", "/connexion")
    page.get_by_label("Identifiant").fill("c.martin1")
    page.get_by_label("Mot de passe").fill(NEW_PASSWORD)
    parent.submit("Se connecter")
    parent.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in page.inner_text("main")


@pytest.mark.journey("mon compte")
def test_my_account_address_password_and_a_wrong_child_link(journey):
    """Marie Durand migrates (ATEN's mail offered), confirms her address from the demo's inbox,
    changes her password in « Mon compte », then reports Léa's link."""
    parent, page = journey, journey.page
    create_account(parent, MDURAND)
    assert "Un message vient d'être envoyé à marie.durand@example.fr" in page.inner_text("main")
    parent.click_link("Continuer")
    add_children(parent, MDURAND)
    at_establishment(parent, *ECOLE_TILLEULS, "Léa")
    parent.goto("idp", "/mon-compte")
    main = page.inner_text("main")
    assert MDURAND.identifier in main and "En attente de confirmation : marie.durand@example.fr" in main
    parent.check("mon-compte")
    parent.goto("idp", "/demo/boite-de-reception")
    page.get_by_role("link", name="Confirmer mon adresse électronique").first.click()
    parent.path_is("idp", "/courriel/confirmer")
    parent.submit("Confirmer cette adresse")
    assert "Votre adresse électronique est confirmée." in page.inner_text("main")
    parent.click_link("Mon compte")
    assert "Adresse confirmée : marie.durand@example.fr" in page.inner_text("main")
    page.get_by_label("Mot de passe actuel").fill(NEW_PASSWORD_TRANSITION)
    page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    parent.submit("Changer mon mot de passe")
    assert "Votre mot de passe est modifié." in page.get_by_role("status").first.inner_text()
    parent.submit("Je ne suis pas le représentant légal de cet élève")
    main = page.inner_text("main")
    assert "Le rattachement de Léa à votre compte est supprimé" in main and ECOLE_TILLEULS[1] in main
    assert "Aucun enfant n'est encore rattaché à votre compte." in main
    parent.check("signalement-eleve")
