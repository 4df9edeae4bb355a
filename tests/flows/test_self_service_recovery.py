"""« Identifiant ou mot de passe oublié ? » end to end through the test clients, with a real SMTP
server (issue 18 items 2, 4, 5), and the negative test of each security rule."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser import page_text
from tests.flows.saml_steps import PASSWORD, add_parent, sign_in
from tests.flows.self_service_steps import (
    IDP,
    MailStack,
    ask_recovery,
    audit_actions,
    browser_for,
    clock_at,
    count_tokens,
    give_confirmed_address,
    links_in,
    make_idp,
    new_address,
    new_client_address,
    the_one_mail_to,
    token_of,
    token_rows,
)
from tests.mail_server import free_port

NEW_PASSWORD = "Vacances-2027!"
SENT = "Si un compte ÉduConnect correspond à ce que vous avez saisi"


@pytest.fixture
def parent(mail_stack):
    account = add_parent(mail_stack.idp)
    give_confirmed_address(mail_stack.idp, account, new_address())
    return account


def address_of(mail_stack, account):
    from tests.flows.self_service_steps import confirmed_address

    address = confirmed_address(mail_stack.idp, account)
    assert address
    return address


def recovery_link(mail_stack, parent) -> str:
    browser = browser_for(mail_stack)
    sent = browser.follow(ask_recovery(browser, address_of(mail_stack, parent)))
    assert SENT in page_text(sent)
    mail = the_one_mail_to(mail_stack.smtp, address_of(mail_stack, parent))
    (link,) = links_in(mail)
    return link


def test_a_parent_gets_their_identifier_and_chooses_a_new_password(mail_stack, parent):
    client_address = new_client_address()
    browser = browser_for(mail_stack, client_address)
    sent = browser.follow(ask_recovery(browser, address_of(mail_stack, parent).upper()))
    assert sent.request.path == "/identifiant-oublie/message-envoye" and SENT in page_text(sent)
    mail = the_one_mail_to(mail_stack.smtp, address_of(mail_stack, parent))
    assert parent.identifier in mail.text and parent.identifier in mail.html
    assert "valable 30 minutes" in mail.text
    assert mail.message["Message-ID"] and mail.message["Subject"].startswith("Votre identifiant ÉduConnect")
    (link,) = links_in(mail)
    form = browser.get(link)
    assert form.status_code == 200 and parent.identifier in page_text(form)
    done = browser.follow(
        browser.submit(
            form, form_id="nouveau-mot-de-passe", mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD
        )
    )
    assert "Votre mot de passe est modifié." in page_text(done)
    fresh = browser_for(mail_stack)
    assert "L'identifiant ou le mot de passe est incorrect." in page_text(sign_in(fresh, parent.identifier))
    assert sign_in(fresh, parent.identifier, NEW_PASSWORD).status_code == 302
    actions = [action for action, _ in audit_actions(mail_stack.idp, parent)]
    assert actions == ["recuperation_envoyee", "mot_de_passe_reinitialise"]
    assert {address for _, address in audit_actions(mail_stack.idp, parent)} == {client_address}


def test_by_identifier_the_mail_goes_to_the_confirmed_address(mail_stack, parent):
    browser = browser_for(mail_stack)
    assert SENT in page_text(browser.follow(ask_recovery(browser, parent.identifier.upper())))
    mail = the_one_mail_to(mail_stack.smtp, address_of(mail_stack, parent))
    assert parent.identifier in mail.text and len(links_in(mail)) == 1


def test_every_account_of_an_address_is_named_with_its_own_link(mail_stack):
    address = new_address()
    first, second = add_parent(mail_stack.idp), add_parent(mail_stack.idp, "Paul", "Martin")
    for account in (first, second):
        give_confirmed_address(mail_stack.idp, account, address)
    browser = browser_for(mail_stack)
    browser.follow(ask_recovery(browser, address))
    mail = the_one_mail_to(mail_stack.smtp, address)
    assert first.identifier in mail.text and second.identifier in mail.text
    assert len(set(links_in(mail))) == 2


def test_an_unknown_address_gets_the_same_answer_and_one_mail(mail_stack, parent):
    known, unknown = address_of(mail_stack, parent), new_address()
    pages = {}
    for typed in (known, unknown):
        browser = browser_for(mail_stack)
        answer = ask_recovery(browser, typed)
        pages[typed] = (answer.status_code, answer.headers["Location"], page_text(browser.follow(answer)))
    assert pages[known] == pages[unknown]
    assert len(mail_stack.smtp.to(known)) == len(mail_stack.smtp.to(unknown)) == 1
    assert "aucun compte ÉduConnect" in mail_stack.smtp.to(unknown)[0].text
    assert links_in(mail_stack.smtp.to(unknown)[0]) == []


def test_an_unknown_identifier_gets_the_same_answer(mail_stack, parent):
    answers = []
    for typed in (parent.identifier, "x.inconnu424242"):
        browser = browser_for(mail_stack)
        answer = ask_recovery(browser, typed)
        answers.append((answer.status_code, answer.headers["Location"]))
    assert answers[0] == answers[1]


def test_an_unconfirmed_address_is_never_used(mail_stack):
    account = add_parent(mail_stack.idp)
    pending = new_address()
    svc = mail_stack.idp.extensions["idp-self-service"].service
    with mail_stack.idp.test_request_context("/"):
        svc.propose_address(account, pending, "127.0.0.1", dt.datetime.now(dt.UTC))
    assert "Confirmez votre adresse" in the_one_mail_to(mail_stack.smtp, pending).message["Subject"]
    browser = browser_for(mail_stack)
    browser.follow(ask_recovery(browser, pending))
    mails = mail_stack.smtp.to(pending)
    assert len(mails) == 2 and "aucun compte ÉduConnect" in mails[1].text


def test_the_link_page_changes_nothing_however_often_it_is_opened(mail_stack, parent):
    link = recovery_link(mail_stack, parent)
    browser = browser_for(mail_stack)
    for _ in range(3):
        assert browser.get(link).status_code == 200
    assert [row.used_at for row in token_rows(mail_stack.idp, parent)] == [None]
    assert sign_in(browser_for(mail_stack), parent.identifier).status_code == 302  # old password still works


def test_a_link_works_once(mail_stack, parent):
    link = recovery_link(mail_stack, parent)
    browser = browser_for(mail_stack)
    form = browser.get(link)
    browser.submit(form, form_id="nouveau-mot-de-passe", mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD)
    again = browser.submit(
        form, form_id="nouveau-mot-de-passe", mot_de_passe="Autre-Mot-2027!", confirmation="Autre-Mot-2027!"
    )
    assert again.status_code == 410 and "Ce lien n'est plus valable" in page_text(again)
    assert browser.get(link).status_code == 410
    assert sign_in(browser_for(mail_stack), parent.identifier, NEW_PASSWORD).status_code == 302


def test_an_expired_link_changes_nothing(mail_stack, parent):
    link = recovery_link(mail_stack, parent)
    browser = browser_for(mail_stack)
    form = browser.get(link)
    with clock_at(mail_stack.idp, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31)):
        assert browser.get(link).status_code == 410
        late = browser.submit(
            form, form_id="nouveau-mot-de-passe", mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD
        )
    assert late.status_code == 410 and "Demander un nouveau lien" in page_text(late)
    assert sign_in(browser_for(mail_stack), parent.identifier).status_code == 302


def test_a_tampered_or_foreign_purpose_token_is_refused(mail_stack, parent):
    link = recovery_link(mail_stack, parent)
    token = token_of(link)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    browser = browser_for(mail_stack)
    assert browser.get(f"{IDP}/mot-de-passe/nouveau?jeton={tampered}").status_code == 410
    assert browser.get(f"{IDP}/mot-de-passe/nouveau").status_code == 410
    # The recovery link opened where an address is confirmed, and the other way round.
    assert browser.get(f"{IDP}/courriel/confirmer?jeton={token}").status_code == 410
    pending = new_address()
    svc = mail_stack.idp.extensions["idp-self-service"].service
    with mail_stack.idp.test_request_context("/"):
        svc.propose_address(parent, pending, "127.0.0.1", dt.datetime.now(dt.UTC))
    (confirm_link,) = links_in(the_one_mail_to(mail_stack.smtp, pending))
    assert browser.get(f"{IDP}/mot-de-passe/nouveau?jeton={token_of(confirm_link)}").status_code == 410
    form = browser.get(link)
    forged = browser.submit(
        form,
        form_id="nouveau-mot-de-passe",
        jeton=token_of(confirm_link),
        mot_de_passe=NEW_PASSWORD,
        confirmation=NEW_PASSWORD,
    )
    assert forged.status_code == 410
    assert sign_in(browser_for(mail_stack), parent.identifier).status_code == 302


def test_the_new_password_follows_the_help_page_rule(mail_stack, parent):
    browser = browser_for(mail_stack)
    form = browser.get(recovery_link(mail_stack, parent))
    refused = browser.submit(form, form_id="nouveau-mot-de-passe", mot_de_passe="court", confirmation="court")
    assert refused.status_code == 422
    assert "Le mot de passe doit comporter au moins 8 caractères." in page_text(refused)
    assert parent.identifier in page_text(refused)
    same = browser.submit(
        form, form_id="nouveau-mot-de-passe", mot_de_passe=parent.identifier, confirmation=parent.identifier
    )
    assert "Le mot de passe ne doit pas être votre identifiant." in page_text(same)
    assert [row.used_at for row in token_rows(mail_stack.idp, parent)] == [None]  # still usable


def test_a_post_without_its_csrf_token_is_refused(mail_stack, parent):
    token = token_of(recovery_link(mail_stack, parent))
    client = mail_stack.idp.test_client()
    answer = client.post(
        "/mot-de-passe/nouveau",
        base_url=IDP,
        data={"jeton": token, "mot_de_passe": NEW_PASSWORD, "confirmation": NEW_PASSWORD},
    )
    assert answer.status_code == 400 and "Le formulaire a expiré" in answer.get_data(as_text=True)
    recovery = client.post(
        "/identifiant-oublie", base_url=IDP, data={"courriel_ou_identifiant": "x@example.fr"}
    )
    assert recovery.status_code == 400


def test_requests_are_limited_per_receiving_address_with_the_same_answer(mail_stack, parent):
    """Counted on the address the mail would go to, however it was typed (or by the identifier);
    at the limit the page is the same and nothing is sent: a stranger cannot make a parent's
    recovery answer « Trop de demandes »."""
    address = address_of(mail_stack, parent)
    typed = [address, f"  {address.upper()} ", parent.identifier, address, parent.identifier.upper()]
    answers = [ask_recovery(browser_for(mail_stack), value) for value in typed]
    assert [a.status_code for a in answers] == [302] * 5
    assert {a.headers["Location"] for a in answers} == {"/identifiant-oublie/message-envoye"}
    assert len(mail_stack.smtp.to(address)) == 3
    unknown = new_address()
    assert [ask_recovery(browser_for(mail_stack), unknown).status_code for _ in range(4)] == [302] * 4
    assert len(mail_stack.smtp.to(unknown)) == 3


@pytest.mark.parametrize(
    "typed",
    [
        "x0 <{victim}>, {other}",
        "{victim}, {other}",
        "Nom {n} <{victim}>",
        "{victim}\r\nBcc: {other}",
        "{victim}\nBcc: {other}",
    ],
)
def test_a_value_with_an_at_sign_must_be_one_valid_address(mail_stack, typed):
    victim, other = new_address(), new_address()
    value = typed.format(victim=victim, other=other, n=new_client_address())
    refused = ask_recovery(browser_for(mail_stack), value)
    assert refused.status_code == 422, page_text(refused)
    assert "L'adresse électronique n'est pas valide" in page_text(refused)
    assert mail_stack.smtp.to(victim) == [] and mail_stack.smtp.to(other) == []


def test_requests_are_limited_per_client_address(mail_stack):
    client_address = new_client_address()
    codes = [
        ask_recovery(browser_for(mail_stack, client_address), new_address()).status_code for _ in range(21)
    ]
    assert codes[:20] == [302] * 20 and codes[20] == 429


def test_a_new_password_ends_the_other_sessions_and_reopens_the_login_brake(mail_stack, parent):
    elsewhere = browser_for(mail_stack)
    elsewhere.follow(sign_in(elsewhere, parent.identifier))
    assert elsewhere.get(f"{IDP}/compte").status_code == 200  # signed in at ÉduConnect
    attacker = browser_for(mail_stack)
    for _ in range(10):
        sign_in(attacker, parent.identifier, "Mauvais-mot-2026")
    assert "Trop de tentatives" in page_text(
        sign_in(browser_for(mail_stack), parent.identifier, NEW_PASSWORD)
    )
    browser = browser_for(mail_stack)
    form = browser.get(recovery_link(mail_stack, parent))
    browser.submit(form, form_id="nouveau-mot-de-passe", mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD)
    assert elsewhere.get(f"{IDP}/compte").headers["Location"].endswith("/connexion")  # signed out
    assert sign_in(browser_for(mail_stack), parent.identifier, NEW_PASSWORD).status_code == 302


@pytest.fixture(scope="module")
def idp_without_relay(deployment, stack, tmp_path_factory):
    dead = {
        "transport": "smtp",
        "host": "127.0.0.1",
        "port": free_port(),
        "security": "none",
        "timeout_seconds": 2,
    }
    return make_idp(deployment, stack, dead)


def test_a_relay_that_is_down_loses_nothing(mail_stack, idp_without_relay, parent):
    down = MailStack(idp_without_relay, mail_stack.ent, mail_stack.aten, mail_stack.smtp)
    before = count_tokens(idp_without_relay)
    for typed in (address_of(mail_stack, parent), parent.identifier, new_address(), "x.inconnu424242"):
        browser = browser_for(down)
        answer = ask_recovery(browser, typed)
        assert answer.status_code == 503, typed
        assert "L'envoi du message est momentanément impossible" in page_text(answer)
    assert count_tokens(idp_without_relay) == before  # the links made were withdrawn
    # The budget was given back: the relay up again, the parent is served at once.
    for _ in range(3):
        assert ask_recovery(browser_for(mail_stack), address_of(mail_stack, parent)).status_code == 302


def pending_links(mail_stack, parent, count: int) -> list[str]:
    """``count`` recovery links of the parent (each asked from its own browser)."""
    address = address_of(mail_stack, parent)
    for _ in range(count):
        browser = browser_for(mail_stack)
        assert SENT in page_text(browser.follow(ask_recovery(browser, address)))
    return [link for mail in mail_stack.smtp.to(address) for link in links_in(mail)]


def address_link(mail_stack, account, address: str) -> str:
    svc = mail_stack.idp.extensions["idp-self-service"].service
    with mail_stack.idp.test_request_context("/"):
        svc.propose_address(account, address, "127.0.0.1", dt.datetime.now(dt.UTC))
    (link,) = links_in(the_one_mail_to(mail_stack.smtp, address))
    return link


def test_a_new_password_spends_every_other_pending_link(mail_stack, parent):
    first, second = pending_links(mail_stack, parent, 2)
    confirm = address_link(mail_stack, parent, new_address())
    browser = browser_for(mail_stack)
    done = browser.submit(
        browser.get(first),
        form_id="nouveau-mot-de-passe",
        mot_de_passe=NEW_PASSWORD,
        confirmation=NEW_PASSWORD,
    )
    assert done.status_code == 302
    for link in (second, confirm):
        assert browser_for(mail_stack).get(link).status_code == 410, link
    assert all(row.used_at is not None for row in token_rows(mail_stack.idp, parent))


def test_a_password_changed_in_mon_compte_spends_every_pending_link(mail_stack, parent):
    (link,) = pending_links(mail_stack, parent, 1)
    confirm = address_link(mail_stack, parent, new_address())
    browser = browser_for(mail_stack)
    browser.follow(sign_in(browser, parent.identifier))
    changed = browser.submit(
        browser.get(f"{IDP}/mon-compte"),
        form_id="changer-mot-de-passe",
        mot_de_passe_actuel=PASSWORD,
        mot_de_passe=NEW_PASSWORD,
        confirmation=NEW_PASSWORD,
    )
    assert changed.status_code == 302
    for pending in (link, confirm):
        assert browser_for(mail_stack).get(pending).status_code == 410, pending


def test_a_confirmed_address_spends_the_other_address_links(mail_stack, parent):
    older, newer = new_address(), new_address()
    older_link, newer_link = address_link(mail_stack, parent, older), address_link(mail_stack, parent, newer)
    (recovery,) = pending_links(mail_stack, parent, 1)
    browser = browser_for(mail_stack)
    done = browser.submit(browser.get(newer_link), form_id="confirmer-courriel")
    assert "Votre adresse électronique est confirmée." in page_text(done)
    assert browser_for(mail_stack).get(older_link).status_code == 410
    assert address_of(mail_stack, parent) == newer
    assert browser_for(mail_stack).get(recovery).status_code == 200  # a password link is not an address one


@pytest.fixture(scope="module")
def proxied_idp(deployment, stack, smtp):
    """The IdP behind one reverse proxy, as EDUCONNECT_TRUSTED_PROXIES=1 sets it."""
    from dataclasses import replace

    from idp import create_app

    backend = stack.backend
    settings = deployment.settings(
        "idp",
        backend.database_url,
        backend.redis_url,
        crypto_backend=backend.crypto,
        mail=smtp.mail_settings(),
    )
    return create_app(replace(settings, trusted_proxies=1))


def test_behind_the_trusted_proxy_the_parents_address_is_audited(mail_stack, proxied_idp, parent):
    proxied = MailStack(proxied_idp, mail_stack.ent, mail_stack.aten, mail_stack.smtp)
    proxy, client_address = new_client_address(), new_client_address()
    browser = browser_for(proxied, proxy)
    browser.clients[IDP].environ_base["HTTP_X_FORWARDED_FOR"] = client_address
    assert SENT in page_text(browser.follow(ask_recovery(browser, address_of(mail_stack, parent))))
    (link,) = links_in(the_one_mail_to(mail_stack.smtp, address_of(mail_stack, parent)))
    done = browser.submit(
        browser.get(link),
        form_id="nouveau-mot-de-passe",
        mot_de_passe=NEW_PASSWORD,
        confirmation=NEW_PASSWORD,
    )
    assert done.status_code == 302
    assert audit_actions(mail_stack.idp, parent) == [
        ("recuperation_envoyee", client_address),
        ("mot_de_passe_reinitialise", client_address),
    ]
