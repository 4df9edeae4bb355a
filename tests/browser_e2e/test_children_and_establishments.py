"""« Ajout d'élèves » and « Choix de l'établissement » (DESIGN §2 C and D), in Chromium."""

from __future__ import annotations

from tests.browser_e2e.journeys import JDUPONT, SDALMEIDA, create_account, fill_birth_date


def test_three_children_in_three_establishments_choose_then_switch(parent):
    page = parent.page
    create_account(parent, SDALMEIDA)
    parent.click_link("Continuer")
    parent.path_is("idp", "/eleves")
    for child in ("Inès", "Tom", "Nora"):
        assert page.get_by_role("group", name=child).is_visible()
    for child, date in SDALMEIDA.children.items():
        fill_birth_date(parent, child, date)
    parent.click_button("Ajout d'élèves")
    # 7 - « il vous sera demandé de choisir un établissement »
    parent.path_is("ent", "/etablissement")
    assert page.title() == "Choix de l'établissement – Services en ligne"
    parent.check("choix-etablissement", phone=True)
    page.get_by_text("Collège Les Marais – Niort").click()  # DSFR draws the radio on its label
    parent.click_button("Accéder à l'ENT")
    parent.path_is("ent", "/etablissement/0790012J")
    main = page.inner_text("main")
    assert "Collège Les Marais" in main and "Tom D'Almeida" in main and "Inès" not in main
    parent.check("etablissement-choisi")
    parent.click_link("Changer d'établissement")  # no new sign-in
    parent.path_is("ent", "/etablissement")
    assert page.get_by_label("Collège Les Marais – Niort").is_checked()
    # By keyboard: Tab to the chosen establishment, arrow up to the lycée, Enter.
    parent.tab_to(element_id="uai-0790012J", ring=False)  # DSFR rings the radio's label
    page.keyboard.press("ArrowUp")
    assert page.get_by_label("Lycée des Remparts – Angoulême").is_checked()
    page.keyboard.press("Enter")
    parent.path_is("ent", "/etablissement/0160045M")
    assert "Nora D'Almeida" in page.inner_text("main")
    parent.check("autre-etablissement")


def test_three_wrong_dates_block_the_child(parent):
    page = parent.page
    create_account(parent, JDUPONT)
    parent.click_link("Continuer")
    parent.path_is("idp", "/eleves")
    for day in ("1", "2", "3"):
        fill_birth_date(parent, "Chloé", (day, "1", "2019"))
        parent.click_button("Ajout d'élèves")
    main = page.inner_text("main")
    assert "le rattachement de cet élève est bloqué" in main
    assert "Contact de l'établissement : Secrétariat : 05 36 49 10 06" in main
    parent.check("rattachement-bloque", phone=True)
    parent.click_button("Continuer")
    parent.path_is("ent", "/accueil")
    assert "Aucun élève n'est rattaché à votre compte ÉduConnect" in page.inner_text("main")
    parent.check("ent-rattachement-bloque")
