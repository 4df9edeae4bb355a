"""The self-service of issue 18 in Chromium, as a parent following the pages does: « Identifiant ou
mot de passe oublié ? » (the identifier, then a new password, read in « Boîte de réception de la
démo ») and « Mon compte » (the address confirmed and changed, the password changed, a wrong
child link reported)."""

from __future__ import annotations

import re

import pytest

from tests.browser_e2e.journeys import (
    ECOLE_TILLEULS,
    MDURAND,
    add_children,
    at_establishment,
    create_account,
    forgotten,
    inbox_message,
    sign_in,
)
from tests.browser_e2e.journeys import NEW_PASSWORD as NEW_PASSWORD_TRANSITION

NEW_PASSWORD = "Vacances-2027!"
CMARTIN = ("c.martin1", "Ecole-2026!", "claire.martin@example.fr")  # config/demo/educonnect_accounts.toml
RECOVERY_SUBJECT = "Votre identifiant ÉduConnect et le lien pour choisir un nouveau mot de passe"
CONFIRM_SUBJECT = "Confirmez votre adresse électronique ÉduConnect"
CHANGED_SUBJECT = "L'adresse électronique de votre compte ÉduConnect change"


@pytest.mark.journey("identifiant oublié")
def test_forgotten_identifier_by_email(journey):
    """Claire Martin knows her password and her address, not her identifier: the message gives it."""
    parent, page = journey, journey.page
    _, password, address = CMARTIN
    forgotten(parent, address)
    message = inbox_message(parent, RECOVERY_SUBJECT, address)
    shown = re.search(r"Identifiant : (\S+) \(Claire Martin\)", message.inner_text())
    assert shown is not None, message.inner_text()
    identifier = shown.group(1)
    assert identifier == "c.martin1"
    parent.check("identifiant-dans-le-message")
    parent.click_link("Revenir à la connexion")
    sign_in(parent, identifier, password)
    parent.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in page.inner_text("main")


@pytest.mark.journey("identifiant ou mot de passe oublié")
def test_forgotten_password_by_email(journey):
    parent, page = journey, journey.page
    forgotten(parent, "claire.martin@example.fr", checks=True)
    message = inbox_message(parent, RECOVERY_SUBJECT, "claire.martin@example.fr")
    assert "c.martin1" in message.inner_text()
    parent.check("boite-de-reception")
    parent.press(message.get_by_role("link", name="Choisir un nouveau mot de passe"))
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
    sign_in(parent, "c.martin1", NEW_PASSWORD)
    parent.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in page.inner_text("main")


@pytest.mark.journey("mon compte : changer d'adresse électronique")
def test_my_account_change_of_address(journey):
    """Claire Martin gives a new address in « Mon compte »: it counts once its link is opened, and
    the old address is told — with « Ce n'est pas moi », which puts it back."""
    parent, page = journey, journey.page
    identifier, password, old = CMARTIN
    new = "claire.martin@famille.example.fr"
    parent.goto("ent", "/")
    parent.click_link("Je dispose d'un compte Educonnect")
    sign_in(parent, identifier, password)
    parent.path_is("ent", "/accueil")
    parent.goto("idp", "/mon-compte")
    assert f"Adresse confirmée : {old}" in page.inner_text("main")
    page.get_by_label("Nouvelle adresse électronique").fill(new)
    page.get_by_label("Votre mot de passe").fill(password)  # an open session is not enough
    parent.submit("Recevoir le lien de confirmation")
    parent.path_is("idp", "/mon-compte")
    assert f"Un message vient d'être envoyé à {new}" in page.get_by_role("status").first.inner_text()
    main = page.inner_text("main")
    assert f"Adresse confirmée : {old}" in main and f"En attente de confirmation : {new}" in main
    parent.check("mon-compte-adresse-en-attente")
    parent.goto("idp", "/demo/boite-de-reception")
    parent.press(
        inbox_message(parent, CONFIRM_SUBJECT, new).get_by_role(
            "link", name="Confirmer mon adresse électronique"
        )
    )
    parent.path_is("idp", "/courriel/confirmer")
    assert new in page.inner_text("main")
    parent.submit("Confirmer cette adresse")
    assert "Votre adresse électronique est confirmée." in page.inner_text("main")
    parent.click_link("Mon compte")
    main = page.inner_text("main")
    assert f"Adresse confirmée : {new}" in main and old not in main
    parent.goto("idp", "/demo/boite-de-reception")
    told = inbox_message(parent, CHANGED_SUBJECT, old).inner_text()
    assert f"va être remplacée par {new}" in told and identifier in told
    parent.check("ancienne-adresse-prevenue")
    # It was not her: « Ce n'est pas moi » in that message puts her address back and closes
    # every connection to the account, this one included.
    parent.press(inbox_message(parent, CHANGED_SUBJECT, old).get_by_role("link", name="Ce n'est pas moi"))
    assert f"Adresse électronique remise sur le compte : {old}" in page.inner_text("main")
    parent.submit("Remettre mon adresse")
    main = page.inner_text("main")
    assert "Votre adresse électronique est remise sur votre compte." in main
    assert "choisissez-en un nouveau dès maintenant" in main
    parent.check("adresse-remise")
    parent.goto("idp", "/mon-compte")
    assert "Mon compte" not in page.locator("h1").inner_text()  # signed out: the login page
    assert page.get_by_label("Identifiant").count() == 1


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
