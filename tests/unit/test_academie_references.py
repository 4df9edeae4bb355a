"""``FrEduCtRefId`` values (federation/academie_references.py) and which ones a parent gets."""

from __future__ import annotations

import pytest

from federation.academie_references import (
    ACADEMIES,
    AcademieReference,
    InvalidReference,
    parse_reference,
)
from idp.domain.accounts import Account
from idp.domain.release import ChildRepresentative, academie_references
from idp.domain.school_registry import LegalRepresentative

ACCOUNT = Account(
    id="f" * 32, identifier="m.durand1", password_hash="x", given_name="Marie", family_name="Durand"
)
ATEN = ("https://aten.test/saml/metadata", "5d4df3dae1561a8de514e8b8ff9a077c")


def test_a_reference_formats_and_parses_back_unchanged():
    value = AcademieReference("13", "4100001").value
    assert value == "{AAF}13|PersRelEleve|4100001"
    assert parse_reference(value) == AcademieReference("13", "4100001")
    assert parse_reference(value).value == value


@pytest.mark.parametrize(
    ("academie", "person_id", "message"),
    [
        ("99", "4100001", "code d'académie inconnu"),
        ("13 ", "4100001", "code d'académie inconnu"),
        ("", "4100001", "code d'académie inconnu"),
        ("13", "", "1 à 64 lettres ou chiffres"),
        ("13", "41|00", "1 à 64 lettres ou chiffres"),
        ("13", "41 00", "1 à 64 lettres ou chiffres"),
        ("13", "é" * 3, "1 à 64 lettres ou chiffres"),
        ("13", "9" * 65, "1 à 64 lettres ou chiffres"),
    ],
)
def test_a_reference_cannot_be_built_from_bad_parts(academie, person_id, message):
    with pytest.raises(InvalidReference, match=message):
        AcademieReference(academie, person_id)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("13|PersRelEleve|4100001", "en tête"),
        ("{AAF}13|4100001", "3 champs attendus, 2 trouvés"),
        ("{AAF}13|PersRelEleve|4100001|", "3 champs attendus, 4 trouvés"),
        ("{AAF}13|Eleve|4100001", "au lieu de PersRelEleve"),
        ("{AAF}99|PersRelEleve|4100001", "code d'académie inconnu"),
    ],
)
def test_parse_refuses_what_is_not_a_reference(value, message):
    with pytest.raises(InvalidReference, match=message):
        parse_reference(value)


def test_the_codes_are_two_digits():
    assert all(len(code) == 2 and code.isdigit() for code in ACADEMIES)
    assert ACADEMIES["13"] == "Poitiers"


def rep(given: str, family: str, academie: str | None, aaf: str | None, aten: bool = False, student="1"):
    issuer, subject = ATEN if aten else (None, None)
    return LegalRepresentative(student, 1, family, given, issuer, subject, academie, aaf)


def test_the_parent_is_the_representative_with_the_accounts_names_not_the_other_one():
    candidates = [
        ChildRepresentative(rep("Marie", "DURAND", "13", "4100001"), account_upstream=False),
        ChildRepresentative(rep("Paul", "Durand", "13", "4100002"), account_upstream=False),
    ]
    assert academie_references(ACCOUNT, candidates) == ["{AAF}13|PersRelEleve|4100001"]


def test_a_representative_with_an_aten_identity_is_the_parent_only_through_the_accounts_link():
    mine = ChildRepresentative(rep("Marie", "Durand", "13", "4100001", aten=True), account_upstream=True)
    homonym = ChildRepresentative(rep("Marie", "Durand", "12", "5", aten=True), account_upstream=False)
    assert academie_references(ACCOUNT, [homonym, mine]) == ["{AAF}13|PersRelEleve|4100001"]


def test_one_value_per_academie_reference_sorted_and_none_without_one():
    candidates = [
        ChildRepresentative(rep("Marie", "Durand", "13", "4100001", student=s), account_upstream=False)
        for s in ("1", "2")
    ] + [
        ChildRepresentative(rep("Marie", "Durand", "01", "77", student="3"), account_upstream=False),
        ChildRepresentative(rep("Marie", "Durand", None, None, student="4"), account_upstream=False),
    ]
    assert academie_references(ACCOUNT, candidates) == [
        "{AAF}01|PersRelEleve|77",
        "{AAF}13|PersRelEleve|4100001",
    ]
    assert academie_references(ACCOUNT, candidates[-1:]) == []
