"""Journeys B (the parcours de transition, with every ATEN demo parent), C (« Ajout d'élèves »: the
right date, a wrong one, three wrong, « Plus tard ») and D (the choice of establishment, then
« Changer d'établissement »), in Chromium, SAML and OpenID Connect, on a phone and a desktop.

The help page (aide-parcours-transition.txt) steps: 1 « Services en ligne », 2 « Je n'ai pas de
compte Educonnect », 3 ATEN and « VALIDER », 4 « Choisir mon mot de passe », 5 the identifier and
the password twice, « Confirmer », 6 « Votre compte est créé. », 7 the establishment's ENT.
"""

from __future__ import annotations

import pytest

from tests.browser_e2e.journeys import (
    ECOLE_TILLEULS,
    ELEGOFF,
    HBERNARD,
    JDUPONT,
    MDURAND,
    NEW_PASSWORD,
    SDALMEIDA,
    add_children,
    at_establishment,
    create_account,
    fill_birth_date,
    sign_in,
)

NO_CHILD = "Aucun élève n'est rattaché à votre compte ÉduConnect"


def to_children(journey) -> None:
    """From « Votre compte est créé. », « Continuer » to « Ajout d'élèves »."""
    journey.click_link("Continuer")
    journey.path_is("idp", "/eleves")
    assert journey.page.title() == "Ajout d'élèves – ÉduConnect"


@pytest.mark.journey("B parcours de transition : mdurand", "C date de naissance juste")
def test_b_transition_mdurand(journey):
    create_account(journey, MDURAND, checks=True)
    to_children(journey)
    assert journey.page.get_by_role("group", name="Léa").is_visible()
    fill_birth_date(journey, "Léa", MDURAND.children["Léa"])
    journey.check("ajout-eleves")
    journey.submit("Ajout d'élèves")
    # 7 - one establishment: its ENT at once
    at_establishment(journey, *ECOLE_TILLEULS, "Bonjour Marie Durand", "Léa Durand")
    journey.check("ent-etablissement")


@pytest.mark.journey("B parcours de transition : elegoff", "C date de naissance fausse, puis juste")
def test_b_transition_elegoff(journey):
    page = journey.page
    create_account(journey, ELEGOFF, checks=True)
    to_children(journey)
    journey.check("ajout-eleves")
    fill_birth_date(journey, "Hugo", ("3", "9", "2014"))
    journey.submit("Ajout d'élèves")
    assert "Hugo : La date de naissance saisie ne correspond pas à nos informations." in (
        page.get_by_role("alert").inner_text()
    )
    journey.check("date-incorrecte")
    for child, date in ELEGOFF.children.items():
        fill_birth_date(journey, child, date)
    journey.submit("Ajout d'élèves")
    at_establishment(
        journey, "0860034V", "Collège Jean-Moulin", "Bonjour Éloïse Le Goff", "Hugo Le Goff", "Maël Le Goff"
    )
    journey.check("ent-etablissement")


@pytest.mark.journey(
    "B parcours de transition : sdalmeida", "D choix de l'établissement, puis « Changer d'établissement »"
)
def test_b_transition_sdalmeida_then_change_establishment(journey):
    page = journey.page
    create_account(journey, SDALMEIDA, checks=True)
    to_children(journey)
    for child in ("Inès", "Tom", "Nora"):
        assert page.get_by_role("group", name=child).is_visible()
    add_children(journey, SDALMEIDA)
    # 7 - « il vous sera demandé de choisir un établissement »
    journey.path_is("ent", "/etablissement")
    assert page.title() == "Choix de l'établissement – Services en ligne"
    journey.check("choix-etablissement")
    journey.press(page.get_by_text("Collège Les Marais – Niort"))  # DSFR draws the radio on its label
    journey.submit("Accéder à l'ENT")
    at_establishment(journey, "0790012J", "Collège Les Marais", "Tom D'Almeida")
    assert "Inès" not in page.inner_text("main") and "Nora" not in page.inner_text("main")
    journey.check("etablissement-choisi")
    journey.click_link("Changer d'établissement")  # no new sign-in
    journey.path_is("ent", "/etablissement")
    assert page.get_by_label("Collège Les Marais – Niort").is_checked()
    journey.check("changer-etablissement")
    journey.press(page.get_by_text("Lycée des Remparts – Angoulême"))
    journey.submit("Accéder à l'ENT")
    at_establishment(journey, "0160045M", "Lycée des Remparts", "Nora D'Almeida")
    assert "Tom" not in page.inner_text("main")
    journey.check("autre-etablissement")


@pytest.mark.journey("B parcours de transition : hbernard")
def test_b_transition_hbernard(journey):
    create_account(journey, HBERNARD, checks=True)
    journey.click_link("Continuer")
    # The registry knows no child of hers: no « Ajout d'élèves », the ENT says why and what to do.
    journey.path_is("ent", "/accueil")
    main = journey.page.inner_text("main")
    assert "Bonjour Hélène Bernard" in main and NO_CHILD in main
    journey.check("ent-aucun-eleve")


@pytest.mark.journey("B parcours de transition : jdupont", "C trois dates fausses : rattachement bloqué")
def test_b_transition_jdupont_three_wrong_dates(journey):
    page = journey.page
    create_account(journey, JDUPONT, checks=True)
    to_children(journey)
    for day in ("1", "2", "3"):
        fill_birth_date(journey, "Chloé", (day, "1", "2019"))
        journey.submit("Ajout d'élèves")
    main = page.inner_text("main")
    assert "le rattachement de cet élève est bloqué" in main
    assert "Contact de l'établissement : Secrétariat : 05 36 49 10 06" in main
    assert page.get_by_role("group", name="Chloé").count() == 0  # no field left to type a date
    journey.check("rattachement-bloque")
    journey.click_button("Continuer")
    journey.path_is("ent", "/accueil")
    main = page.inner_text("main")
    assert "Bonjour Jérôme Dupont" in main and NO_CHILD in main
    journey.check("ent-rattachement-bloque")


@pytest.mark.journey("C « Plus tard » : demandé à nouveau à la connexion suivante")
def test_c_later_then_asked_again_at_next_login(journey):
    page = journey.page
    create_account(journey, MDURAND)
    to_children(journey)
    journey.check("ajout-eleves")
    journey.submit("Plus tard")
    journey.path_is("ent", "/accueil")
    assert NO_CHILD in page.inner_text("main")
    journey.check("ent-plus-tard")
    # The next login (the browser closed: no cookie left) asks again.
    page.context.clear_cookies()
    journey.goto("ent", "/")
    journey.click_link("Je dispose d'un compte Educonnect")
    sign_in(journey, MDURAND.identifier, NEW_PASSWORD)
    journey.path_is("idp", "/eleves")
    assert page.get_by_role("group", name="Léa").is_visible()
    journey.check("ajout-eleves-a-nouveau")
    add_children(journey, MDURAND)
    at_establishment(journey, *ECOLE_TILLEULS, "Léa Durand")
    journey.check("ent-etablissement")
