"""« Utilisation du compte Educonnect » (help page): the ÉduConnect login, in Chromium."""

from __future__ import annotations

from federation.login_throttle import BrakeLimits

AUTOSUBMIT = "**/static/commun/**/js/autosubmit.*js"  # fingerprinted: dist/js/autosubmit.<hash>.js
TOO_MANY = "Trop de tentatives de connexion."
BUDGET = BrakeLimits().account_attempts  # the demo runs with the default limits


def test_educonnect_login_wrong_password_then_right(parent):
    page = parent.page
    # 1-2 - « Services en ligne », « Je dispose d'un compte Educonnect »
    parent.goto("ent", "/")
    parent.click_link("Je dispose d'un compte Educonnect")
    # 3 - the ÉduConnect login page
    parent.path_is("idp", "/connexion")
    assert page.title() == "Connexion – ÉduConnect"
    assert page.get_by_role("link", name="Page d'aide Educonnect").first.get_attribute("href") == (
        "https://educonnect.education.gouv.fr/educt-aide/aide/"
    )
    parent.check("connexion-educonnect", phone=True)
    page.get_by_label("Identifiant").fill("c.martin1")
    page.get_by_label("Mot de passe").fill("Ecole-2025!")
    parent.click_button("Se connecter")
    assert page.title() == "Erreur – Connexion – ÉduConnect"
    assert page.get_by_role("alert").inner_text() == "L'identifiant ou le mot de passe est incorrect."
    assert parent.focused()["id"] == "identifiant"
    assert page.get_by_label("Identifiant").input_value() == "c.martin1"
    parent.check("connexion-refusee", phone=True)
    # Without JavaScript the SAML answer waits for « Continuer » (autosubmit.js blocked here).
    parent.block(AUTOSUBMIT)
    page.get_by_label("Mot de passe").fill("Ecole-2026!")
    parent.click_button("Se connecter")
    parent.path_is("idp", "/saml/reponse")
    assert page.title() == "Connexion en cours – ÉduConnect"
    parent.check("connexion-en-cours")
    parent.click_button("Continuer")
    # 4 - the ENT: Claire Martin has no child attached, the page says why and what to do
    parent.path_is("ent", "/accueil")
    assert "Bonjour Claire Martin" in page.inner_text("main")
    parent.check("ent-sans-eleve")


def test_too_many_attempts_are_refused_with_a_delay(parent):
    page = parent.page
    parent.goto("idp", "/connexion")
    for _ in range(BUDGET + 1):
        page.get_by_label("Identifiant").fill("x.inconnu1")
        page.get_by_label("Mot de passe").fill("Pas-le-bon-1")
        parent.click_button("Se connecter")
    alert = page.get_by_role("alert").inner_text()
    assert alert.startswith(TOO_MANY) and "minutes environ" in alert
    assert parent.focused()["id"] == "identifiant"
    parent.check("trop-de-tentatives")


def test_keyboard_only_educonnect_login(parent):
    keyboard = parent.page.keyboard
    parent.goto("ent", "/")
    parent.tab_to(text="Je dispose d'un compte Educonnect")
    keyboard.press("Enter")
    parent.path_is("idp", "/connexion")
    parent.tab_to(element_id="identifiant")
    keyboard.type("j.dupont1")
    parent.tab_to(element_id="mot_de_passe")
    keyboard.type("Poitiers#86")
    keyboard.press("Enter")
    parent.path_is("ent", "/accueil")
    assert "Bonjour Jérôme Dupont" in parent.page.inner_text("main")
    parent.check("clavier-ent")
