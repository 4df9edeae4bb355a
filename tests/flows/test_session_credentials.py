"""A new password signs out every other session of the account, however old and whether or not
``idp.account_sessions`` recorded it: each session carries the password-change marker it signed in
with, and every place a signed-in session is used refuses one that no longer holds it."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.account_sessions import PREFIX, SLOTS
from idp.domain.passwords import hash_password
from idp.domain.self_service import PURPOSE_PASSWORD, AuditRecord, token_digest
from tests.browser import Browser, page_text
from tests.flows.saml_steps import PASSWORD, add_parent, sign_in

IDP = "https://idp.test"
NEW_PASSWORD = "Vacances-2027!"


@pytest.fixture
def parent(stack):
    return add_parent(stack.idp)


def signed_in_browser(stack, account) -> Browser:
    browser = Browser({"https://ent.test": stack.ent, IDP: stack.idp})
    post_page = browser.follow(sign_in(browser, account.identifier))
    assert 'name="SAMLResponse"' in post_page.get_data(as_text=True), page_text(post_page)
    browser.follow(browser.submit(post_page, form_id="saml-post"))
    return browser


def forget_recorded_sessions(stack, account) -> None:
    """As when a record expired, was overwritten by 16 later sign-ins, or was never made."""
    store = stack.idp.extensions["idp"].store
    for slot in range(SLOTS):
        store.delete(f"{PREFIX}{account.id}:{slot}")


def is_signed_out(browser: Browser) -> bool:
    pages = [browser.get(f"{IDP}/compte"), browser.get(f"{IDP}/mon-compte")]
    if not all(page.status_code == 302 and page.headers["Location"].endswith("/connexion") for page in pages):
        return False
    again = browser.follow(browser.get("https://ent.test/connexion/educonnect"))  # the SSO answer
    return again.request.path == "/connexion" and 'name="SAMLResponse"' not in again.get_data(as_text=True)


def test_a_session_the_end_of_sessions_missed_is_signed_out_by_the_new_password(stack, parent):
    old = signed_in_browser(stack, parent)
    forget_recorded_sessions(stack, parent)
    changing = signed_in_browser(stack, parent)
    done = changing.submit(
        changing.get(f"{IDP}/mon-compte"),
        form_id="changer-mot-de-passe",
        mot_de_passe_actuel=PASSWORD,
        mot_de_passe=NEW_PASSWORD,
        confirmation=NEW_PASSWORD,
    )
    assert done.status_code == 302
    assert changing.get(f"{IDP}/mon-compte").status_code == 200  # the browser that chose it stays
    again = changing.follow(changing.get("https://ent.test/connexion/educonnect"))
    assert 'name="SAMLResponse"' in again.get_data(as_text=True)
    assert is_signed_out(old)
    # Signing in again with the new password works as before.
    assert sign_in(old, parent.identifier, NEW_PASSWORD).status_code == 302
    assert old.get(f"{IDP}/mon-compte").status_code == 200


def test_a_session_opened_before_markers_existed_is_signed_out(stack, parent):
    browser = signed_in_browser(stack, parent)
    with browser.clients[IDP].session_transaction(base_url=IDP) as stored:
        stored.pop("credentials", None)
    assert is_signed_out(browser)


def test_a_signed_out_session_stays_signed_out_when_its_browser_resets_the_password(stack, parent):
    """The browser keeps its session through a new password only if it held the previous one."""
    browser = signed_in_browser(stack, parent)
    svc = stack.idp.extensions["idp-self-service"]
    now = dt.datetime.now(dt.UTC)
    audit = AuditRecord("mot_de_passe_modifie", parent.id, parent.identifier, "10.0.0.9", "", now)
    svc.repository.reset_password(None, parent.id, hash_password(NEW_PASSWORD), now, audit)  # elsewhere
    assert browser.get(f"{IDP}/compte").headers["Location"].endswith("/connexion")  # the session is kept
    token = "jeton-de-test-" + parent.id
    svc.repository.add_link(
        token_digest(token), parent.id, PURPOSE_PASSWORD, None, now, now + dt.timedelta(minutes=30)
    )
    form = browser.get(f"{IDP}/mot-de-passe/nouveau?jeton={token}")
    done = browser.submit(form, form_id="nouveau-mot-de-passe", mot_de_passe=PASSWORD, confirmation=PASSWORD)
    assert done.status_code == 302, page_text(done)
    assert is_signed_out(browser)
