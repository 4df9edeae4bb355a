"""Steps of the parcours de transition (flow B) shared by the flow tests."""

from __future__ import annotations

from sqlalchemy import delete, select

from idp.storage.models import AccountRow, UpstreamLinkRow
from tests.browser import Browser, page_text

# Demo ATEN parents (config/demo/aten.ldif).
ATEN_PARENTS = {
    "mdurand": ("Aten-Durand-86", "Marie", "Durand"),
    "elegoff": ("Aten-LeGoff-86", "Éloïse", "Le Goff"),
    "sdalmeida": ("Aten-DAlmeida-17", "Sébastien", "D'Almeida"),
    "hbernard": ("Aten-Bernard-79", "Hélène", "Bernard"),
    "jdupont": ("Aten-Dupont-86", "Jérôme", "Dupont"),
}
NEW_PASSWORD = "Rentree-2026!"


def forget_transitions(stack) -> None:
    """Remove every account created from ATEN, so each test meets a parent who never migrated."""
    sessions = stack.idp.extensions["idp"].accounts._sessions
    with sessions.begin() as db:
        linked = select(UpstreamLinkRow.account_id)
        db.execute(delete(AccountRow).where(AccountRow.id.in_(linked)))


def linked_accounts(stack, family_name: str) -> list[AccountRow]:
    sessions = stack.idp.extensions["idp"].accounts._sessions
    with sessions() as db:
        return list(
            db.scalars(
                select(AccountRow)
                .join(UpstreamLinkRow, UpstreamLinkRow.account_id == AccountRow.id)
                .where(AccountRow.family_name == family_name)
            )
        )


def aten_login_page(browser: Browser, from_ent: bool = True):
    """From the ENT's second button (or the IdP's own link) to ATEN's login page."""
    start = (
        browser.get("https://ent.test/connexion/sans-compte")
        if from_ent
        else browser.get("https://idp.test/transition/aten")
    )
    page = browser.follow(start)
    assert page.request.url.startswith("https://aten.test/connexion"), page_text(page)
    assert "VALIDER" in page_text(page)
    return page


def aten_sign_in(browser: Browser, uid: str, from_ent: bool = True):
    """ATEN login with « VALIDER », then the POST back to ÉduConnect: the page ÉduConnect shows."""
    password = ATEN_PARENTS[uid][0]
    post_page = browser.submit(aten_login_page(browser, from_ent), identifiant=uid, mot_de_passe=password)
    post_page = browser.follow(post_page)
    assert post_page.request.url.startswith("https://aten.test/"), page_text(post_page)
    return browser.follow(browser.submit(post_page, form_id="saml-post"))


def choose_password(
    browser: Browser, confirmed_page, password: str = NEW_PASSWORD, confirmation: str | None = None
):
    assert "Choisir mon mot de passe" in page_text(confirmed_page)
    form_page = browser.get("https://idp.test/transition/mot-de-passe")
    assert "Notez l'identifiant qui est donné" in page_text(form_page)
    response = browser.submit(
        form_page, mot_de_passe=password, confirmation=password if confirmation is None else confirmation
    )
    return form_page, response


def land_on_ent(browser: Browser, page_with_continue):
    """« Continuer » → the signed Response → the ENT's landing page."""
    import lxml.html

    doc = lxml.html.fromstring(page_with_continue.get_data(as_text=True))
    (href,) = doc.xpath('//a[normalize-space()="Continuer"]/@href')
    post_page = browser.follow(browser.get("https://idp.test" + href))
    return browser.follow(browser.submit(post_page, form_id="saml-post"))
