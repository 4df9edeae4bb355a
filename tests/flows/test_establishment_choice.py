"""Flow D through the Flask test clients: the ENT sends the parent to their children's establishment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from federation.vectors import uai_check_letter
from idp.domain.school_registry import Establishment
from sp_ent import create_app as create_ent
from tests.browser import Browser, page_text
from tests.flows.children_steps import (
    attribute_of,
    children_page,
    dates_of,
    ent_parent,
    parent_with_children,
    to_ent,
)
from tests.flows.saml_steps import sign_in
from tests.registry_helpers import Child


def fixed_establishment(digits: str, degree: int, name: str, commune: str) -> Establishment:
    uai = digits + uai_check_letter(digits)
    return Establishment(
        uai, name, commune, degree, f"https://ent.test/etablissement/{uai}", "05 36 49 00 00"
    )


ECOLE = fixed_establishment("0179901", 1, "École du Port (test)", "La Rochelle")
COLLEGE = fixed_establishment("0799902", 2, "Collège des Marais (test)", "Niort")
LYCEE = fixed_establishment("0169903", 2, "Lycée des Remparts (test)", "Angoulême")
UNRELEASED = fixed_establishment("0869904", 2, "Collège d'à côté (test)", "Poitiers")


@pytest.fixture(scope="module")
def ent(deployment, backend, tmp_path_factory):
    """The stack's ENT with its own establishments directory (names on the chooser)."""
    folder: Path = tmp_path_factory.mktemp("ent-directory")
    rows = [f"{e.uai};{e.name};{e.commune};{e.degree}" for e in (ECOLE, COLLEGE, LYCEE, UNRELEASED)]
    (folder / "etablissements.csv").write_text("\n".join(["uai;nom;commune;degre", *rows]) + "\n")
    (folder / "eleves.csv").write_text("eleve;prenom;nom;niveau;uai\n")
    settings = deployment.settings(
        "ent",
        backend.database_url,
        backend.redis_url,
        crypto_backend=backend.crypto,
        directory={
            "establishments": str(folder / "etablissements.csv"),
            "pupils": str(folder / "eleves.csv"),
        },
    )
    return create_ent(settings)


@pytest.fixture
def browser(stack, ent):
    return Browser({**stack.apps(), "https://ent.test": ent})


def signed_in_with_children(browser, stack, children):
    family = parent_with_children(stack.idp, children, given_name="Sébastien", family_name="D'Almeida")
    page = children_page(browser, family.account.identifier)
    return family, to_ent(browser, browser.submit(page, form_id="ajout-eleves", **dates_of(*children)))


@pytest.fixture
def three_schools():
    return [
        Child("Inès", dt.date(2018, 6, 5), ECOLE),
        Child("Tom", dt.date(2013, 11, 19), COLLEGE),
        Child("Nora", dt.date(2010, 4, 30), LYCEE),
    ]


def test_several_establishments_lead_to_the_chooser_then_the_chosen_page(browser, stack, ent, three_schools):
    family, chooser = signed_in_with_children(browser, stack, three_schools)
    assert chooser.request.path == "/etablissement"
    text = page_text(chooser)
    assert "Choisissez un établissement" in text and "Bonjour Sébastien D'Almeida" in text
    for school in (ECOLE, COLLEGE, LYCEE):
        assert f"{school.name} – {school.commune}" in text
    assert UNRELEASED.name not in text
    # eldest child first, as ÉduConnect lists them
    assert attribute_of(chooser, "//input[@name='uai']/@value") == [LYCEE.uai, COLLEGE.uai, ECOLE.uai]
    page = browser.follow(browser.submit(chooser, form_id="choix-etablissement", uai=COLLEGE.uai))
    assert page.request.path == f"/etablissement/{COLLEGE.uai}"
    text = page_text(page)
    assert COLLEGE.name in text and "Bonjour Sébastien D'Almeida" in text
    assert f"Élève n° {family.child('Tom').student_id}" in text
    assert family.child("Inès").student_id not in text and family.child("Nora").student_id not in text
    released = ent_parent(browser, ent)["attributes"]
    assert released["FrEduCtPersonAffiliation"] == ["resp1d", "resp2d"]
    assert sorted(v.split("|")[0] for v in released["FrEduVecteur"]) == ["1", "2", "2"]


def test_changing_establishment_needs_no_new_sign_in(browser, stack, three_schools):
    _, chooser = signed_in_with_children(browser, stack, three_schools)
    page = browser.follow(browser.submit(chooser, form_id="choix-etablissement", uai=ECOLE.uai))
    assert "Changer d'établissement" in page_text(page)
    idp_requests = sum("idp.test" in h for h in browser.history)
    again = browser.get("https://ent.test/etablissement")
    assert again.status_code == 200 and "Choisissez un établissement" in page_text(again)
    assert attribute_of(again, "//input[@checked]/@value") == [ECOLE.uai]  # the current one is selected
    other = browser.follow(browser.submit(again, form_id="choix-etablissement", uai=LYCEE.uai))
    assert other.request.path == f"/etablissement/{LYCEE.uai}"
    assert sum("idp.test" in h for h in browser.history) == idp_requests
    assert (
        browser.follow(browser.get("https://ent.test/accueil")).request.path == f"/etablissement/{LYCEE.uai}"
    )


@pytest.mark.parametrize("forged", [UNRELEASED.uai, UNRELEASED.uai[:7] + "A", "../admin", ""])
def test_a_forged_establishment_choice_gets_an_error_page(browser, stack, three_schools, forged):
    _, chooser = signed_in_with_children(browser, stack, three_schools)
    refused = browser.submit(chooser, form_id="choix-etablissement", uai=forged)
    assert refused.status_code == 403
    assert "Établissement non autorisé" in page_text(refused)
    assert "Traceback" not in refused.get_data(as_text=True)
    assert attribute_of(refused, '//a[normalize-space()="Choisir un établissement"]/@href') == [
        "/etablissement"
    ]


def test_a_forged_establishment_url_gets_an_error_page(browser, stack, three_schools):
    signed_in_with_children(browser, stack, three_schools)
    refused = browser.get(f"https://ent.test/etablissement/{UNRELEASED.uai}")
    assert refused.status_code == 403 and "Établissement non autorisé" in page_text(refused)
    assert UNRELEASED.name not in page_text(refused)


def test_the_chosen_establishment_is_checked_only_against_this_session(browser, stack, three_schools):
    signed_in_with_children(browser, stack, three_schools)
    stranger = Browser(browser.apps)
    assert stranger.get(f"https://ent.test/etablissement/{ECOLE.uai}").headers["Location"].endswith("/")
    refused = stranger.post("https://ent.test/etablissement", {"uai": ECOLE.uai})
    assert refused.status_code in (302, 400)  # no session: back to the portal (or no CSRF token)


def test_two_children_in_one_establishment_go_straight_to_its_page(browser, stack):
    children = [Child("Hugo", dt.date(2014, 9, 2), COLLEGE), Child("Maël", dt.date(2012, 1, 27), COLLEGE)]
    family, page = signed_in_with_children(browser, stack, children)
    assert page.request.path == f"/etablissement/{COLLEGE.uai}"
    text = page_text(page)
    assert all(f"Élève n° {c.student_id}" in text for c in family.children)
    assert "Changer d'établissement" not in text


def test_no_released_child_gives_a_page_saying_why_and_what_to_do(browser, stack):
    family = parent_with_children(stack.idp, [Child("Léa", dt.date(2017, 3, 14), ECOLE)])
    page = children_page(browser, family.account.identifier)
    landing = to_ent(browser, browser.submit(page, form_id="plus-tard"))
    text = page_text(landing)
    assert "Aucun élève n'est rattaché à votre compte ÉduConnect" in text
    assert "Pourquoi ?" in text and "Que faire ?" in text and "« Ajout d'élèves »" in text
    # One wording (issue 13, item 5): « Se déconnecter », a POST that ends ÉduConnect's session too.
    assert attribute_of(landing, '//form[.//button[normalize-space()="Se déconnecter"]]/@action') == [
        "/deconnexion"
    ]
    assert "Quitter les Services en ligne" not in text and "Se déconnecter d'ÉduConnect" not in text
    assert browser.get("https://ent.test/etablissement").status_code == 200  # same page, no loop


def test_without_a_session_the_establishment_pages_lead_to_the_portal(browser):
    for path in ("/etablissement", f"/etablissement/{ECOLE.uai}"):
        response = browser.get(f"https://ent.test{path}")
        assert response.status_code == 302 and response.headers["Location"] == "/"


def test_an_educonnect_only_parent_without_children_is_not_asked(browser, stack):
    from tests.flows.saml_steps import add_parent

    parent = add_parent(stack.idp, "Claire", "Martin")
    landing = browser.follow(
        browser.submit(browser.follow(sign_in(browser, parent.identifier)), form_id="saml-post")
    )
    assert landing.request.path == "/accueil" and "Aucun élève n'est rattaché" in page_text(landing)
