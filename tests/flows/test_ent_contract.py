"""The ENT contract: our real assertion, read with the rules of edificeio/entcore's two connectors,
finds each demo family's join keys (FrEduCtRefId, FrEduVecteur), only where the SP is granted them,
and every attribute carries a NameFormat matching the form of its Name.

The rules restated here were read in edificeio/entcore (snapshot aa39df0882e2, 2026-06-12):

``auth/src/main/java/org/entcore/auth/services/impl/AbstractSSOProvider.java``
  * ``validConditions``: the assertion's Conditions have a NotBefore that is before now and a
    NotOnOrAfter that is after now, else ``invalid.conditions``;
  * ``getAttributes(assertion, name)``: the text content of every AttributeValue of every
    Attribute whose ``Name`` **or** ``FriendlyName`` equals ``name``, in order.

``auth/src/main/java/org/entcore/auth/services/impl/SSOEduConnect.java`` (defaults
``not-prefix-educonnect`` = ``private-etabs-prefix-educonnect`` = false)
  * keeps the ``FrEduCtRefId`` values starting with ``{AAF}``; none: ``invalid.vector``;
  * per value, ``value.substring(5).split("\\|")`` (Java: trailing empty fields dropped) must give
    exactly 3 fields, else no join key;
  * the join key is ``academiesMapping[fields[0]] + "-" + fields[2]`` (no key when the code is
    not in the mapping, restated below); no key at all: ``invalid.joinKey``;
  * one value: the user ``MATCH (u:User {externalId: joinKey})``; several: ``externalId IN keys``.

``auth/src/main/java/org/entcore/auth/services/impl/SSOAten.java``
  * reads ``FrEduVecteur``; none: ``invalid.vector``;
  * each value ``split("\\|")``: at least 5 fields, fields 3 and 4 not blank after trim;
    several values: field 0 must be ``1`` or ``2`` (else ``invalid.vector``), the user is the
    ``Relative`` with ``firstName`` = field 2, ``lastName`` = field 1, related to the student with
    ``attachmentId`` = field 3 in the structure with ``UAI`` = field 4; one value: the same for
    ``1``/``2``, ``3``/``4`` is a Student, anything else ``invalid.user.profile``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from lxml import etree

from federation.attributemaps import educonnect_basic, educonnect_uri
from federation.settings import DEFAULT_RELEASE
from idp import create_app as create_idp
from idp.domain.school_registry import import_registry
from sp_ent import create_app as create_ent
from tests.browser import Browser
from tests.flows.children_steps import to_ent
from tests.flows.saml_steps import readable_response_xml, sign_in
from tests.flows.test_children_demo_families import (
    CHLOE,
    HUGO,
    INES,
    LEA,
    MAEL,
    NORA,
    TOM,
    DemoChild,
    asked,
    fields_for,
    transition,
)
from tests.flows.transition_steps import NEW_PASSWORD
from tests.registry_helpers import fresh_database, registry_for

CONFIG = Path(__file__).resolve().parents[2] / "config"
DEMO_ATEN = "http://localhost:8002/saml/metadata"
TEST_ATEN = "https://aten.test/saml/metadata"
NS = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
URI_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
BASIC_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"

# SSOEduConnect.academiesMapping, restated (code → the prefix of the ENT's externalId).
ENTCORE_ACADEMIES = {
    "0": "ETRANGER", "1": "PARIS", "2": "AIX-MARSEILLE", "3": "BESANCON", "4": "BORDEAUX",
    "5": "CAEN", "6": "CLERMONT-FERRAND", "7": "DIJON", "8": "GRENOBLE", "9": "LILLE",
    "00": "ETRANGER", "01": "PARIS", "02": "AIX-MARSEILLE", "03": "BESANCON", "04": "BORDEAUX",
    "05": "CAEN", "06": "CLERMONT-FERRAND", "07": "DIJON", "08": "GRENOBLE", "09": "LILLE",
    "10": "LYON", "11": "MONTPELLIER", "12": "NANCY-METZ", "13": "POITIERS", "14": "RENNES",
    "15": "STRASBOURG", "16": "TOULOUSE", "17": "NANTES", "18": "ORLEANS-TOURS", "19": "REIMS",
    "20": "AMIENS", "21": "ROUEN", "22": "LIMOGES", "23": "NICE", "24": "CRETEIL",
    "25": "VERSAILLES", "26": "ANTILLES-GUYANE", "27": "CORSE", "28": "LA_REUNION",
    "31": "MARTINIQUE", "32": "GUADELOUPE", "33": "GUYANE", "40": "NOUVELLE_CALEDONIE",
    "41": "POLYNESIE", "42": "WALLIS_ET_FUTUNA", "43": "MAYOTTE", "44": "ST_PIERRE_ET_MIQUELON",
    "54": "SIEC_ILE_DE_FRANCE", "61": "FRANCE_METRO", "62": "DOM", "63": "COM",
    "66": "FRANCE_METRO_+_DOM", "67": "FRANCE_METRO_+_DOM_+_COM", "70": "NORMANDIE",
    "91": "UNION_EUROPEENNE", "98": "AGRICOLE", "99": "NON_DEFINI_OU_SANS_OBJET",
}  # fmt: skip


class Refused(Exception):
    """What entcore's connector hands back instead of a user (its error key)."""


def java_split(value: str) -> list[str]:
    """Java's ``String.split("\\|")``: trailing empty strings are dropped."""
    parts = value.split("|")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


def entcore_assertion(response_xml: str, now: dt.datetime) -> etree._Element:
    """The Assertion, after AbstractSSOProvider.validConditions."""
    (assertion,) = etree.fromstring(response_xml.encode()).xpath("//saml:Assertion", namespaces=NS)
    (conditions,) = assertion.xpath("saml:Conditions", namespaces=NS)
    not_before, not_on_or_after = conditions.get("NotBefore"), conditions.get("NotOnOrAfter")
    if not_before is None or not_on_or_after is None:
        raise Refused("invalid.conditions")
    if not (_instant(not_before) < now < _instant(not_on_or_after)):
        raise Refused("invalid.conditions")
    return assertion


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def get_attributes(assertion: etree._Element, name: str) -> list[str]:
    """AbstractSSOProvider.getAttributes: by Name or FriendlyName."""
    values = []
    for attribute in assertion.xpath("saml:AttributeStatement/saml:Attribute", namespaces=NS):
        if name in (attribute.get("Name"), attribute.get("FriendlyName")):
            values += ["".join(v.itertext()) for v in attribute.xpath("saml:AttributeValue", namespaces=NS)]
    return values


def educonnect_join_keys(assertion: etree._Element) -> list[str]:
    """SSOEduConnect.execute + getJoinKey (default configuration): the externalIds looked up."""
    vectors = [v for v in get_attributes(assertion, "FrEduCtRefId") if v.startswith("{AAF}")]
    if not vectors:
        raise Refused("invalid.vector")
    keys = []
    for vector in vectors:
        fields = java_split(vector[5:])
        if len(fields) == 3 and ENTCORE_ACADEMIES.get(fields[0]):
            keys.append(f"{ENTCORE_ACADEMIES[fields[0]]}-{fields[2]}")
    if not keys or (len(vectors) == 1 and len(keys) != 1):
        raise Refused("invalid.joinKey")
    return keys


@dataclass(frozen=True, order=True)
class AtenKey:
    """What SSOAten matches a Relative on."""

    attachment_id: str
    uai: str
    first_name: str
    last_name: str


def aten_join_keys(assertion: etree._Element) -> list[AtenKey]:
    """SSOAten.execute: one key per FrEduVecteur value (Relative profiles 1 and 2)."""
    vectors = get_attributes(assertion, "FrEduVecteur")
    if not vectors:
        raise Refused("invalid.vector")
    keys = []
    for vector in vectors:
        fields = java_split(vector)
        if len(fields) < 5 or not fields[3].strip() or not fields[4].strip():
            raise Refused("invalid.vector")
        if fields[0] not in ("1", "2"):
            raise Refused("invalid.vector" if len(vectors) > 1 else "invalid.user.profile")
        keys.append(AtenKey(fields[3], fields[4], fields[2], fields[1]))
    return keys


@dataclass
class ContractStack:
    apps: dict[str, Flask]
    ent: Flask
    restricted_idp: Flask  # same database, this ENT not granted FrEduCtRefId


@pytest.fixture(scope="module")
def contract(deployment, backend, stack, tmp_path_factory) -> Iterator[ContractStack]:
    with fresh_database(backend.name, tmp_path_factory.mktemp("ent-contract")) as url:
        data = (CONFIG / "demo" / "registry.csv").read_text().replace(DEMO_ATEN, TEST_ATEN).encode()
        now = dt.datetime.now(dt.UTC)
        assert import_registry(registry_for(url), data, now.date(), now).refused == ()
        settings = deployment.settings("idp", url, backend.redis_url, crypto_backend=backend.crypto)
        idp = create_idp(settings)
        without = [a for a in DEFAULT_RELEASE if a != "FrEduCtRefId"]
        restricted = create_idp(
            deployment.settings(
                "idp",
                url,
                backend.redis_url,
                crypto_backend=backend.crypto,
                service_providers=[
                    {"metadata": str(deployment.metadata("ent.xml", backend.crypto)), "attributes": without}
                ],
            )
        )
        directory = {
            "establishments": str(CONFIG / "ent_establishments.csv"),
            "pupils": str(CONFIG / "ent_pupils.csv"),
        }
        ent = create_ent(
            deployment.settings(
                "ent", url, backend.redis_url, crypto_backend=backend.crypto, directory=directory
            )
        )
        apps = {**stack.apps(), "https://idp.test": idp, "https://ent.test": ent}
        yield ContractStack(apps, ent, restricted)


def attached_family(contract: ContractStack, uid: str, children: tuple[DemoChild, ...]) -> str:
    """The parcours de transition and « Ajout d'élèves » of a demo family: its identifier."""
    browser = Browser(dict(contract.apps))
    identifier, response = transition(browser, uid)
    page = asked(browser, response, *children)
    to_ent(browser, browser.submit(page, form_id="ajout-eleves", **fields_for(page, *children)))
    return identifier


def assertion_for(contract: ContractStack, identifier: str, idp: Flask | None = None) -> str:
    """The Response of a later ÉduConnect login, as the ENT receives it (decrypted)."""
    apps = dict(contract.apps) | ({"https://idp.test": idp} if idp is not None else {})
    browser = Browser(apps)
    post_page = browser.follow(sign_in(browser, identifier, NEW_PASSWORD))
    assert post_page.request.path == "/saml/reponse"
    return readable_response_xml(contract, post_page)


FAMILIES = [
    ("mdurand", (LEA,), "Marie", "DURAND", ["POITIERS-4100001"]),  # not Paul's 4100002
    ("elegoff", (MAEL, HUGO), "Éloïse", "LE GOFF", ["POITIERS-4100003"]),
    ("jdupont", (CHLOE,), "Jérôme", "DUPONT", ["POITIERS-4100005"]),
    ("sdalmeida", (NORA, TOM, INES), "Sébastien", "D'ALMEIDA", ["POITIERS-4100004"]),
]


@pytest.fixture(scope="module")
def identifiers(contract) -> dict[str, str]:
    return {uid: attached_family(contract, uid, children) for uid, children, *_ in FAMILIES}


@pytest.mark.parametrize(("uid", "children", "given", "family", "external_ids"), FAMILIES)
def test_entcore_connectors_find_each_demo_family(
    contract, identifiers, uid, children, given, family, external_ids
):
    assertion = entcore_assertion(assertion_for(contract, identifiers[uid]), dt.datetime.now(dt.UTC))
    assert educonnect_join_keys(assertion) == external_ids
    assert sorted(aten_join_keys(assertion)) == sorted(
        AtenKey(child.student_id, child.uai, given, family) for child in children
    )


def test_an_sp_not_granted_the_reference_does_not_get_it(contract, identifiers):
    restricted = assertion_for(contract, identifiers["mdurand"], contract.restricted_idp)
    assertion = entcore_assertion(restricted, dt.datetime.now(dt.UTC))
    assert get_attributes(assertion, "FrEduCtRefId") == []
    with pytest.raises(Refused, match=r"invalid\.vector"):
        educonnect_join_keys(assertion)
    assert aten_join_keys(assertion) == [AtenKey(LEA.student_id, LEA.uai, "Marie", "DURAND")]


def test_every_attribute_has_the_name_format_of_its_name(contract, identifiers):
    root = etree.fromstring(assertion_for(contract, identifiers["sdalmeida"]).encode())
    attributes = root.xpath("//saml:AttributeStatement/saml:Attribute", namespaces=NS)
    names = {a.get("FriendlyName") or a.get("Name") for a in attributes}
    assert names >= {"sn", "givenName", "FrEduCtId", "FrEduVecteur", "FrEduCtRefId"}
    for attribute in attributes:
        name, name_format = attribute.get("Name"), attribute.get("NameFormat")
        expected = URI_FORMAT if name.startswith("urn:") else BASIC_FORMAT
        assert name_format == expected, (name, name_format)


def test_the_attribute_maps_pair_each_name_with_its_format():
    for module in (educonnect_basic, educonnect_uri):
        name_format = module.MAP["identifier"]
        assert name_format in (URI_FORMAT, BASIC_FORMAT)
        for friendly, name in module.MAP["to"].items():
            assert name.startswith("urn:") == (name_format == URI_FORMAT), (friendly, name)
            assert module.MAP["fro"][name] == friendly


def test_every_academie_code_we_send_is_one_entcore_maps():
    from federation.academie_references import ACADEMIES

    assert set(ACADEMIES) <= set(ENTCORE_ACADEMIES)
