"""« Mon compte » (issue 18 item 3): identifier, names, e-mail change (link to the new address,
the old one told), password change (current password required), children, and « Je ne suis pas
le représentant légal de cet élève » — with the negative tests of each rule."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from sqlalchemy import select

from educonnect_bridge.cli import main
from idp.storage.registry_models import ChildLinkRow
from tests.browser import page_text
from tests.flows.children_steps import children_page, dates_of, parent_with_children, to_ent
from tests.flows.saml_steps import PASSWORD, add_parent, readable_response_xml, sign_in
from tests.flows.self_service_steps import (
    IDP,
    audit_actions,
    browser_for,
    confirmed_address,
    give_confirmed_address,
    links_in,
    new_address,
    new_client_address,
    the_one_mail_to,
)
from tests.registry_helpers import Child, new_establishment, sessions_for

NEW_PASSWORD = "Vacances-2027!"


def signed_in_browser(mail_stack, account):
    browser = browser_for(mail_stack)
    browser.follow(sign_in(browser, account.identifier))
    return browser


def test_the_page_shows_identifier_names_and_address(mail_stack):
    parent = add_parent(mail_stack.idp)
    address = new_address()
    give_confirmed_address(mail_stack.idp, parent, address)
    browser = signed_in_browser(mail_stack, parent)
    page = browser.get(f"{IDP}/mon-compte")
    text = page_text(page)
    assert page.status_code == 200 and "Mon compte" in text
    assert parent.identifier in text and "Claire" in text and "Martin" in text and address in text
    assert "Se déconnecter" in text
    assert "Mon compte" in page_text(browser.get(f"{IDP}/compte"))  # linked from « Vous êtes connecté »


def test_it_needs_a_signed_in_parent(mail_stack):
    browser = browser_for(mail_stack)
    assert browser.get(f"{IDP}/mon-compte").headers["Location"].endswith("/connexion")
    client = mail_stack.idp.test_client()
    assert client.post("/mon-compte/mot-de-passe", base_url=IDP, data={}).status_code == 400  # no CSRF token


def test_a_new_address_is_confirmed_by_its_link_and_the_old_one_is_told(mail_stack):
    parent = add_parent(mail_stack.idp)
    old, new = new_address(), new_address()
    give_confirmed_address(mail_stack.idp, parent, old)
    browser = signed_in_browser(mail_stack, parent)
    page = browser.get(f"{IDP}/mon-compte")
    refused = browser.submit(
        page, form_id="changer-courriel", courriel="pas-une-adresse", mot_de_passe_actuel_courriel=PASSWORD
    )
    assert refused.status_code == 422 and "L'adresse électronique n'est pas valide" in page_text(refused)
    after = browser.follow(
        browser.submit(page, form_id="changer-courriel", courriel=new, mot_de_passe_actuel_courriel=PASSWORD)
    )
    assert f"Un message vient d'être envoyé à {new}" in page_text(after)
    assert f"En attente de confirmation : {new}" in page_text(after)
    assert confirmed_address(mail_stack.idp, parent) == old  # until the link is opened
    (link,) = links_in(the_one_mail_to(mail_stack.smtp, new))
    done = browser.submit(browser.get(link), form_id="confirmer-courriel")
    assert "Votre adresse électronique est confirmée." in page_text(done)
    assert confirmed_address(mail_stack.idp, parent) == new
    assert new in the_one_mail_to(mail_stack.smtp, old).text
    assert [a for a, _ in audit_actions(mail_stack.idp, parent)] == ["courriel_propose", "courriel_confirme"]


def test_the_address_changes_only_with_the_current_password(mail_stack):
    """A session left open (or stolen) must not take the account's recovery over."""
    parent = add_parent(mail_stack.idp)
    old, new = new_address(), new_address()
    give_confirmed_address(mail_stack.idp, parent, old)
    browser = signed_in_browser(mail_stack, parent)
    page = browser.get(f"{IDP}/mon-compte")
    for current in ("", "Pas-le-bon-1"):
        refused = browser.submit(
            page, form_id="changer-courriel", courriel=new, mot_de_passe_actuel_courriel=current
        )
        assert refused.status_code == 422 and "Le mot de passe actuel est incorrect." in page_text(refused)
    assert mail_stack.smtp.to(new) == [] and confirmed_address(mail_stack.idp, parent) == old
    assert "courriel_propose" not in [a for a, _ in audit_actions(mail_stack.idp, parent)]


def test_guessing_the_current_password_on_the_address_form_is_braked_with_the_password_form(mail_stack):
    parent = add_parent(mail_stack.idp)
    browser = signed_in_browser(mail_stack, parent)
    page = browser.get(f"{IDP}/mon-compte")
    codes = [
        browser.submit(
            page,
            form_id="changer-courriel",
            courriel=new_address(),
            mot_de_passe_actuel_courriel=f"Faux-{i}-mot",
        ).status_code
        for i in range(5)
    ]
    assert codes == [422] * 5
    braked = browser.submit(
        page,
        form_id="changer-mot-de-passe",
        mot_de_passe_actuel=PASSWORD,
        mot_de_passe=NEW_PASSWORD,
        confirmation=NEW_PASSWORD,
    )
    assert braked.status_code == 429 and "Trop de demandes" in page_text(braked)
    address = new_address()
    braked = browser.submit(
        page, form_id="changer-courriel", courriel=address, mot_de_passe_actuel_courriel=PASSWORD
    )
    assert braked.status_code == 429 and "Trop de demandes" in page_text(braked)
    assert mail_stack.smtp.to(address) == []


def change_address_to(mail_stack, browser, parent, new):
    page = browser.get(f"{IDP}/mon-compte")
    browser.submit(page, form_id="changer-courriel", courriel=new, mot_de_passe_actuel_courriel=PASSWORD)
    (link,) = links_in(the_one_mail_to(mail_stack.smtp, new))
    done = browser.submit(browser.get(link), form_id="confirmer-courriel")
    assert "Votre adresse électronique est confirmée." in page_text(done)


def test_ce_n_est_pas_moi_puts_the_old_address_back_and_ends_every_session(mail_stack):
    parent = add_parent(mail_stack.idp)
    old, new = new_address(), new_address()
    give_confirmed_address(mail_stack.idp, parent, old)
    intruder = signed_in_browser(mail_stack, parent)
    other = signed_in_browser(mail_stack, parent)
    change_address_to(mail_stack, intruder, parent, new)
    assert confirmed_address(mail_stack.idp, parent) == new
    told = the_one_mail_to(mail_stack.smtp, old)
    assert "Ce n'est pas vous ?" in told.text and "7 jours" in told.text
    (undo,) = [link for link in links_in(told) if "/courriel/ce-n-est-pas-moi" in link]
    # The intruder asks for yet another address: its link is spent by the undo.
    later = new_address()
    intruder.submit(
        intruder.get(f"{IDP}/mon-compte"),
        form_id="changer-courriel",
        courriel=later,
        mot_de_passe_actuel_courriel=PASSWORD,
    )
    (later_link,) = links_in(the_one_mail_to(mail_stack.smtp, later))
    parent_browser = browser_for(mail_stack)
    page = parent_browser.get(undo)
    assert page.status_code == 200 and old in page_text(page)
    assert confirmed_address(mail_stack.idp, parent) == new  # a GET changes nothing
    done = parent_browser.submit(page, form_id="retablir-courriel")
    assert "Votre adresse électronique est remise sur votre compte." in page_text(done), page_text(done)
    assert confirmed_address(mail_stack.idp, parent) == old
    for browser in (intruder, other):
        assert browser.get(f"{IDP}/mon-compte").headers["Location"].endswith("/connexion")
    assert parent_browser.submit(page, form_id="retablir-courriel").status_code == 410  # once
    assert browser_for(mail_stack).get(later_link).status_code == 410
    audited = [a for a, _ in audit_actions(mail_stack.idp, parent)]
    assert audited[-1] == "courriel_retabli"


def test_ce_n_est_pas_moi_expires(mail_stack):
    from tests.flows.self_service_steps import clock_at

    parent = add_parent(mail_stack.idp)
    old, new = new_address(), new_address()
    give_confirmed_address(mail_stack.idp, parent, old)
    change_address_to(mail_stack, signed_in_browser(mail_stack, parent), parent, new)
    (undo,) = [link for link in links_in(the_one_mail_to(mail_stack.smtp, old)) if "ce-n-est-pas-moi" in link]
    with clock_at(mail_stack.idp, dt.datetime.now(dt.UTC) + dt.timedelta(days=8)):
        assert browser_for(mail_stack).get(undo).status_code == 410
    assert confirmed_address(mail_stack.idp, parent) == new


def test_the_password_changes_only_with_the_current_one(mail_stack):
    parent = add_parent(mail_stack.idp)
    browser = signed_in_browser(mail_stack, parent)
    elsewhere = signed_in_browser(mail_stack, parent)
    page = browser.get(f"{IDP}/mon-compte")
    wrong = browser.submit(
        page,
        form_id="changer-mot-de-passe",
        mot_de_passe_actuel="Pas-le-bon-1",
        mot_de_passe=NEW_PASSWORD,
        confirmation=NEW_PASSWORD,
    )
    assert wrong.status_code == 422 and "Le mot de passe actuel est incorrect." in page_text(wrong)
    weak = browser.submit(
        page,
        form_id="changer-mot-de-passe",
        mot_de_passe_actuel=PASSWORD,
        mot_de_passe="court",
        confirmation="court",
    )
    assert weak.status_code == 422 and "au moins 8 caractères" in page_text(weak)
    assert sign_in(browser_for(mail_stack), parent.identifier).status_code == 302  # unchanged so far
    done = browser.follow(
        browser.submit(
            page,
            form_id="changer-mot-de-passe",
            mot_de_passe_actuel=PASSWORD,
            mot_de_passe=NEW_PASSWORD,
            confirmation=NEW_PASSWORD,
        )
    )
    assert "Votre mot de passe est modifié." in page_text(done)
    assert browser.get(f"{IDP}/mon-compte").status_code == 200  # this browser stays signed in
    assert elsewhere.get(f"{IDP}/mon-compte").headers["Location"].endswith("/connexion")  # the other is ended
    assert sign_in(browser_for(mail_stack), parent.identifier, NEW_PASSWORD).status_code == 302
    assert "mot_de_passe_modifie" in [a for a, _ in audit_actions(mail_stack.idp, parent)]


def test_guessing_the_current_password_is_braked(mail_stack):
    parent = add_parent(mail_stack.idp)
    browser = signed_in_browser(mail_stack, parent)
    page = browser.get(f"{IDP}/mon-compte")
    codes = [
        browser.submit(
            page,
            form_id="changer-mot-de-passe",
            mot_de_passe_actuel=f"Faux-{i}-mot",
            mot_de_passe=NEW_PASSWORD,
            confirmation=NEW_PASSWORD,
        ).status_code
        for i in range(6)
    ]
    assert codes == [422] * 5 + [429]
    braked = browser.submit(
        page,
        form_id="changer-mot-de-passe",
        mot_de_passe_actuel=PASSWORD,
        mot_de_passe=NEW_PASSWORD,
        confirmation=NEW_PASSWORD,
    )
    assert braked.status_code == 429 and "Trop de demandes" in page_text(braked)


def links_of(stack, account_id):
    with sessions_for(stack.idp.extensions["idp"].settings.database_url)() as db:
        return {
            r.student_id: r
            for r in db.scalars(select(ChildLinkRow).where(ChildLinkRow.account_id == account_id))
        }


def test_a_parent_reports_a_child_who_is_not_theirs(mail_stack, monkeypatch):
    lea = Child("Léa", dt.date(2017, 3, 14), new_establishment(1))
    tom = Child("Tom", dt.date(2015, 5, 2), new_establishment(1))
    family = parent_with_children(mail_stack.idp, [lea, tom])
    client_address = new_client_address()
    browser = browser_for(mail_stack, client_address)
    page = children_page(browser, family.account.identifier)
    to_ent(browser, browser.submit(page, form_id="ajout-eleves", **dates_of(lea, tom)))
    account_page = browser.get(f"{IDP}/mon-compte")
    text = page_text(account_page)
    assert "Léa" in text and "Tom" in text and "Je ne suis pas le représentant légal de cet élève" in text
    import lxml.html

    doc = lxml.html.fromstring(account_page.get_data(as_text=True))
    (form,) = doc.xpath(f'//li[@id="eleve-{tom.student_id}"]//form')
    token = form.xpath('.//input[@name="csrf_token"]/@value')[0]
    reported = browser.follow(
        browser.post(
            f"{IDP}/mon-compte/eleves/signaler",
            {"csrf_token": token, "eleve": tom.student_id},
            referer=f"{IDP}/mon-compte",
        )
    )
    text = page_text(reported)
    assert "Le rattachement de Tom à votre compte est supprimé" in text and tom.establishment.name in text
    assert "Je ne suis pas le représentant légal" in text  # still offered for Léa
    links = links_of(mail_stack, family.account.id)
    assert links[tom.student_id].confirmed_at is None and links[tom.student_id].reported_at is not None
    assert links[lea.student_id].confirmed_at is not None
    # Again, or for a child who is not theirs: nothing happens.
    again = browser.follow(
        browser.post(
            f"{IDP}/mon-compte/eleves/signaler",
            {"csrf_token": token, "eleve": tom.student_id},
            referer=f"{IDP}/mon-compte",
        )
    )
    assert "n'est pas (ou plus) rattaché" in page_text(again)
    # Confirming the reported child again, even with its right birth date, is refused.
    retried = browser.submit(page, form_id="ajout-eleves", **dates_of(tom))
    assert retried.status_code in (200, 302, 422), page_text(retried)
    assert links_of(mail_stack, family.account.id)[tom.student_id].confirmed_at is None
    # No longer released; the next sign-in does not propose it again.
    fresh = browser_for(mail_stack)
    post_page = fresh.follow(sign_in(fresh, family.account.identifier))
    assert post_page.request.path == "/saml/reponse", page_text(post_page)
    xml = readable_response_xml(mail_stack, post_page)
    assert lea.student_id in xml and tom.student_id not in xml
    assert ("signalement_representant", client_address) in audit_actions(mail_stack.idp, family.account)
    # The school sees it.
    monkeypatch.setenv("DATABASE_URL", mail_stack.idp.extensions["idp"].settings.database_url)
    monkeypatch.setenv("EDUCONNECT_MODE", "demo")
    monkeypatch.setenv("IDP_BASE_URL", "https://idp.test")
    out = CliRunner().invoke(main, ["registry", "reports", "--uai", tom.establishment.uai])
    assert out.exit_code == 0, out.output
    assert tom.student_id in out.output and family.account.identifier in out.output
    links_out = CliRunner().invoke(main, ["registry", "links", family.account.identifier])
    assert "signalé" in links_out.output
