"""The login brake against ÉduConnect as a real process (gunicorn, the demo's embedded store):
real concurrent HTTP requests from 40 real loopback addresses (127.0.0.2 …), no proxy header.

What is counted is what the server answered: « incorrect » (the password was checked) or 429
(braked, nothing checked).
"""

from __future__ import annotations

import http.client
import re
import secrets
import threading
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import lxml.html
import pytest

from federation.login_throttle import BrakeLimits
from tests.live_stack import LiveStack, live_stack

BUDGET = BrakeLimits().account_attempts  # the demo runs with the default limits
OWNER, OWNER_PASSWORD = "c.martin1", "Ecole-2026!"  # a demo account
WRONG = "Pas-le-bon-2026"
INCORRECT = "identifiant ou le mot de passe est incorrect."  # after « L&#39; »
ATTACKERS = [f"127.0.0.{n}" for n in range(2, 42)]  # 40 addresses
NEWCOMER, HOME = "127.0.0.42", "127.0.0.43"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(tmp_path_factory.mktemp("brake-stack")) as stack:
        yield stack


@dataclass
class Answer:
    status: int
    location: str
    html: str

    @property
    def signed_in(self) -> bool:
        return self.status == 302 and "/connexion" not in self.location

    @property
    def checked(self) -> bool:
        return self.status == 200 and INCORRECT in self.html


@dataclass
class AddressBrowser:
    """A browser with its own cookies, connecting from ``address`` to the loopback server."""

    base_url: str
    address: str
    cookies: dict[str, str] = field(default_factory=dict)

    def _request(self, method: str, path: str, form: dict[str, str] | None = None) -> Answer:
        url = urllib.parse.urlsplit(self.base_url)
        assert url.hostname == "127.0.0.1"  # loopback only
        connection = http.client.HTTPConnection(
            url.hostname, url.port, timeout=60, source_address=(self.address, 0)
        )
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";")[0].partition("=")
                self.cookies[name.strip()] = value
            return Answer(response.status, response.getheader("Location") or "", response.read().decode())
        finally:
            connection.close()

    def login(self, identifier: str, password: str) -> Answer:
        page = self._request("GET", "/connexion")
        (token,) = lxml.html.fromstring(page.html).xpath('//input[@name="csrf_token"]/@value')
        return self._request(
            "POST", "/connexion", {"csrf_token": token, "identifiant": identifier, "mot_de_passe": password}
        )


def attack(base_url: str, identifier: str, per_address: int = 5) -> list[Answer]:
    """Every attacker address at once, each sending ``per_address`` wrong passwords."""
    start = threading.Barrier(len(ATTACKERS))

    def one_address(address: str) -> list[Answer]:
        browser = AddressBrowser(base_url, address)
        start.wait(timeout=60)
        return [browser.login(identifier, WRONG) for _ in range(per_address)]

    with ThreadPoolExecutor(max_workers=len(ATTACKERS)) as pool:
        return [answer for answers in pool.map(one_address, ATTACKERS) for answer in answers]


def comparable(answer: Answer, identifier: str) -> str:
    """A refusal page but for what was typed, the form's token and the minutes left."""
    page = re.sub(r'name="csrf_token" value="[^"]*"', "", answer.html.replace(identifier, "IDENTIFIANT"))
    return re.sub(r"\d+ minutes?", "N minutes", page)


def test_200_guesses_from_40_addresses_check_at_most_the_budget_and_the_owner_still_signs_in(live):
    idp = live.urls["idp"]
    home = AddressBrowser(idp, HOME)
    assert home.login(OWNER, OWNER_PASSWORD).signed_in  # the owner's browser, before the attack
    answers = attack(idp, OWNER)
    assert len(answers) == 200
    assert sum(a.checked for a in answers) == BUDGET
    assert sum(a.status == 429 for a in answers) == 200 - BUDGET
    # A 41st address with the right password: braked, not checked, not signed in.
    newcomer = AddressBrowser(idp, NEWCOMER).login(OWNER, OWNER_PASSWORD)
    assert newcomer.status == 429 and not newcomer.signed_in
    # The owner's known browser signs in at once, during the attack.
    assert home.login(OWNER, OWNER_PASSWORD).signed_in
    # Negative: the same browser without its device cookie (no device budget) is braked.
    home.cookies.pop("idp_appareil")
    assert home.login(OWNER, OWNER_PASSWORD).status == 429


def test_an_unknown_identifier_gets_the_same_answers(live):
    idp = live.urls["idp"]
    unknown = f"x.inconnu{secrets.randbelow(10**6)}"
    existing = "j.dupont1"  # a demo account
    results = {}
    for identifier in (existing, unknown):
        answers = attack(idp, identifier, per_address=2)
        refused = AddressBrowser(idp, NEWCOMER).login(identifier, WRONG)
        assert refused.status == 429
        results[identifier] = (sum(a.checked for a in answers), comparable(refused, identifier))
    assert results[existing] == results[unknown]
    assert results[existing][0] == BUDGET
    assert "Trop de tentatives de connexion" in results[unknown][1]
