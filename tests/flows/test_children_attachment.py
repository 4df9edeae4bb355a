"""Flow C through the Flask test clients: « Ajout d'élèves » after an ÉduConnect login (DESIGN §2 C)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from idp.storage.registry_models import ChildLinkRow
from tests.browser import Browser, page_text
from tests.flows.children_steps import (
    WRONG_DATE_TEXT,
    attribute_of,
    children_page,
    dates_of,
    ent_parent,
    parent_with_children,
    to_ent,
)
from tests.flows.saml_steps import sign_in
from tests.registry_helpers import Child, new_establishment, sessions_for

ONE_DAY = dt.timedelta(days=1)


@pytest.fixture
def browser(stack):
    return Browser(stack.apps())


@pytest.fixture
def lea(stack):
    return parent_with_children(stack.idp, [Child("Léa", dt.date(2017, 3, 14), new_establishment(1))])


def links(stack, account_id: str) -> list[ChildLinkRow]:
    with sessions_for(stack.backend.database_url)() as db:
        return list(db.scalars(select(ChildLinkRow).where(ChildLinkRow.account_id == account_id)))


def test_parent_is_asked_confirms_and_lands_on_the_establishment_page(browser, stack, lea):
    child = lea.children[0]
    page = children_page(browser, lea.account.identifier)
    text = page_text(page)
    assert "Ajout d'élèves" in text and "Plus tard" in text
    assert f"Léa – {child.establishment.name} (Poitiers)" in text
    for label in ("Jour", "Mois", "Année"):
        assert label in text
    assert attribute_of(page, f'//input[@id="jour-{child.student_id}"]/@aria-describedby') == ["aide-date"]
    assert attribute_of(page, '//form[@id="ajout-eleves"]//input[@name="csrf_token"]/@value')
    landing = to_ent(browser, browser.submit(page, form_id="ajout-eleves", **dates_of(child)))
    assert landing.request.path == f"/etablissement/{child.establishment.uai}"
    assert "Bonjour Marie Durand" in page_text(landing)
    assert f"Élève n° {child.student_id}" in page_text(landing)
    released = ent_parent(browser, stack.ent)["attributes"]
    assert released["FrEduVecteur"] == [f"1|DURAND|Marie|{child.student_id}|{child.establishment.uai}"]
    assert released["FrEduCtPersonAffiliation"] == ["resp1d"]
    (link,) = links(stack, lea.account.id)
    assert link.confirmed_at is not None and link.failed_attempts == 0


def test_second_login_after_confirmation_is_not_asked_again(browser, stack, lea):
    page = children_page(browser, lea.account.identifier)
    to_ent(browser, browser.submit(page, form_id="ajout-eleves", **dates_of(lea.children[0])))
    later = Browser(stack.apps())
    assert later.follow(sign_in(later, lea.account.identifier)).request.path == "/saml/reponse"


def test_a_wrong_date_is_named_at_the_child_then_the_right_one_confirms(browser, stack, lea):
    child = lea.children[0]
    page = children_page(browser, lea.account.identifier)
    refused = browser.submit(page, form_id="ajout-eleves", **dates_of(child, shift=ONE_DAY))
    assert refused.status_code == 422
    assert WRONG_DATE_TEXT in page_text(refused)
    assert "Traceback" not in refused.get_data(as_text=True)
    described = attribute_of(refused, f'//input[@id="annee-{child.student_id}"]/@aria-describedby')
    assert described == [f"aide-date erreur-{child.student_id}"]
    assert attribute_of(refused, f'//p[@id="erreur-{child.student_id}"]/text()') == [WRONG_DATE_TEXT]
    assert attribute_of(refused, f'//input[@id="jour-{child.student_id}"]/@aria-invalid') == ["true"]
    assert links(stack, lea.account.id)[0].failed_attempts == 1
    landing = to_ent(browser, browser.submit(refused, form_id="ajout-eleves", **dates_of(child)))
    assert landing.request.path == f"/etablissement/{child.establishment.uai}"


def test_an_impossible_date_is_explained_and_not_counted(browser, stack, lea):
    child = lea.children[0]
    page = children_page(browser, lea.account.identifier)
    fields = {
        f"jour-{child.student_id}": "31",
        f"mois-{child.student_id}": "2",
        f"annee-{child.student_id}": "2017",
    }
    refused = browser.submit(page, form_id="ajout-eleves", **fields)
    assert refused.status_code == 422 and "Cette date n'existe pas." in page_text(refused)
    assert attribute_of(refused, f'//input[@id="jour-{child.student_id}"]/@value') == ["31"]
    empty = browser.submit(refused, form_id="ajout-eleves", **dict.fromkeys(fields, ""))
    assert "Saisissez la date de naissance d'au moins un élève" in page_text(empty)
    assert links(stack, lea.account.id)[0].failed_attempts == 0


def test_a_child_not_theirs_gets_the_same_message(browser, stack, lea):
    other = parent_with_children(stack.idp, [Child("Zoé", dt.date(2016, 6, 1), new_establishment(1))])
    stranger = other.children[0]
    page = children_page(browser, lea.account.identifier)
    refused = browser.submit(page, form_id="ajout-eleves", **dates_of(stranger))  # the right date, forged id
    assert refused.status_code == 422
    assert WRONG_DATE_TEXT in page_text(refused)
    assert "Zoé" not in page_text(refused)
    assert [link.student_id for link in links(stack, lea.account.id)] == [lea.children[0].student_id]


def test_three_wrong_dates_block_the_child_and_show_the_schools_contact(browser, stack, lea):
    child = lea.children[0]
    page = children_page(browser, lea.account.identifier)
    for _ in range(3):
        page = browser.submit(page, form_id="ajout-eleves", **dates_of(child, shift=ONE_DAY))
    text = page_text(page)
    assert "le rattachement de cet élève est bloqué" in text
    assert f"Contact de l'établissement : Secrétariat {child.establishment.uai}" in text
    assert not attribute_of(page, '//form[@id="ajout-eleves"]')  # nothing more to type
    assert "Continuer" in text
    landing = to_ent(browser, browser.submit(page, form_id="plus-tard"))
    assert "Aucun élève n'est rattaché à votre compte ÉduConnect" in page_text(landing)
    later = Browser(stack.apps())
    assert later.follow(sign_in(later, lea.account.identifier)).request.path == "/saml/reponse"


def test_plus_tard_postpones_until_the_next_login(browser, stack, lea):
    page = children_page(browser, lea.account.identifier)
    landing = to_ent(browser, browser.submit(page, form_id="plus-tard"))
    assert landing.request.path == "/accueil"
    assert "Aucun élève n'est rattaché" in page_text(landing)
    assert "FrEduVecteur" not in ent_parent(browser, stack.ent)["attributes"]
    again = browser.follow(browser.get("https://ent.test/connexion/educonnect"))  # same IdP session
    assert again.request.path == "/saml/sso" and 'name="SAMLResponse"' in again.get_data(as_text=True)
    later = Browser(stack.apps())
    assert children_page(later, lea.account.identifier).status_code == 200


def test_confirm_one_child_now_and_the_other_later(browser, stack):
    school = new_establishment(2, commune="Niort")
    family = parent_with_children(
        stack.idp, [Child("Hugo", dt.date(2014, 9, 2), school), Child("Maël", dt.date(2012, 1, 27), school)]
    )
    page = children_page(browser, family.account.identifier)
    partial = browser.submit(page, form_id="ajout-eleves", **dates_of(family.child("Hugo")))
    assert partial.status_code == 200
    assert "Rattachement confirmé : Hugo." in page_text(partial)
    assert attribute_of(partial, "//fieldset/legend/strong/text()") == ["Maël"]
    landing = to_ent(browser, browser.submit(partial, form_id="plus-tard"))
    assert landing.request.path == f"/etablissement/{school.uai}"
    assert ent_parent(browser, stack.ent)["attributes"]["FrEduCtPersonAffiliation"] == ["resp2d"]


def test_the_form_needs_its_csrf_token(browser, lea):
    page = children_page(browser, lea.account.identifier)
    refused = browser.post("https://idp.test/eleves", dates_of(lea.children[0]), referer=page.request.url)
    assert refused.status_code == 400 and "Le formulaire a expiré" in page_text(refused)


def test_the_page_needs_a_signed_in_parent(browser):
    page = browser.get("https://idp.test/eleves")
    assert page.status_code == 400 and "Votre session a expiré" in page_text(page)
