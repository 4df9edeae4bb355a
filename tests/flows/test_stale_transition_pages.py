"""ATEN's pages opened again after their request was answered (Back twice from « Choisir mon mot
de passe », the login form sent again, an old tab) lead back to where the transition stands at
ÉduConnect (issue 13 item 4)."""

from __future__ import annotations

import lxml.html
import pytest

from tests.browser import Browser, page_text
from tests.flows.transition_steps import (
    ATEN_PARENTS,
    aten_login_page,
    choose_password,
    forget_transitions,
    linked_accounts,
)

ALREADY_CHECKED = "Votre compte ATEN a déjà été vérifié"


@pytest.fixture
def browser(stack):
    forget_transitions(stack)
    return Browser(stack.apps())


def links_of(page) -> dict[str, str]:
    doc = lxml.html.fromstring(page.get_data(as_text=True))
    return {" ".join(a.text_content().split()): a.get("href") for a in doc.xpath("//main//a")}


def signed_in_at_aten(browser: Browser):
    """ATEN's login form, « VALIDER », and the answer page: (login page, answer page)."""
    login_page = aten_login_page(browser)
    answer = browser.submit(login_page, identifiant="mdurand", mot_de_passe=ATEN_PARENTS["mdurand"][0])
    assert answer.status_code == 200 and "saml-post" in answer.get_data(as_text=True)
    return login_page, answer


def test_atens_login_page_opened_again_leads_back_to_choisir_mon_mot_de_passe(browser):
    _, answer = signed_in_at_aten(browser)
    browser.follow(browser.submit(answer, form_id="saml-post"))
    again = browser.get("https://aten.test/connexion")  # Back twice
    assert again.status_code == 200 and ALREADY_CHECKED in page_text(again)
    resume = links_of(again)["Continuer sur ÉduConnect"]
    assert resume == "https://idp.test/saml/sp/acs"  # the ACS of ÉduConnect's metadata
    page = browser.follow(browser.get(resume))
    assert page.request.path == "/transition/compte" and "Choisir mon mot de passe" in page_text(page)


def test_the_login_form_sent_again_answers_nothing_and_leads_back(browser, stack):
    login_page, answer = signed_in_at_aten(browser)
    browser.follow(browser.submit(answer, form_id="saml-post"))
    resent = browser.submit(login_page, identifiant="mdurand", mot_de_passe=ATEN_PARENTS["mdurand"][0])
    assert resent.status_code == 200 and ALREADY_CHECKED in page_text(resent)
    assert "saml-post" not in resent.get_data(as_text=True)  # no second Response


def test_before_the_answer_reached_educonnect_it_restarts_the_transition(browser):
    """The answer page left before its POST (Back at once): ÉduConnect asks ATEN again."""
    signed_in_at_aten(browser)
    again = browser.get("https://aten.test/connexion")
    page = browser.follow(browser.get(links_of(again)["Continuer sur ÉduConnect"]))
    assert page.request.url.startswith("https://aten.test/connexion") and "VALIDER" in page_text(page)


def test_after_the_account_was_created_it_leads_to_votre_compte_est_cree(browser, stack):
    _, answer = signed_in_at_aten(browser)
    confirmed = browser.follow(browser.submit(answer, form_id="saml-post"))
    _, created = choose_password(browser, confirmed)
    assert created.status_code == 302
    again = browser.get("https://aten.test/connexion")
    page = browser.follow(browser.get(links_of(again)["Continuer sur ÉduConnect"]))
    assert page.request.path == "/transition/compte-cree" and "Votre compte est créé." in page_text(page)
    assert len(linked_accounts(stack, "Durand")) == 1


def test_a_login_form_posted_in_a_browser_aten_never_saw_gives_the_way_back(stack):
    fresh = Browser(stack.apps())
    page = fresh.post("https://aten.test/connexion", {"identifiant": "mdurand", "mot_de_passe": "x"})
    assert page.status_code == 400 and "Votre session a expiré" in page_text(page)
    assert links_of(page)["Recommencer"] == "/connexion"


def test_atens_login_form_still_needs_its_csrf_token_while_a_request_waits(browser):
    """Negative test: the CSRF check the view makes itself when there is a request to answer."""
    aten_login_page(browser)
    forged = browser.post("https://aten.test/connexion", {"identifiant": "mdurand", "mot_de_passe": "x"})
    assert forged.status_code == 400 and "Le formulaire a expiré" in page_text(forged)


def test_aten_opened_directly_still_points_to_the_portal(stack):
    page = Browser(stack.apps()).get("https://aten.test/connexion")
    assert "Aucune demande de connexion n'est en cours" in page_text(page)
    assert "Page d'aide Educonnect" in links_of(page)
