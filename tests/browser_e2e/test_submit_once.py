"""An impatient parent presses « Se connecter » again while the first answer is on its way: the
form is sent once (federation/static/js/submit_once.js). Sent twice, the second POST carries the
session the first one replaced at sign-in and meets « Le formulaire a expiré »."""

from __future__ import annotations

import re

from tests.browser_e2e.parent_browser import ParentBrowser

IDENTIFIER, PASSWORD = "c.martin1", "Ecole-2026!"
# The second press lands while the first POST is in flight: a navigation the form started is not
# over before its answer arrives, and an argon2id verification takes tens of milliseconds.
PRESS_TWICE = """() => {
  const form = document.querySelector('form[method="post"]');
  form.requestSubmit();
  setTimeout(() => form.requestSubmit(), 5);
}"""


def posts_of_login(parent: ParentBrowser) -> list[str]:
    posts: list[str] = []
    parent.page.on(
        "request",
        lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/connexion") else None,
    )
    parent.goto("idp", "/connexion")
    parent.page.get_by_label("Identifiant").fill(IDENTIFIER)
    parent.page.get_by_label("Mot de passe").fill(PASSWORD)
    parent.page.evaluate(PRESS_TWICE)
    # The first answer's page (or the second's, when the first navigation was aborted).
    parent.page.wait_for_function("() => !document.querySelector('#mot_de_passe')")
    parent.page.wait_for_load_state("load")
    return posts


def test_login_pressed_twice_is_sent_once(parent):
    assert len(posts_of_login(parent)) == 1
    parent.path_is("idp", "/compte")  # signed in: « Mon compte », not « Le formulaire a expiré »
    parent.check("connecte-apres-double-envoi")


def test_without_the_script_it_would_be_sent_twice(parent):
    """The control: the same presses with submit_once.js blocked send two POSTs, so the test above
    can fail."""
    parent.block(re.compile(r".*/static/commun/(dist/)?js/submit_once\..*js"))
    assert len(posts_of_login(parent)) == 2
