"""Steps of flows C and D shared by the flow tests: « Ajout d'élèves », then the ENT's landing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import lxml.html
from flask import Flask

from federation.stores import SESSION_PREFIX
from federation.web import get_store
from tests.browser import Browser, page_text
from tests.flows.saml_steps import add_parent, sign_in
from tests.registry_helpers import Child, Family, add_family

CHILDREN_PATH = "/eleves"
WRONG_DATE_TEXT = "La date de naissance saisie ne correspond pas à nos informations."


def parent_with_children(idp: Flask, children: list[Child], **options: Any) -> Family:
    """An ÉduConnect account that can sign in (tests.flows.saml_steps.PASSWORD) with children."""
    account = add_parent(idp, options.pop("given_name", "Marie"), options.pop("family_name", "Durand"))
    return add_family(idp.extensions["idp"].settings.database_url, children, account=account, **options)


def dates_of(*children: Child, shift: dt.timedelta = dt.timedelta(0)) -> dict[str, str]:
    """The jour / mois / année fields of these children, optionally with a wrong date."""
    values: dict[str, str] = {}
    for child in children:
        date = child.birth_date + shift
        values |= {
            f"jour-{child.student_id}": str(date.day),
            f"mois-{child.student_id}": str(date.month),
            f"annee-{child.student_id}": str(date.year),
        }
    return values


def children_page(browser: Browser, identifier: str):
    """Sign in from the ENT's first button; ÉduConnect asks « Ajout d'élèves »."""
    page = browser.follow(sign_in(browser, identifier))
    assert page.request.path == CHILDREN_PATH, page_text(page)
    return page


def to_ent(browser: Browser, response):
    """From an IdP redirect to the signed Response, posted to the ENT, to the ENT's page."""
    post_page = browser.follow(response)
    assert post_page.request.path == "/saml/reponse", page_text(post_page)
    return browser.follow(browser.submit(post_page, form_id="saml-post"))


def ent_parent(browser: Browser, ent: Flask, base: str = "https://ent.test") -> dict[str, Any]:
    """What the ENT keeps of the parent after its ACS (its server-side session)."""
    cookie = browser.clients[base].get_cookie("ent_session", domain=base.removeprefix("https://"))
    assert cookie is not None
    raw = get_store(ent).get(SESSION_PREFIX + cookie.value)
    assert raw is not None
    parent: dict[str, Any] = json.loads(raw)["parent"]
    return parent


def attribute_of(page, xpath: str) -> list[str]:
    return [str(v) for v in lxml.html.fromstring(page.get_data(as_text=True)).xpath(xpath)]
