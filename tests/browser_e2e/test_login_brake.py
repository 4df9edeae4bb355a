"""The login brake in Chromium: the owner's known browser still signs in while an unknown browser
is braked (DESIGN §6, OWASP device cookie)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser

from federation.login_throttle import BrakeLimits
from tests.browser_e2e.parent_browser import ParentBrowser
from tests.live_stack import LiveStack

OWNER, PASSWORD = "c.martin1", "Ecole-2026!"
BUDGET = BrakeLimits().account_attempts  # the demo runs with the default limits


def browser_of(chromium: Browser, live: LiveStack, name: str) -> ParentBrowser:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    context.set_default_timeout(10_000)
    return ParentBrowser(context.new_page(), live.urls, name)


def sign_in(parent: ParentBrowser, password: str) -> None:
    parent.page.get_by_label("Identifiant").fill(OWNER)
    parent.page.get_by_label("Mot de passe").fill(password)
    parent.click_button("Se connecter")


def test_the_owner_known_browser_signs_in_while_an_unknown_browser_is_braked(chromium, live_brake):
    owner = browser_of(chromium, live_brake, "frein-proprietaire")
    stranger = browser_of(chromium, live_brake, "frein-inconnu")
    try:
        # The owner signs in once on their browser: it keeps the device cookie.
        owner.goto("idp", "/connexion")
        sign_in(owner, PASSWORD)
        owner.path_is("idp", "/compte")
        (device,) = [c for c in owner.page.context.cookies() if c["name"] == "idp_appareil"]
        assert device["httpOnly"] and device["sameSite"] == "Strict" and device["path"] == "/connexion"
        owner.click_button("Se déconnecter")  # a POST with its CSRF token
        owner.page.get_by_role("heading", name="Vous êtes déconnecté").wait_for()

        # Someone else guesses on another browser: past the budget nothing is checked any more.
        stranger.goto("idp", "/connexion")
        for _ in range(BUDGET):
            sign_in(stranger, "Pas-le-bon-2026")
            assert stranger.page.get_by_role("alert").inner_text() == (
                "L'identifiant ou le mot de passe est incorrect."
            )
        sign_in(stranger, PASSWORD)  # even the right password is refused there
        stranger.path_is("idp", "/connexion")
        alert = stranger.page.get_by_role("alert").inner_text()
        assert alert.startswith("Trop de tentatives de connexion.")
        minutes = re.search(r"réessayez dans (\d+) minutes? environ", alert)
        assert minutes and 1 <= int(minutes.group(1)) <= 60
        assert "Depuis un navigateur où vous vous êtes déjà connecté" in alert
        assert stranger.page.get_by_role("link", name="Revenir à « Services en ligne »").is_visible()
        assert stranger.focused()["id"] == "identifiant"
        stranger.check("navigateur-inconnu-freine", phone=True)

        # The owner's browser signs in at once.
        owner.goto("idp", "/connexion")
        sign_in(owner, PASSWORD)
        owner.path_is("idp", "/compte")
        assert "Vous êtes connecté" in owner.page.inner_text("main")
        owner.check("navigateur-connu-connecte")
    finally:
        owner.page.context.close()
        stranger.page.context.close()
