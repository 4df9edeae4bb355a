"""« Confirmer » sent again after it created the account (issue 13 item 4): the page the first one
led to, never « Le formulaire a expiré », never a second account (idp/repeated_confirmation.py).

A double click sends the second POST before the first answer arrives, so with the cookie of the
session the first one signed in and retired: these tests send it with that old cookie.
"""

from __future__ import annotations

import threading

import lxml.html
import pytest

from tests.browser import Browser, page_text
from tests.flows.transition_steps import (
    NEW_PASSWORD,
    aten_sign_in,
    forget_transitions,
    land_on_ent,
    linked_accounts,
)

IDP = "https://idp.test"
COOKIE = "idp_session"


@pytest.fixture
def browser(stack):
    forget_transitions(stack)
    return Browser(stack.apps())


def idp_cookie(browser: Browser) -> str:
    jar = browser.clients[IDP].get_cookie(COOKIE, domain="idp.test")
    assert jar is not None
    return jar.value


def set_idp_cookie(browser: Browser, value: str) -> None:
    browser.clients[IDP].set_cookie(COOKIE, value, domain="idp.test")


def password_form(browser: Browser):
    """The parent signed in at ATEN and opened « Choisir mon mot de passe »: the form page and the
    cookie it was served with."""
    confirmed = aten_sign_in(browser, "mdurand")
    assert "Choisir mon mot de passe" in page_text(confirmed)
    form_page = browser.get(f"{IDP}/transition/mot-de-passe")
    return form_page, idp_cookie(browser)


def confirm(browser: Browser, form_page, password: str = NEW_PASSWORD):
    return browser.submit(form_page, mot_de_passe=password, confirmation=password)


def test_the_second_post_of_a_double_click_leads_where_the_first_did(browser, stack):
    form_page, old_cookie = password_form(browser)
    first = confirm(browser, form_page)
    assert first.status_code == 302
    set_idp_cookie(browser, old_cookie)  # the browser dropped the first answer for the second click
    second = confirm(browser, form_page)
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    assert idp_cookie(browser) not in (old_cookie, "")  # signed in under a new session id
    created = browser.follow(second)
    assert "Votre compte est créé." in page_text(created)
    assert len(linked_accounts(stack, "Durand")) == 1
    # The ENT's request was kept: « Continuer » answers it.
    landing = land_on_ent(browser, created)
    assert landing.request.url == "https://ent.test/accueil"
    assert "Bonjour Marie Durand" in page_text(landing)


def test_the_old_cookie_without_the_chosen_password_opens_nothing(browser, stack):
    """Negative test: the old session id (stolen, or fixed before the login) is not enough; one
    wrong password and even the right one no longer helps."""
    form_page, old_cookie = password_form(browser)
    assert confirm(browser, form_page).status_code == 302
    set_idp_cookie(browser, old_cookie)
    wrong = confirm(browser, form_page, password="Autre-Mot-2026!")
    assert wrong.status_code == 400 and "Le formulaire a expiré" in page_text(wrong)
    right = confirm(browser, form_page)
    assert right.status_code == 400 and "Le formulaire a expiré" in page_text(right)
    assert browser.get(f"{IDP}/compte").status_code == 302  # not signed in: to the login page
    assert len(linked_accounts(stack, "Durand")) == 1


def test_the_confirmation_form_still_needs_its_csrf_token(browser, stack):
    """Negative test: the CSRF check the view makes itself (after telling a repeat apart)."""
    form_page, _ = password_form(browser)
    forged = browser.post(
        f"{IDP}/transition/mot-de-passe", {"mot_de_passe": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
    )
    assert forged.status_code == 400 and "Le formulaire a expiré" in page_text(forged)
    assert linked_accounts(stack, "Durand") == []
    assert confirm(browser, form_page).status_code == 302  # the real form still works


def test_back_to_the_transition_pages_after_the_account_was_created(browser):
    form_page, _ = password_form(browser)
    created_url = confirm(browser, form_page).headers["Location"]
    for path in ("/transition/mot-de-passe", "/transition/compte", "/saml/sp/acs", "/transition/reprendre"):
        again = browser.get(IDP + path)
        assert again.status_code == 302 and again.headers["Location"] == created_url, path


# One process serves a few requests at once (``serve --threads 4``), each with its pooled database
# connections: 20 at once in one process would wait on the pool, not on the code under test.
# tests/browser_e2e/test_dead_ends.py sends 20 at once to the real processes.
PARALLEL = 8


def test_parallel_confirmations_with_one_cookie_create_one_account(browser, stack):
    form_page, old_cookie = password_form(browser)
    (token,) = lxml.html.fromstring(form_page.get_data(as_text=True)).xpath(
        '//input[@name="csrf_token"]/@value'
    )
    form = {"csrf_token": token, "mot_de_passe": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
    answers: list[tuple[int, str]] = []
    barrier = threading.Barrier(PARALLEL)

    def click() -> None:
        client = stack.idp.test_client()
        client.set_cookie(COOKIE, old_cookie, domain="idp.test")
        barrier.wait(timeout=30)
        response = client.post(
            "/transition/mot-de-passe", base_url=IDP, data=form, headers={"Referer": form_page.request.url}
        )
        answers.append((response.status_code, response.headers.get("Location", "")))

    threads = [threading.Thread(target=click) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(answers) == PARALLEL
    assert set(answers) == {(302, "/transition/compte-cree")}, answers
    assert len(linked_accounts(stack, "Durand")) == 1


def test_a_new_transition_in_the_same_browser_is_not_led_to_the_previous_result(browser, stack):
    """A shared family computer: a second parent's « Choisir mon mot de passe » is theirs."""
    form_page, _ = password_form(browser)
    assert confirm(browser, form_page).status_code == 302
    confirmed = aten_sign_in(browser, "elegoff", from_ent=False)
    assert confirmed.request.path == "/transition/compte", page_text(confirmed)
    form_page = browser.get(f"{IDP}/transition/mot-de-passe")
    assert form_page.status_code == 200 and "e.legoff" in page_text(form_page)
