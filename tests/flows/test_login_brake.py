"""ÉduConnect's login brake through the Flask test clients (strict production settings, each
storage backend): budgets across addresses, the device cookie, the one refusal page.

Every test uses identifiers and client addresses of its own: the stack and its store are shared by
the whole session.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient

from federation.device_cookie import DeviceCookies
from tests.browser import page_text
from tests.flows.saml_steps import PASSWORD, add_parent

IDP = "https://idp.test"
WRONG = "Mauvais-mot-2026"
INCORRECT = "L'identifiant ou le mot de passe est incorrect."


@dataclass
class LoginBrowser:
    """One browser (its own cookies) at one client address, on ÉduConnect's login page."""

    client: FlaskClient

    @classmethod
    def at(cls, app: Flask, address: str) -> LoginBrowser:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return cls(client)

    def move_to(self, address: str) -> None:
        self.client.environ_base["REMOTE_ADDR"] = address

    def login(self, identifier: str, password: str):
        page = self.client.get("/connexion", base_url=IDP)
        (token,) = lxml.html.fromstring(page.get_data(as_text=True)).xpath(
            '//input[@name="csrf_token"]/@value'
        )
        return self.client.post(
            "/connexion",
            base_url=IDP,
            data={"csrf_token": token, "identifiant": identifier, "mot_de_passe": password},
            headers={"Referer": f"{IDP}/connexion"},
        )

    def device_cookie(self, app: Flask):
        return self.client.get_cookie(
            app.extensions["idp"].devices.name, domain="idp.test", path="/connexion"
        )


# Every address of 10/8 handed out once per test run. The stacks and their stores live for the
# whole session (the two embedded stacks even share one store file), and an address counter
# outlives the test that spent it: a random network per test (the previous allocator) met another
# test's now and then, and the spraying test then started with that test's attempts counted.
_FRESH_ADDRESSES = ipaddress.IPv4Network("10.0.0.0/8").hosts()


def addresses(count: int) -> list[str]:
    """``count`` client addresses no other test of this run has used."""
    return [str(next(_FRESH_ADDRESSES)) for _ in range(count)]


def budget(app: Flask) -> int:
    return int(app.extensions["idp"].settings.login_brake.account_attempts)


def attack(app: Flask, identifier: str, per_address: int = 5, count: int = 40) -> list[int]:
    """``per_address`` wrong passwords from each of ``count`` browsers at their own addresses."""
    statuses = []
    for address in addresses(count):
        browser = LoginBrowser.at(app, address)
        statuses += [browser.login(identifier, WRONG).status_code for _ in range(per_address)]
    return statuses


def signed_in(response) -> bool:
    return response.status_code == 302 and "/connexion" not in response.headers["Location"]


@pytest.fixture
def parent(stack):
    return add_parent(stack.idp)


def test_guesses_from_40_addresses_are_checked_only_up_to_the_budget(stack, parent):
    statuses = attack(stack.idp, parent.identifier)
    assert statuses.count(200) == budget(stack.idp)  # checked: « incorrect »
    assert statuses.count(429) == 200 - budget(stack.idp)  # braked: not checked
    newcomer = LoginBrowser.at(stack.idp, addresses(1)[0])
    refused = newcomer.login(parent.identifier, PASSWORD)  # the right password, a 41st address
    assert refused.status_code == 429
    assert not signed_in(refused)


def test_the_owner_on_a_known_browser_still_signs_in_at_once(stack, parent):
    home = LoginBrowser.at(stack.idp, addresses(1)[0])
    assert signed_in(home.login(parent.identifier, PASSWORD))
    attack(stack.idp, parent.identifier)
    home.move_to(addresses(1)[0])  # even from another address (a phone on the move)
    assert signed_in(home.login(parent.identifier, PASSWORD))
    # The same browser without its device cookie is one more unknown browser: braked.
    home.client.delete_cookie(stack.idp.extensions["idp"].devices.name, domain="idp.test", path="/connexion")
    assert home.login(parent.identifier, PASSWORD).status_code == 429


def test_the_device_cookie_is_signed_httponly_secure_strict_and_long_lived(stack, parent):
    home = LoginBrowser.at(stack.idp, addresses(1)[0])
    response = home.login(parent.identifier, PASSWORD)
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("idp_appareil=")]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"secure", "httponly", "max-age", "path"} <= attributes
    assert "SameSite=Strict" in header and "Path=/connexion" in header
    max_age = re.search(r"Max-Age=(\d+)", header)
    assert max_age and int(max_age.group(1)) >= 180 * 24 * 3600
    assert parent.identifier not in home.device_cookie(stack.idp).value  # a digest, not the identifier


@pytest.mark.parametrize("forgery", ["tampered", "other-secret", "other-account"])
def test_a_forged_or_foreign_device_cookie_is_an_unknown_browser(stack, parent, forgery):
    devices: DeviceCookies = stack.idp.extensions["idp"].devices
    home = LoginBrowser.at(stack.idp, addresses(1)[0])
    other = add_parent(stack.idp, "Jérôme", "Dupont")
    assert signed_in(
        home.login(other.identifier if forgery == "other-account" else parent.identifier, PASSWORD)
    )
    value = home.device_cookie(stack.idp).value
    if forgery == "tampered":
        value = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    if forgery == "other-secret":
        stranger = DeviceCookies(devices.name, secrets.token_urlsafe(40), secure=True)
        value = stranger._serializer().dumps({stranger._digest(parent.identifier): "appareil"})
    home.client.set_cookie(devices.name, value, domain="idp.test", path="/connexion")
    attack(stack.idp, parent.identifier)
    assert home.login(parent.identifier, PASSWORD).status_code == 429


def test_the_refusal_is_the_same_page_for_an_existing_and_an_unknown_identifier(stack, parent):
    unknown = f"x.inconnu{secrets.randbelow(10**8)}"
    pages = {}
    for identifier in (parent.identifier, unknown):
        statuses = attack(stack.idp, identifier, per_address=3, count=5)
        assert statuses.count(200) == budget(stack.idp) and statuses.count(429) == 15 - budget(stack.idp)
        refused = LoginBrowser.at(stack.idp, addresses(1)[0]).login(identifier, WRONG)
        assert refused.status_code == 429
        html = refused.get_data(as_text=True)
        assert WRONG not in html
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        # The page but for what was typed, the form's token and the minutes left.
        page = re.sub(r'name="csrf_token" value="[^"]*"', "", html.replace(identifier, "IDENTIFIANT"))
        pages[identifier] = (refused.status_code, re.sub(r"\d+ minutes?", "N minutes", page))
    assert pages[parent.identifier] == pages[unknown]
    text = page_text(refused)
    assert "Trop de tentatives de connexion" in text
    minutes = re.search(r"réessayez dans (\d+) minutes? environ", text)
    assert minutes and 1 <= int(minutes.group(1)) <= 60
    assert "Depuis un navigateur où vous vous êtes déjà connecté" in text
    assert INCORRECT not in text
    assert 'name="mot_de_passe"' in html  # the way back: the form is still there


def test_one_address_spraying_identifiers_is_braked_but_not_a_known_browser_there(stack, parent):
    address = addresses(1)[0]
    home = LoginBrowser.at(stack.idp, address)
    assert signed_in(home.login(parent.identifier, PASSWORD))
    limit = stack.idp.extensions["idp"].settings.login_brake.address_attempts
    sprayer = LoginBrowser.at(stack.idp, address)
    statuses = [
        sprayer.login(f"x.inconnu{n}-{secrets.token_hex(3)}", WRONG).status_code for n in range(limit + 1)
    ]
    assert statuses == [200] * limit + [429]
    assert signed_in(home.login(parent.identifier, PASSWORD))
