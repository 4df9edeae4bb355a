"""What browsers let a parent do in the middle of a journey, in Chromium, SAML and OpenID Connect,
on a phone and a desktop: Back, reload after a POST, a double click, cookies lost, two
tabs. Each ends in the ENT through pages that say what to do next: no dead end, nothing created
twice.
"""

from __future__ import annotations

import pytest

from tests.browser_e2e.journeys import (
    ECOLE_TILLEULS,
    ELEGOFF,
    JDUPONT,
    MDURAND,
    SDALMEIDA,
    WRONG_CREDENTIALS,
    account_created,
    add_children,
    at_establishment,
    aten_sign_in,
    choose_password,
    fill_birth_date,
    sign_in,
)

JEAN_MOULIN = ("0860034V", "Collège Jean-Moulin", "Hugo Le Goff", "Maël Le Goff")
ATEN_REFUSED = "Identifiant ou mot de passe incorrect."
WRONG_DATE = "La date de naissance saisie ne correspond pas à nos informations."


@pytest.mark.journey("Retour arrière au milieu du parcours de transition")
def test_back_in_the_middle_of_the_transition(journey):
    page = journey.page
    aten_sign_in(journey, ELEGOFF)
    journey.path_is("idp", "/transition/compte")
    journey.click_link("Choisir mon mot de passe")
    journey.path_is("idp", "/transition/mot-de-passe")
    journey.check("choisir-mot-de-passe")
    page.go_back()  # back to « votre compte ATEN est reconnu », then on again
    journey.path_is("idp", "/transition/compte")
    assert "Bonjour Éloïse Le Goff, votre compte ATEN est reconnu." in page.inner_text("main")
    journey.check("retour-compte-aten-reconnu")
    journey.click_link("Choisir mon mot de passe")
    choose_password(journey, ELEGOFF)  # the same identifier is given
    account_created(journey, ELEGOFF)
    journey.click_link("Continuer")
    journey.path_is("idp", "/eleves")
    journey.check("ajout-eleves")
    page.go_back()  # back to « Votre compte est créé. », then « Continuer » again
    account_created(journey, ELEGOFF)
    journey.check("retour-compte-cree")
    journey.click_link("Continuer")
    add_children(journey, ELEGOFF)
    at_establishment(journey, *JEAN_MOULIN)
    journey.check("ent-etablissement")


def reload(journey) -> None:
    """F5: after a POST, Chromium sends the form again."""
    journey.page.reload(wait_until="load")


@pytest.mark.journey("Rechargement après chaque envoi de formulaire (POST)")
def test_reload_after_each_post(journey):
    page = journey.page
    # ÉduConnect's login refused, reloaded: the same page and message.
    journey.goto("ent", "/")
    journey.click_link("Je dispose d'un compte Educonnect")
    sign_in(journey, JDUPONT.identifier, "Pas-le-bon-1")
    reload(journey)
    assert page.get_by_role("alert").inner_text() == WRONG_CREDENTIALS
    journey.check("connexion-refusee-rechargee")
    # The login page offers the transition: ATEN refused, reloaded, then accepted and reloaded.
    journey.click_link("Je n'ai pas de compte Educonnect")
    journey.path_is("aten", "/connexion")
    page.get_by_label("Identifiant").fill(JDUPONT.uid)
    page.get_by_label("Mot de passe").fill("Aten-Dupont-87")
    journey.submit("VALIDER")
    reload(journey)
    assert page.get_by_role("alert").inner_text() == ATEN_REFUSED
    journey.check("aten-refuse-recharge")
    page.get_by_label("Mot de passe").fill(JDUPONT.password)
    journey.submit("VALIDER")
    journey.path_is("idp", "/transition/compte")
    reload(journey)
    assert "Bonjour Jérôme Dupont, votre compte ATEN est reconnu." in page.inner_text("main")
    journey.check("compte-aten-reconnu-recharge")
    # « Confirmer » refused (the two passwords differ), reloaded: the rule named, the identifier kept.
    journey.click_link("Choisir mon mot de passe")
    page.get_by_label("Mot de passe", exact=True).fill("Rentree-2026!")
    page.get_by_label("Confirmation du mot de passe").fill("Rentree-2026?")
    journey.submit("Confirmer")
    reload(journey)
    assert "Les deux mots de passe saisis sont différents." in page.get_by_role("alert").inner_text()
    assert page.locator("#identifiant").inner_text() == JDUPONT.identifier
    journey.check("mot-de-passe-refuse-recharge")
    choose_password(journey, JDUPONT)
    account_created(journey, JDUPONT)
    reload(journey)
    account_created(journey, JDUPONT)  # one account, the same identifier
    journey.check("compte-cree-recharge")
    # A wrong date, reloaded: the message stays; the right date still works.
    journey.click_link("Continuer")
    fill_birth_date(journey, "Chloé", ("1", "1", "2019"))
    journey.submit("Ajout d'élèves")
    reload(journey)
    assert WRONG_DATE in page.get_by_role("alert").inner_text()
    journey.check("date-incorrecte-rechargee")
    add_children(journey, JDUPONT)
    at_establishment(journey, "0860787N", "École élémentaire Les Minimes", "Chloé Dupont")
    reload(journey)
    at_establishment(journey, "0860787N", "École élémentaire Les Minimes", "Chloé Dupont")
    journey.check("ent-etablissement-recharge")


@pytest.mark.journey("Double clic sur chaque bouton et lien")
def test_double_click_on_every_button_and_link(journey):
    page = journey.page
    journey.goto("ent", "/")
    journey.double_press(journey.link("Je n'ai pas de compte Educonnect"))
    journey.path_is("aten", "/connexion")
    page.get_by_label("Identifiant").fill(SDALMEIDA.uid)
    page.get_by_label("Mot de passe").fill(SDALMEIDA.password)
    journey.double_press(journey.button("VALIDER"))
    journey.path_is("idp", "/transition/compte")
    journey.check("compte-aten-reconnu")
    journey.double_press(journey.link("Choisir mon mot de passe"))
    journey.path_is("idp", "/transition/mot-de-passe")
    assert page.locator("#identifiant").inner_text() == SDALMEIDA.identifier
    page.get_by_label("Mot de passe", exact=True).fill("Rentree-2026!")
    page.get_by_label("Confirmation du mot de passe").fill("Rentree-2026!")
    journey.double_press(journey.button("Confirmer"))
    account_created(journey, SDALMEIDA)  # one account: s.dalmeida1, not s.dalmeida2
    journey.check("compte-cree")
    journey.double_press(journey.link("Continuer"))
    journey.path_is("idp", "/eleves")
    for child, date in SDALMEIDA.children.items():
        fill_birth_date(journey, child, date)
    journey.double_press(journey.button("Ajout d'élèves"))
    journey.path_is("ent", "/etablissement")
    journey.check("choix-etablissement")
    journey.press(page.get_by_text("Collège Les Marais – Niort"))
    journey.double_press(journey.button("Accéder à l'ENT"))
    at_establishment(journey, "0790012J", "Collège Les Marais", "Tom D'Almeida")
    journey.check("etablissement-choisi")
    journey.double_press(journey.link("Changer d'établissement"))
    journey.path_is("ent", "/etablissement")
    assert page.get_by_label("Collège Les Marais – Niort").is_checked()
    journey.check("changer-etablissement")


@pytest.mark.journey("Cookies perdus au milieu du parcours de transition")
def test_cookies_lost_in_the_middle_of_the_transition(journey):
    page = journey.page
    aten_sign_in(journey, MDURAND)
    journey.click_link("Choisir mon mot de passe")
    journey.path_is("idp", "/transition/mot-de-passe")
    page.wait_for_load_state("networkidle")  # no late response to set a cookie again
    page.context.clear_cookies()  # the browser drops its cookies (privacy setting, expiry)
    page.get_by_label("Mot de passe", exact=True).fill("Rentree-2026!")
    page.get_by_label("Confirmation du mot de passe").fill("Rentree-2026!")
    journey.submit("Confirmer")
    assert page.get_by_role("heading", level=1).inner_text() == "Le formulaire a expiré"
    journey.check("formulaire-expire")
    journey.click_link("Recommencer")  # the transition again, from ATEN
    journey.path_is("aten", "/connexion")
    journey.check("connexion-aten-a-nouveau")
    page.get_by_label("Identifiant").fill(MDURAND.uid)
    page.get_by_label("Mot de passe").fill(MDURAND.password)
    journey.submit("VALIDER")
    journey.path_is("idp", "/transition/compte")
    journey.click_link("Choisir mon mot de passe")
    choose_password(journey, MDURAND)
    account_created(journey, MDURAND)
    journey.click_link("Continuer")
    add_children(journey, MDURAND)
    # The ENT's request went with the cookies: ÉduConnect says she is signed in, and leads back.
    journey.path_is("idp", "/compte")
    assert "Marie Durand – identifiant m.durand1" in page.inner_text("main")
    journey.check("connecte-sans-demande")
    journey.click_link("Revenir aux Services en ligne")
    journey.path_is("ent", "/")
    journey.click_link("Je dispose d'un compte Educonnect")  # signed in at ÉduConnect: no password
    at_establishment(journey, *ECOLE_TILLEULS, "Léa Durand")
    journey.check("ent-etablissement")


@pytest.mark.journey("Deux onglets : le parcours de transition commencé dans les deux")
def test_two_tabs(journey):
    first, second = journey, journey.new_tab()
    for tab in (first, second):
        tab.goto("ent", "/")
        tab.click_link("Je n'ai pas de compte Educonnect")
        tab.path_is("aten", "/connexion")
    # The first tab goes through the whole transition.
    first.page.get_by_label("Identifiant").fill(MDURAND.uid)
    first.page.get_by_label("Mot de passe").fill(MDURAND.password)
    first.submit("VALIDER")
    first.path_is("idp", "/transition/compte")
    first.click_link("Choisir mon mot de passe")
    choose_password(first, MDURAND)
    account_created(first, MDURAND)
    first.click_link("Continuer")
    add_children(first, MDURAND)
    at_establishment(first, *ECOLE_TILLEULS, "Léa Durand")
    first.check("ent-etablissement")
    # The second tab still shows ATEN's form of before: it leads to the ENT too, no second account.
    second.page.get_by_label("Identifiant").fill(MDURAND.uid)
    second.page.get_by_label("Mot de passe").fill(MDURAND.password)
    second.submit("VALIDER")
    # ATEN answered the request once, to the first tab: this one is told and shown the way on.
    assert second.page.get_by_role("heading", level=1).inner_text() == "Votre compte ATEN a déjà été vérifié"
    second.check("aten-deja-verifie")
    second.click_link("Aller aux Services en ligne")
    second.path_is("ent", "/")
    second.click_link("Je n'ai pas de compte Educonnect")  # signed in at ÉduConnect by the first tab
    at_establishment(second, *ECOLE_TILLEULS, "Léa Durand")
    second.check("ent-etablissement")
    # Back in the first tab, a new page of the ENT: still signed in.
    first.page.reload()
    at_establishment(first, *ECOLE_TILLEULS, "Léa Durand")
