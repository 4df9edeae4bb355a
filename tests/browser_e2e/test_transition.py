"""The help page's parcours de transition, steps 1–7, in Chromium (aide-parcours-transition.txt)."""

from __future__ import annotations

import re

from tests.browser_e2e.journeys import ELEGOFF, HBERNARD, MDURAND, NEW_PASSWORD, aten_sign_in, fill_birth_date

RULES = ("longueur", "criteres", "minuscule", "majuscule", "chiffre", "special", "identifiant")


def rule_state(parent, rule: str) -> str:
    classes = parent.classes_of(f'[data-rule="{rule}"]')
    return next(c.removeprefix("fr-message--") for c in classes if c.startswith("fr-message--"))


def test_help_page_steps_1_to_7(parent):
    page = parent.page
    # 1 - « Services en ligne »
    parent.goto("ent", "/")
    assert page.title() == "Accueil – Services en ligne"
    parent.check("services-en-ligne", phone=True)
    # 2 - « Je n'ai pas de compte Educonnect »
    parent.click_link("Je n'ai pas de compte Educonnect")
    parent.path_is("aten", "/connexion")
    assert page.title().startswith("Étape 1 sur 3 – Connexion ATEN")
    parent.check("connexion-aten", phone=True)
    # 3 - the usual ATEN credentials, then « VALIDER » (the SAML answer posts itself under the CSP)
    page.get_by_label("Identifiant").fill(ELEGOFF.uid)
    page.get_by_label("Mot de passe").fill(ELEGOFF.password)
    parent.click_button("VALIDER")
    # 4 - an ÉduConnect page: « Choisir mon mot de passe »
    parent.path_is("idp", "/transition/compte")
    assert "Bonjour Éloïse Le Goff, votre compte ATEN est reconnu." in page.inner_text("main")
    parent.check("compte-aten-reconnu")
    parent.click_link("Choisir mon mot de passe")
    # 5 - the identifier to note, the password twice, « Confirmer »
    parent.path_is("idp", "/transition/mot-de-passe")
    assert page.title() == "Étape 2 sur 3 – Choisir mon mot de passe – ÉduConnect"
    assert page.locator("#identifiant").inner_text() == ELEGOFF.identifier
    assert all(rule_state(parent, r) == "info" for r in RULES)
    parent.check("choisir-mot-de-passe", phone=True)
    password = page.get_by_label("Mot de passe", exact=True)
    confirmation = page.get_by_label("Confirmation du mot de passe")
    password.press_sequentially("rentree 2")  # the checklist follows the typing
    assert rule_state(parent, "minuscule") == "valid" and rule_state(parent, "chiffre") == "valid"
    assert rule_state(parent, "majuscule") == "info" and rule_state(parent, "criteres") == "info"
    assert rule_state(parent, "longueur") == "valid"
    assert not any(rule_state(parent, r) == "error" for r in RULES)  # a space is accepted
    parent.check("regles-en-direct")
    password.fill("")
    password.press_sequentially(NEW_PASSWORD)
    confirmation.press_sequentially("Rentree-2026?")
    assert all(rule_state(parent, r) == "valid" for r in RULES)
    assert rule_state(parent, "confirmation") == "error"
    parent.click_button("Confirmer")  # the server refuses: its check is the truth
    assert page.title().startswith("Erreur – Étape 2 sur 3")
    alert = page.get_by_role("alert")
    assert "Les deux mots de passe saisis sont différents." in alert.inner_text()
    assert page.locator("#identifiant").inner_text() == ELEGOFF.identifier  # the identifier stays
    assert confirmation.get_attribute("aria-invalid") == "true"
    assert "confirmation-messages" in (confirmation.get_attribute("aria-describedby") or "")
    assert parent.focused()["id"] == "confirmation"  # focus on the first field in error
    assert rule_state(parent, "confirmation") == "error"
    parent.check("mot-de-passe-refuse", phone=True)
    password.fill(NEW_PASSWORD)
    confirmation.fill(NEW_PASSWORD)
    parent.click_button("Confirmer")
    # 6 - « Votre compte est créé. »
    parent.path_is("idp", "/transition/compte-cree")
    assert page.get_by_role("heading", level=1).inner_text() == "Votre compte est créé."
    assert ELEGOFF.identifier in page.inner_text("main")
    parent.check("compte-cree", phone=True)
    parent.click_link("Continuer")
    # « Ajout d'élèves » (Rattachement des enfants): a wrong date first
    parent.path_is("idp", "/eleves")
    parent.check("ajout-eleves", phone=True)
    fill_birth_date(parent, "Hugo", ("3", "9", "2014"))
    parent.click_button("Ajout d'élèves")
    assert "ne correspond pas à nos informations" in page.get_by_role("alert").inner_text()
    assert parent.focused()["id"] == "erreurs-eleves"  # focus on the error summary
    parent.check("date-incorrecte")
    for child, date in ELEGOFF.children.items():
        fill_birth_date(parent, child, date)
    parent.click_button("Ajout d'élèves")
    # 7 - the establishment's ENT (one establishment: no choice to make)
    parent.path_is("ent", "/etablissement/0860034V")
    main = page.inner_text("main")
    assert "Collège Jean-Moulin" in main and "Bonjour Éloïse Le Goff" in main
    assert "Hugo Le Goff" in main and "Maël Le Goff" in main
    parent.check("ent-etablissement", phone=True)


def test_without_javascript_wrong_aten_password_then_no_known_child(parent, context):
    """Our two scripts blocked: the SAML answers wait for « Continuer », the server marks the rules."""
    page = parent.page
    parent.block(re.compile(r".*/static/commun/(dist/)?js/.*"))
    aten_sign_in(parent, HBERNARD, password="Aten-Bernard-80")
    parent.path_is("aten", "/connexion")
    assert page.title().startswith("Erreur – Étape 1 sur 3")
    assert page.get_by_role("alert").inner_text() == "Identifiant ou mot de passe incorrect."
    assert parent.focused()["id"] == "identifiant"
    assert page.get_by_label("Identifiant").get_attribute("aria-describedby") == "erreur-connexion"
    parent.check("aten-refuse")
    page.get_by_label("Mot de passe").fill(HBERNARD.password)
    parent.click_button("VALIDER")
    parent.check("connexion-en-cours")
    parent.click_button("Continuer")
    parent.path_is("idp", "/transition/compte")
    parent.click_link("Choisir mon mot de passe")
    assert page.locator("#afficher").is_hidden()  # « Afficher » needs the script
    page.get_by_label("Mot de passe", exact=True).fill("bernard")
    page.get_by_label("Confirmation du mot de passe").fill("bernard")
    assert rule_state(parent, "minuscule") == "info"  # nothing moves while typing
    parent.click_button("Confirmer")
    assert rule_state(parent, "longueur") == "error" and rule_state(parent, "criteres") == "error"
    assert rule_state(parent, "minuscule") == "valid" and rule_state(parent, "majuscule") == "info"
    assert rule_state(parent, "identifiant") == "valid" and rule_state(parent, "confirmation") == "valid"
    assert parent.focused()["id"] == "mot_de_passe"
    parent.check("regles-marquees-par-le-serveur")
    page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    parent.click_button("Confirmer")
    parent.click_link("Continuer")
    parent.click_button("Continuer")  # the SAML answer to the ENT
    # The registry knows no child of hers: no « Ajout d'élèves », the ENT says why and what to do.
    parent.path_is("ent", "/accueil")
    assert "Aucun élève n'est rattaché à votre compte ÉduConnect" in page.inner_text("main")
    parent.check("ent-aucun-eleve", phone=True)
    # The same ATEN account again: no second account, the identifier is given back.
    context.clear_cookies()
    aten_sign_in(parent, HBERNARD)
    parent.click_button("Continuer")
    parent.path_is("idp", "/transition/deja-inscrit")
    assert "Vous avez déjà un compte ÉduConnect" in page.inner_text("main")
    assert HBERNARD.identifier in page.inner_text("main")
    parent.check("deja-un-compte")


def test_keyboard_only_transition(parent):
    """Tab, Enter and typing only, from « Services en ligne » to the establishment's ENT."""
    page = parent.page
    keyboard = page.keyboard
    parent.goto("ent", "/")
    keyboard.press("Tab")
    first = parent.focused()
    assert first["text"] == "Contenu" and first["ring"], first  # the skip link comes first
    parent.tab_to(text="Je n'ai pas de compte Educonnect")
    keyboard.press("Enter")
    parent.path_is("aten", "/connexion")
    parent.tab_to(element_id="identifiant")
    keyboard.type(MDURAND.uid)
    parent.tab_to(element_id="mot_de_passe")
    keyboard.type(MDURAND.password)
    parent.tab_to(text="VALIDER")
    keyboard.press("Enter")
    parent.path_is("idp", "/transition/compte")
    parent.tab_to(text="Choisir mon mot de passe")
    keyboard.press("Enter")
    parent.path_is("idp", "/transition/mot-de-passe")
    parent.tab_to(element_id="mot_de_passe")
    keyboard.type(NEW_PASSWORD)
    parent.tab_to(element_id="confirmation")
    keyboard.type(NEW_PASSWORD)
    assert rule_state(parent, "confirmation") == "valid"
    parent.tab_to(element_id="afficher-mots-de-passe")
    keyboard.press("Space")  # « Afficher les mots de passe »
    assert page.locator("#mot_de_passe").get_attribute("type") == "text"
    parent.tab_to(text="Confirmer")
    keyboard.press("Enter")
    parent.path_is("idp", "/transition/compte-cree")
    parent.tab_to(text="Continuer")
    keyboard.press("Enter")
    parent.path_is("idp", "/eleves")
    for field, value in zip(("jour", "mois", "annee"), MDURAND.children["Léa"], strict=True):
        parent.tab_to(element_id=re.compile(f"^{field}-"))
        keyboard.type(value)
    parent.tab_to(text="Ajout d'élèves")
    keyboard.press("Enter")
    parent.path_is("ent", "/etablissement/0861001W")
    assert "École élémentaire Les Tilleuls" in page.inner_text("main")
    assert "Léa Durand" in page.inner_text("main")
    parent.check("clavier-ent-etablissement")
