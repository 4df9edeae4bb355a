"""Each demo family (config/demo/aten.ldif + config/demo/registry.csv) from the ENT's button to the
establishment page, via the parcours de transition and then via an ÉduConnect login.

The IdP here has a database of its own with the demo registry imported (ATEN's issuer rewritten to
the test one), so the other flow tests' ATEN parents never meet these children.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from idp import create_app as create_idp
from idp.domain.school_registry import import_registry
from sp_ent import create_app as create_ent
from tests.browser import Browser, page_text
from tests.flows.children_steps import attribute_of, ent_parent, to_ent
from tests.flows.saml_steps import sign_in
from tests.flows.transition_steps import NEW_PASSWORD, aten_sign_in, choose_password
from tests.registry_helpers import fresh_database, registry_for

CONFIG = Path(__file__).resolve().parents[2] / "config"
DEMO_ATEN = "http://localhost:8002/saml/metadata"
TEST_ATEN = "https://aten.test/saml/metadata"


@dataclass(frozen=True)
class DemoChild:
    student_id: str
    given_name: str
    birth_date: dt.date
    uai: str
    establishment: str
    shown_as: str  # on the ENT's establishment page


LEA = DemoChild(
    "100001", "Léa", dt.date(2017, 3, 14), "0861001W", "École élémentaire Les Tilleuls", "Léa Durand – CM1"
)
HUGO = DemoChild(
    "100002", "Hugo", dt.date(2014, 9, 2), "0860034V", "Collège Jean-Moulin", "Hugo Le Goff – 5e"
)
MAEL = DemoChild(
    "100003", "Maël", dt.date(2012, 1, 27), "0860034V", "Collège Jean-Moulin", "Maël Le Goff – 3e"
)
INES = DemoChild(
    "100004", "Inès", dt.date(2018, 6, 5), "0171234Z", "École primaire du Vieux-Port", "Inès D'Almeida – CE2"
)
TOM = DemoChild(
    "100005", "Tom", dt.date(2013, 11, 19), "0790012J", "Collège Les Marais", "Tom D'Almeida – 4e"
)
NORA = DemoChild(
    "100006", "Nora", dt.date(2010, 4, 30), "0160045M", "Lycée des Remparts", "Nora D'Almeida – 1re"
)
CHLOE = DemoChild(
    "100007", "Chloé", dt.date(2020, 2, 11), "0860787N", "École élémentaire Les Minimes", "Chloé Dupont – CP"
)


@dataclass
class DemoStack:
    apps: dict[str, Flask]
    ent: Flask


@pytest.fixture(scope="module")
def demo(deployment, backend, stack, tmp_path_factory) -> Iterator[DemoStack]:
    with fresh_database(backend.name, tmp_path_factory.mktemp("demo-registry")) as url:
        data = (CONFIG / "demo" / "registry.csv").read_text().replace(DEMO_ATEN, TEST_ATEN).encode()
        now = dt.datetime.now(dt.UTC)
        assert import_registry(registry_for(url), data, now.date(), now).refused == ()
        idp = create_idp(deployment.settings("idp", url, backend.redis_url, crypto_backend=backend.crypto))
        directory = {
            "establishments": str(CONFIG / "ent_establishments.csv"),
            "pupils": str(CONFIG / "ent_pupils.csv"),
        }
        ent = create_ent(
            deployment.settings(
                "ent", url, backend.redis_url, crypto_backend=backend.crypto, directory=directory
            )
        )
        yield DemoStack({**stack.apps(), "https://idp.test": idp, "https://ent.test": ent}, ent)


def fields_for(page, *children: DemoChild) -> dict[str, str]:
    values: dict[str, str] = {}
    for child in children:
        values |= {
            f"jour-{child.student_id}": f"{child.birth_date.day:02d}",
            f"mois-{child.student_id}": f"{child.birth_date.month:02d}",
            f"annee-{child.student_id}": str(child.birth_date.year),
        }
    return values


def transition(browser: Browser, uid: str):
    """ATEN login, « Choisir mon mot de passe », « Votre compte est créé. »: the identifier and page."""
    form_page, created = choose_password(browser, aten_sign_in(browser, uid))
    match = re.search(r"\b([a-z]\.[a-z]+\d+)\b", page_text(form_page))
    assert match, page_text(form_page)
    created = browser.follow(created)
    assert "Votre compte est créé." in page_text(created)
    (href,) = attribute_of(created, '//a[normalize-space()="Continuer"]/@href')
    return match.group(1), browser.get("https://idp.test" + href)


def asked(browser: Browser, response, *children: DemoChild):
    page = browser.follow(response)
    assert page.request.path == "/eleves", page_text(page)
    text = page_text(page)
    for child in children:
        assert f"{child.given_name} – {child.establishment}" in text
    assert attribute_of(page, "//fieldset/legend/strong/text()") == [c.given_name for c in children]
    return page


def establishment_page(landing, child_uai: str, *shown: str) -> None:
    assert landing.request.path == f"/etablissement/{child_uai}", page_text(landing)
    text = page_text(landing)
    for name in shown:
        assert name in text


@pytest.mark.parametrize(
    ("uid", "children", "parent_name"),
    [
        ("mdurand", (LEA,), "Marie Durand"),
        ("elegoff", (MAEL, HUGO), "Éloïse Le Goff"),  # eldest first
        ("jdupont", (CHLOE,), "Jérôme Dupont"),
    ],
)
def test_one_establishment_families(demo, uid, children, parent_name):
    browser = Browser(dict(demo.apps))
    identifier, response = transition(browser, uid)
    page = asked(browser, response, *children)
    landing = to_ent(browser, browser.submit(page, form_id="ajout-eleves", **fields_for(page, *children)))
    establishment_page(landing, children[0].uai, f"Bonjour {parent_name}", children[0].establishment)
    establishment_page(landing, children[0].uai, *(c.shown_as for c in children))
    assert "Changer d'établissement" not in page_text(landing)
    # Later, « Je dispose d'un compte Educonnect »: no question, straight to the establishment.
    later = Browser(dict(demo.apps))
    landing = to_ent(later, sign_in(later, identifier, NEW_PASSWORD))
    establishment_page(landing, children[0].uai, *(c.shown_as for c in children))
    degree = "resp1d" if uid != "elegoff" else "resp2d"
    assert ent_parent(later, demo.ent)["attributes"]["FrEduCtPersonAffiliation"] == [degree]


def test_three_children_in_three_establishments_postponed_then_chosen(demo):
    browser = Browser(dict(demo.apps))
    identifier, response = transition(browser, "sdalmeida")
    page = asked(browser, response, NORA, TOM, INES)
    landing = to_ent(browser, browser.submit(page, form_id="plus-tard"))
    assert "Aucun élève n'est rattaché" in page_text(landing)
    # Next login with ÉduConnect: asked again; two dates now, the third one wrong first.
    later = Browser(dict(demo.apps))
    page = asked(later, sign_in(later, identifier, NEW_PASSWORD), NORA, TOM, INES)
    wrong = fields_for(page, NORA, TOM, INES) | {f"annee-{INES.student_id}": "2017"}
    page = later.submit(page, form_id="ajout-eleves", **wrong)
    assert page.status_code == 422 and "Rattachement confirmé : Nora, Tom." in page_text(page)
    chooser = to_ent(later, later.submit(page, form_id="ajout-eleves", **fields_for(page, INES)))
    assert chooser.request.path == "/etablissement"
    text = page_text(chooser)
    for child in (NORA, TOM, INES):
        assert child.establishment in text
    tom = later.follow(later.submit(chooser, form_id="choix-etablissement", uai=TOM.uai))
    establishment_page(tom, TOM.uai, "Bonjour Sébastien D'Almeida", TOM.shown_as, "Changer d'établissement")
    assert NORA.shown_as not in page_text(tom) and INES.shown_as not in page_text(tom)
    released = ent_parent(later, demo.ent)["attributes"]
    assert released["FrEduCtPersonAffiliation"] == ["resp1d", "resp2d"]
    assert sorted(released["FrEduVecteur"]) == [
        "1|D'ALMEIDA|Sébastien|100004|0171234Z",
        "2|D'ALMEIDA|Sébastien|100005|0790012J",
        "2|D'ALMEIDA|Sébastien|100006|0160045M",
    ]


def test_a_child_unknown_to_the_registry_asks_nothing_and_says_so(demo):
    browser = Browser(dict(demo.apps))
    identifier, response = transition(browser, "hbernard")
    assert response.request.path == "/saml/reponse"  # no « Ajout d'élèves »
    landing = browser.follow(browser.submit(response, form_id="saml-post"))
    assert landing.request.path == "/accueil"
    assert "Aucun élève n'est rattaché à votre compte ÉduConnect" in page_text(landing)
    later = Browser(dict(demo.apps))
    post_page = later.follow(sign_in(later, identifier, NEW_PASSWORD))
    assert post_page.request.path == "/saml/reponse"
