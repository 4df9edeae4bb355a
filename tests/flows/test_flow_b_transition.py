"""Flow B of DESIGN §2: the parcours de transition, as the académie's help page tells parents."""

from __future__ import annotations

import re

import pytest

from tests.browser import Browser, page_text
from tests.flows.transition_steps import (
    NEW_PASSWORD,
    aten_sign_in,
    choose_password,
    forget_transitions,
    land_on_ent,
    linked_accounts,
)


@pytest.fixture
def browser(stack):
    forget_transitions(stack)
    return Browser(stack.apps())


def identifier_on(page) -> str:
    match = re.search(r"\b([a-z]\.[a-z]+\d+)\b", page_text(page))
    assert match, page_text(page)
    return match.group(1)


def test_new_parent_creates_an_account_and_lands_on_the_ent(browser, stack):
    confirmed = aten_sign_in(browser, "mdurand")
    assert confirmed.request.path == "/transition/compte"
    form_page, created = choose_password(browser, confirmed)
    identifier = identifier_on(form_page)
    assert identifier.startswith("m.durand")
    created = browser.follow(created)
    assert "Votre compte est créé." in page_text(created)
    assert identifier in page_text(created)
    landing = land_on_ent(browser, created)
    assert landing.request.url == "https://ent.test/accueil"
    assert "Bonjour Marie Durand" in page_text(landing)
    assert [a.identifier for a in linked_accounts(stack, "Durand")] == [identifier]


def test_new_account_signs_in_with_educonnect_afterwards(browser, stack):
    from tests.flows.saml_steps import sign_in

    form_page, _ = choose_password(browser, aten_sign_in(browser, "mdurand"))
    identifier = identifier_on(form_page)
    later = Browser(stack.apps())
    post_page = browser.follow(sign_in(later, identifier, NEW_PASSWORD))
    assert post_page.request.path == "/saml/reponse"


def test_identifier_folds_accents_spaces_and_apostrophes(browser):
    form_page, _ = choose_password(browser, aten_sign_in(browser, "elegoff"))
    assert identifier_on(form_page).startswith("e.legoff")
    second = Browser(browser.apps)
    form_page, _ = choose_password(second, aten_sign_in(second, "sdalmeida"))
    assert identifier_on(form_page).startswith("s.dalmeida")


def test_already_migrated_parent_is_told_their_identifier_and_signed_in(browser, stack):
    form_page, _ = choose_password(browser, aten_sign_in(browser, "mdurand"))
    identifier = identifier_on(form_page)
    again = Browser(stack.apps())
    page = aten_sign_in(again, "mdurand")
    assert page.request.path == "/transition/deja-inscrit"
    assert "Vous avez déjà un compte ÉduConnect" in page_text(page)
    assert identifier in page_text(page)
    landing = land_on_ent(again, page)
    assert "Bonjour Marie Durand" in page_text(landing)
    assert len(linked_accounts(stack, "Durand")) == 1


def test_password_errors_are_named_identifier_kept_password_not_echoed(browser):
    confirmed = aten_sign_in(browser, "mdurand")
    form_page, refused = choose_password(browser, confirmed, password="court", confirmation="autre")
    assert refused.status_code == 422
    text = page_text(refused)
    assert "au moins 8 caractères" in text
    assert "3 des 4 critères" in text
    assert "différents" in text
    assert identifier_on(form_page) in text
    assert "court" not in refused.get_data(as_text=True).replace("Le mot de passe", "")


def test_double_submit_creates_one_account_and_leads_where_the_first_did(browser, stack):
    confirmed = aten_sign_in(browser, "mdurand")
    form_page, first = choose_password(browser, confirmed)
    identifier = identifier_on(form_page)
    assert first.status_code == 302
    # The same form sent again, with the cookie the first answer set (tests/flows/
    # test_repeated_confirmation.py sends it with the cookie from before).
    second = browser.submit(form_page, mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD)
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    created = browser.follow(second)
    assert "Votre compte est créé." in page_text(created) and identifier in page_text(created)
    assert len(linked_accounts(stack, "Durand")) == 1
    # Another browser through ATEN reaches the account already created.
    restart = Browser(stack.apps())
    again = aten_sign_in(restart, "mdurand", from_ent=False)
    assert identifier in page_text(again) and "déjà un compte" in page_text(again)


def test_lost_state_gives_a_french_page_with_restart(stack):
    fresh = Browser(stack.apps())
    page = fresh.get("https://idp.test/transition/mot-de-passe")
    assert page.status_code == 400
    assert "Votre session a expiré" in page_text(page)
    assert 'href="/transition/aten"' in page.get_data(as_text=True)


def test_transition_from_the_idp_login_page_without_an_ent(browser):
    login = browser.get("https://idp.test/connexion")
    assert "Je n'ai pas de compte Educonnect" in page_text(login)
    confirmed = aten_sign_in(browser, "hbernard", from_ent=False)
    _, created = choose_password(browser, confirmed)
    created = browser.follow(created)
    assert "Votre compte est créé." in page_text(created)
    account_page = browser.follow(browser.get("https://idp.test/compte"))
    assert "Hélène Bernard" in page_text(account_page)


@pytest.mark.parametrize(
    ("chosen", "typed_later"),
    [
        ("Ecole.Poitiers86", "Ecole.Poitiers86"),  # a dot: 3 of the 4 criteria are enough
        ("Rentrée scolaire 26", "Rentrée scolaire 26"),  # spaces and an accented letter
        ("Rentre\u0301e-2026!", "Rentrée-2026!"),  # chosen with a combining accent, typed composed
    ],
)
def test_the_help_page_rule_and_no_more_then_the_same_password_signs_in(browser, stack, chosen, typed_later):
    from tests.flows.saml_steps import sign_in

    form_page, created = choose_password(browser, aten_sign_in(browser, "mdurand"), password=chosen)
    assert "Votre compte est créé." in page_text(browser.follow(created))
    later = Browser(stack.apps())
    post_page = browser.follow(sign_in(later, identifier_on(form_page), typed_later))
    assert post_page.request.path == "/saml/reponse"


def test_the_identifier_as_password_is_refused_by_name(browser):
    confirmed = aten_sign_in(browser, "mdurand")
    form_page = browser.get("https://idp.test/transition/mot-de-passe")
    identifier = identifier_on(form_page)
    _, refused = choose_password(browser, confirmed, password=identifier.upper())
    assert refused.status_code == 422
    assert "Le mot de passe ne doit pas être votre identifiant." in page_text(refused)
