"""The confirmed address of an account (issue 18 item 1): ATEN's ``mail`` offered during the
transition, confirmed by a link; an address confirmed only by its link, the old one told."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser import page_text
from tests.flows.saml_steps import add_parent
from tests.flows.self_service_steps import (
    IDP,
    MailStack,
    audit_actions,
    browser_for,
    confirmed_address,
    give_confirmed_address,
    links_in,
    make_idp,
    new_address,
    the_one_mail_to,
    token_rows,
)
from tests.flows.transition_steps import (
    NEW_PASSWORD,
    aten_sign_in,
    forget_transitions,
    linked_accounts,
)
from tests.mail_server import free_port


def transition_form(mail_stack, uid: str):
    forget_transitions(mail_stack)
    browser = browser_for(mail_stack)
    confirmed_page = aten_sign_in(browser, uid)
    assert "Choisir mon mot de passe" in page_text(confirmed_page)
    return browser, browser.get(f"{IDP}/transition/mot-de-passe")


def test_atens_mail_is_shown_and_confirmed_by_a_link(mail_stack):
    # The SMTP server may outlive a backend's run (fixture order): count this run's mail only.
    before = len(mail_stack.smtp.to("marie.durand@example.fr"))
    browser, form = transition_form(mail_stack, "mdurand")
    assert 'value="marie.durand@example.fr"' in form.get_data(as_text=True)
    created = browser.follow(browser.submit(form, mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD))
    assert "Votre compte est créé." in page_text(created)
    assert "Un message vient d'être envoyé à marie.durand@example.fr" in page_text(created)
    (account,) = linked_accounts(mail_stack, "Durand")
    assert confirmed_address(mail_stack.idp, account) is None  # not before its link is opened
    mails = mail_stack.smtp.to("marie.durand@example.fr")
    assert len(mails) == before + 1
    (link,) = links_in(mails[-1])
    other = browser_for(mail_stack)
    page = other.get(link)
    assert "marie.durand@example.fr" in page_text(page) and confirmed_address(mail_stack.idp, account) is None
    done = other.submit(page, form_id="confirmer-courriel")
    assert "Votre adresse électronique est confirmée." in page_text(done)
    assert confirmed_address(mail_stack.idp, account) == "marie.durand@example.fr"
    assert [a for a, _ in audit_actions(mail_stack.idp, account)] == ["courriel_propose", "courriel_confirme"]
    assert other.submit(page, form_id="confirmer-courriel").status_code == 410  # once


def test_the_parent_may_type_another_address_or_none(mail_stack):
    browser, form = transition_form(mail_stack, "jdupont")
    refused = browser.submit(
        form, mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD, courriel="pas une adresse"
    )
    assert refused.status_code == 422 and "L'adresse électronique n'est pas valide" in page_text(refused)
    assert linked_accounts(mail_stack, "Dupont") == []  # nothing created
    typed = new_address()
    created = browser.follow(
        browser.submit(form, mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD, courriel=typed)
    )
    assert "Votre compte est créé." in page_text(created)
    assert len(mail_stack.smtp.to(typed)) == 1 and mail_stack.smtp.to("jerome.dupont@example.fr") == []


def test_a_parent_without_atens_mail_may_leave_it_empty(mail_stack):
    browser, form = transition_form(mail_stack, "elegoff")
    before = len(mail_stack.smtp.received)
    created = browser.follow(browser.submit(form, mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD))
    assert "Votre compte est créé." in page_text(created) and "Un message" not in page_text(created)
    assert len(mail_stack.smtp.received) == before


def test_a_confirmation_link_expires(mail_stack):
    from tests.flows.self_service_steps import clock_at

    account = add_parent(mail_stack.idp)
    address = new_address()
    svc = mail_stack.idp.extensions["idp-self-service"].service
    with mail_stack.idp.test_request_context("/"):
        svc.propose_address(account, address, "127.0.0.1", dt.datetime.now(dt.UTC))
    (link,) = links_in(the_one_mail_to(mail_stack.smtp, address))
    browser = browser_for(mail_stack)
    with clock_at(mail_stack.idp, dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)):
        assert browser.get(link).status_code == 410
    assert confirmed_address(mail_stack.idp, account) is None


@pytest.fixture(scope="module")
def idp_without_relay(deployment, stack):
    dead = {
        "transport": "smtp",
        "host": "127.0.0.1",
        "port": free_port(),
        "security": "none",
        "timeout_seconds": 2,
    }
    return make_idp(deployment, stack, dead)


def test_the_old_address_is_told_first_and_a_relay_down_consumes_nothing(mail_stack, idp_without_relay):
    account = add_parent(mail_stack.idp)
    old, new = new_address(), new_address()
    give_confirmed_address(mail_stack.idp, account, old)
    svc = mail_stack.idp.extensions["idp-self-service"].service
    with mail_stack.idp.test_request_context("/"):
        svc.propose_address(account, new, "127.0.0.1", dt.datetime.now(dt.UTC))
    (link,) = links_in(the_one_mail_to(mail_stack.smtp, new))
    down = browser_for(MailStack(idp_without_relay, mail_stack.ent, mail_stack.aten, mail_stack.smtp))
    page = down.get(link)
    failed = down.submit(page, form_id="confirmer-courriel")
    assert failed.status_code == 503 and "momentanément impossible" in page_text(failed)
    assert confirmed_address(mail_stack.idp, account) == old
    assert [row.used_at for row in token_rows(mail_stack.idp, account)] == [None]  # not consumed
    browser = browser_for(mail_stack)
    done = browser.submit(browser.get(link), form_id="confirmer-courriel")
    assert "Votre adresse électronique est confirmée." in page_text(done)
    told = the_one_mail_to(mail_stack.smtp, old)
    assert new in told.text and "va être remplacée" in told.text
    assert confirmed_address(mail_stack.idp, account) == new


def confirm_with_the_old_address_refused(mail_stack, reply: str):
    account = add_parent(mail_stack.idp)
    old, new = new_address(), new_address()
    give_confirmed_address(mail_stack.idp, account, old)
    mail_stack.smtp.refuse(old, reply)
    svc = mail_stack.idp.extensions["idp-self-service"].service
    with mail_stack.idp.test_request_context("/"):
        svc.propose_address(account, new, "127.0.0.1", dt.datetime.now(dt.UTC))
    (link,) = links_in(the_one_mail_to(mail_stack.smtp, new))
    browser = browser_for(mail_stack)
    return account, old, new, browser.submit(browser.get(link), form_id="confirmer-courriel")


def test_an_old_address_that_is_dead_for_good_does_not_block_the_change(mail_stack):
    account, old, new, done = confirm_with_the_old_address_refused(
        mail_stack, "550 5.1.1 Mailbox unavailable"
    )
    assert "Votre adresse électronique est confirmée." in page_text(done), page_text(done)
    assert confirmed_address(mail_stack.idp, account) == new and mail_stack.smtp.to(old) == []
    actions = [a for a, _ in audit_actions(mail_stack.idp, account)]
    assert actions == ["courriel_propose", "courriel_ancien_refuse", "courriel_confirme"]
    assert [row.purpose for row in token_rows(mail_stack.idp, account)] == ["courriel"]  # no undo link


def test_an_old_address_refused_for_now_blocks_the_change(mail_stack):
    account, old, _, failed = confirm_with_the_old_address_refused(mail_stack, "450 4.2.1 Try again later")
    assert failed.status_code == 503 and "momentanément impossible" in page_text(failed)
    assert confirmed_address(mail_stack.idp, account) == old


def audit_details(app, account) -> dict[str, str]:
    from sqlalchemy import select

    from idp.storage.registry_models import RegistryAuditRow
    from tests.flows.self_service_steps import db

    with db(app)() as session:
        rows = session.execute(
            select(RegistryAuditRow.action, RegistryAuditRow.detail).where(
                RegistryAuditRow.account_id == account.id
            )
        )
        return {row.action: row.detail for row in rows}


@pytest.mark.parametrize("has_old", [True, False])
def test_the_audit_of_a_confirmation_names_the_new_and_the_old_address(mail_stack, has_old):
    account = add_parent(mail_stack.idp)
    old, new = new_address(), new_address()
    if has_old:
        give_confirmed_address(mail_stack.idp, account, old)
    svc = mail_stack.idp.extensions["idp-self-service"].service
    with mail_stack.idp.test_request_context("/"):
        svc.propose_address(account, new, "127.0.0.1", dt.datetime.now(dt.UTC))
    (link,) = links_in(the_one_mail_to(mail_stack.smtp, new))
    browser = browser_for(mail_stack)
    browser.submit(browser.get(link), form_id="confirmer-courriel")
    detail = audit_details(mail_stack.idp, account)["courriel_confirme"]
    assert f"nouvelle adresse : {new}" in detail
    assert f"ancienne adresse : {old if has_old else 'aucune'}" in detail
