"""No dead end in real Chromium (issue 13 item 4): Back twice from « Choisir mon mot de passe »,
a double click on « Confirmer » (SAML and OIDC), a reload after it, 20 « Confirmer » at once, and
a Response refused because ATEN's clock is 10 minutes ahead (ATEN run under libfaketime).

This module starts its own stacks (``live`` and ``live_oidc`` overridden below): every ATEN demo
parent creates their account here, whatever the other browser tests did with them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser_e2e.journeys import (
    ELEGOFF,
    HBERNARD,
    JDUPONT,
    MDURAND,
    NEW_PASSWORD,
    SDALMEIDA,
    AtenParent,
    aten_sign_in,
)
from tests.browser_e2e.parent_browser import ParentBrowser
from tests.live_stack import ROOT, LiveStack, live_stack, wait_until_ready

FAKETIME = Path("/usr/bin/faketime")


def to_password_page(parent: ParentBrowser, who: AtenParent) -> None:
    """Help page steps 1–4: ATEN, then « Choisir mon mot de passe »."""
    aten_sign_in(parent, who)
    parent.path_is("idp", "/transition/compte")
    parent.click_link("Choisir mon mot de passe")
    parent.path_is("idp", "/transition/mot-de-passe")
    parent.page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
    parent.page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)


def double_click_confirmer(parent: ParentBrowser) -> int:
    """« Confirmer » twice, the second time before the first answer arrived (a server slower than
    the parent's finger). The first POST is the form as Chromium sends it (its fields, its cookie)
    and reaches the real server, which creates the account; Chromium never sees that answer, as
    when the second submission cancels the first navigation. Then the real click, which leaves
    with the cookie from before (the answer that changed it never arrived). Returns the first
    POST's status."""
    page, context = parent.page, parent.page.context
    before = context.cookies()
    fields = page.eval_on_selector_all(
        "form:has(button) input[name]", "inputs => Object.fromEntries(inputs.map(i => [i.name, i.value]))"
    )
    # « Adresse électronique » comes filled in from ATEN's mail (issue 18).
    assert set(fields) == {"csrf_token", "mot_de_passe", "confirmation", "courriel"}, fields
    first = context.request.post(page.url, form=fields, max_redirects=0, headers={"Referer": page.url})
    # Its Set-Cookie is part of the answer Chromium never got. (A read Cookie is a valid
    # SetCookieParam; Playwright types the two apart.)
    context.clear_cookies()
    context.add_cookies(before)  # type: ignore[arg-type]
    parent.click_button("Confirmer")
    return first.status


def assert_account_created(parent: ParentBrowser, who: AtenParent) -> None:
    parent.path_is("idp", "/transition/compte-cree")
    main = parent.page.inner_text("main")
    assert "Votre compte est créé." in main and who.identifier in main, main
    assert "expiré" not in main


def assert_one_account(chromium: Browser, stack: LiveStack, who: AtenParent) -> None:
    """Another browser through ATEN meets the account already created, under the same identifier
    (a second account would have needed a second link to the same ATEN identity)."""
    context = chromium.new_context(locale="fr-FR")
    try:
        other = ParentBrowser(context.new_page(), stack.urls, "autre-navigateur")
        aten_sign_in(other, who)
        other.path_is("idp", "/transition/deja-inscrit")
        assert who.identifier in other.page.inner_text("main")
    finally:
        context.close()


def test_back_twice_from_choisir_mon_mot_de_passe_continues_the_transition(parent):
    aten_sign_in(parent, ELEGOFF)
    parent.path_is("idp", "/transition/compte")
    parent.click_link("Choisir mon mot de passe")
    parent.path_is("idp", "/transition/mot-de-passe")
    parent.page.go_back()
    parent.page.go_back()
    parent.path_is("aten", "/connexion")
    assert parent.page.get_by_role("heading", level=1).inner_text() == "Votre compte ATEN a déjà été vérifié"
    parent.check("aten-deja-verifie", phone=True)
    assert parent.page.get_by_role("link", name="Aller aux Services en ligne").is_visible()
    parent.click_link("Continuer sur ÉduConnect")
    parent.path_is("idp", "/transition/compte")
    parent.click_link("Choisir mon mot de passe")
    parent.path_is("idp", "/transition/mot-de-passe")
    assert parent.page.locator("#identifiant").inner_text() == ELEGOFF.identifier


def test_double_click_on_confirmer_creates_one_account_and_shows_it(parent, chromium, live):
    to_password_page(parent, MDURAND)
    assert double_click_confirmer(parent) == 302
    assert_account_created(parent, MDURAND)
    parent.check("double-clic-confirmer")
    parent.click_link("Continuer")
    parent.path_is("idp", "/eleves")  # Léa, then the ENT: the ENT's request was kept
    assert_one_account(chromium, live, MDURAND)


def test_reload_and_back_after_confirmer_stay_on_votre_compte_est_cree(parent):
    to_password_page(parent, SDALMEIDA)
    parent.click_button("Confirmer")
    assert_account_created(parent, SDALMEIDA)
    parent.page.reload()
    assert_account_created(parent, SDALMEIDA)
    parent.page.go_back()  # to « Choisir mon mot de passe », which leads where it led
    assert_account_created(parent, SDALMEIDA)
    parent.check("retour-apres-confirmer")


def test_double_click_on_confirmer_with_openid_connect(oidc_parent, chromium, live_oidc):
    to_password_page(oidc_parent, HBERNARD)
    assert double_click_confirmer(oidc_parent) == 302
    assert_account_created(oidc_parent, HBERNARD)
    oidc_parent.check("double-clic-confirmer")
    oidc_parent.click_link("Continuer")
    # No child to confirm (pupil unknown to the registry): the ENT's authorization is answered.
    oidc_parent.path_is("ent", re.compile(r"/(accueil|etablissement)"))
    assert_one_account(chromium, live_oidc, HBERNARD)


def test_twenty_confirmer_at_once_create_one_account(parent, context, chromium, live):
    """The 20 POSTs of one form with one cookie, sent together to the real processes."""
    to_password_page(parent, JDUPONT)
    token = parent.page.locator('input[name="csrf_token"]').get_attribute("value")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies(live.urls["idp"]))
    url = live.urls["idp"] + "/transition/mot-de-passe"
    body = urllib.parse.urlencode(
        {"csrf_token": token, "mot_de_passe": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
    ).encode()
    answers: list[tuple[int, str]] = []
    barrier = threading.Barrier(20)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)

    assert url.startswith("http://127.0.0.1:")  # loopback only

    def confirm() -> None:
        request = urllib.request.Request(url, data=body, headers={"Cookie": cookie, "Referer": url})  # noqa: S310
        barrier.wait(timeout=30)
        try:
            with opener.open(request, timeout=60) as response:
                answers.append((response.status, response.headers.get("Location", "")))
        except urllib.error.HTTPError as answer:
            answers.append((answer.code, answer.headers.get("Location", "")))

    threads = [threading.Thread(target=confirm) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(answers) == 20
    assert set(answers) == {(302, "/transition/compte-cree")}, answers
    assert_one_account(chromium, live, JDUPONT)


def _is_serving(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def serve_aten(stack: LiveStack, *wrapper: str) -> subprocess.Popen[bytes]:
    """ATEN on its port again, as live_stack starts it, behind ``wrapper`` (e.g. faketime)."""
    env = {**os.environ, "EDUCONNECT_CONFIG_DIR": str(stack.root / "config"), "EDUCONNECT_MODE": "demo"}
    for key in ("DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    port = urllib.parse.urlsplit(stack.urls["aten"]).port
    command = [*wrapper, sys.executable, "-m", "educonnect_bridge", "serve", "aten", "--port", str(port)]
    with (stack.root / "logs" / "aten-restarted.log").open("ab") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    wait_until_ready(stack.urls["aten"])
    return process


def stop(pid: int) -> None:
    """Stop a service this module's stack started (live_stack reaps its own processes)."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _is_serving(pid):
        time.sleep(0.2)


@pytest.fixture(scope="module")
def skew_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """A stack of this test's own: its ATEN is restarted under faketime, which the shared stacks
    of the other tests must not live through."""
    with live_stack(tmp_path_factory.mktemp("clock-skew")) as stack:
        yield stack


@pytest.fixture
def aten_ten_minutes_ahead(skew_stack: LiveStack) -> Iterator[None]:
    """ATEN's clock 10 minutes ahead of ÉduConnect's: the stack's ATEN stopped, the same service
    started under libfaketime (Debian package faketime) on its port, stopped after.
    (ATEN still accepts ÉduConnect's AuthnRequest, which it finds 10 minutes old; its Response
    is dated 10 minutes in ÉduConnect's future.)"""
    if not FAKETIME.exists():
        pytest.fail("faketime absent : lancez « scripts/install-system-deps.sh test »")
    live = skew_stack
    stop(live.pids["aten"])
    skewed = serve_aten(live, str(FAKETIME), "-f", "+10m")
    try:
        yield
    finally:
        skewed.terminate()
        skewed.wait(timeout=15)


def test_a_response_from_a_clock_ten_minutes_ahead_says_to_try_again(
    context, skew_stack, aten_ten_minutes_ahead
):
    live = skew_stack
    parent = ParentBrowser(context.new_page(), live.urls, "horloge-decalee")
    aten_sign_in(parent, ELEGOFF)
    parent.path_is("idp", "/saml/sp/acs")
    heading = parent.page.get_by_role("heading", level=1).inner_text()
    assert heading == "Connexion momentanément impossible"
    main = parent.page.inner_text("main")
    assert "Réessayez dans quelques minutes" in main
    parent.check("horloge-decalee", phone=True)
    reference = re.search(r"Référence : ([0-9a-f]+)", main)
    assert reference, main
    log = (live.root / "logs" / "idp.log").read_text(encoding="utf-8")
    (line,) = [x for x in log.splitlines() if f"request_id={reference.group(1)} horloge_decalee" in x]
    offset = re.search(r"offset_seconds=([+-]\d+)", line)
    assert offset and 540 < int(offset.group(1)) < 660, line
    assert parent.page.get_by_role("link", name="Revenir aux Services en ligne").is_visible()
    parent.click_link("Réessayer")  # a new request to ATEN
    parent.path_is("aten", "/connexion")
    parent.assert_clean()
