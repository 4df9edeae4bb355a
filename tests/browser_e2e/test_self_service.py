"""« Identifiant ou mot de passe oublié ? » in Chromium (issue 18): the parent asks from the login
page, reads the message in « Boîte de réception de la démo », chooses a new password through the
link and signs in with it."""

from __future__ import annotations

import pytest

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
    parent.click_button("Recevoir un message")
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
    parent.click_button("Confirmer")
    assert "Le mot de passe doit comporter au moins 8 caractères." in page.get_by_role("alert").inner_text()
    parent.check("nouveau-mot-de-passe-refuse")
    page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    parent.click_button("Confirmer")
    assert "Votre mot de passe est modifié." in page.inner_text("main")
    parent.check("mot-de-passe-modifie")
    parent.click_link("Se connecter")
    parent.path_is("idp", "/connexion")
    page.get_by_label("Identifiant").fill("c.martin1")
    page.get_by_label("Mot de passe").fill(NEW_PASSWORD)
    parent.click_button("Se connecter")
    parent.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in page.inner_text("main")
