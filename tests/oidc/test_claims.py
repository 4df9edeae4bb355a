"""Claims of DESIGN §4 by scope, confirmed children only, and pairwise subjects."""

from __future__ import annotations

import dataclasses

import pytest

from idp.domain.release import ReleasedChild
from tests.oidc.conftest import (
    CONFIDENTIAL,
    POST_CLIENT,
    PROFILE_CLIENT,
    SAML_ENTITY_ID,
    SECTOR_CLIENT,
    make_rp,
)
from tests.oidc.rp import json_body

SCHOOL = ReleasedChild(student_id="E1001", uai="0860001J", degree=1)
COLLEGE = ReleasedChild(student_id="E2002", uai="0860002K", degree=2)


class ChildrenReleased:
    """The IdP's release reader, with the confirmed children set per test."""

    def __init__(self, reader, released: dict[str, list[ReleasedChild]]) -> None:
        self.reader, self.released = reader, released

    def for_audience(self, account_id, audience):
        release = self.reader.for_audience(account_id, audience)
        children = tuple(self.released.get(account_id, ()))
        return None if release is None else dataclasses.replace(release, children=children)


@pytest.fixture
def children(op, monkeypatch):
    """The confirmed children the IdP's registry releases for an account (set per test)."""
    released: dict[str, list[ReleasedChild]] = {}
    provider = op.extensions["idp"].oidc
    monkeypatch.setattr(provider, "release", ChildrenReleased(provider.release, released))
    return released


def test_educonnect_scope_releases_the_educonnect_claims(rp, parent, children):
    children[parent.id] = [SCHOOL, COLLEGE]
    info = json_body(rp.userinfo(rp.tokens(parent)["access_token"]))
    assert info["FrEduCtId"] == parent.id
    assert info["FrEduVecteur"] == ["1|MARTIN|Claire|E1001|0860001J", "2|MARTIN|Claire|E2002|0860002K"]
    assert info["FrEduCtPersonAffiliation"] == ["resp1d", "resp2d"]
    assert info["FrEduUrlRetour"] == "https://idp.test/deconnexion"
    assert len(info["FrEduCtDateConnexion"]) == len("2026-09-01 08:30:00.000")


def test_one_child_gives_a_one_element_vector_and_one_affiliation(rp, parent, children):
    children[parent.id] = [SCHOOL]
    info = json_body(rp.userinfo(rp.tokens(parent)["access_token"]))
    assert info["FrEduVecteur"] == ["1|MARTIN|Claire|E1001|0860001J"]  # always an array
    assert info["FrEduCtPersonAffiliation"] == "resp1d"


def test_no_confirmed_child_gives_no_vector(rp, parent, children):
    info = json_body(rp.userinfo(rp.tokens(parent)["access_token"]))
    assert "FrEduVecteur" not in info and "FrEduCtPersonAffiliation" not in info


def test_educonnect_claims_stay_out_of_the_id_token(rp, parent, children):
    children[parent.id] = [SCHOOL]
    tokens = rp.tokens(parent)
    claims = rp.verify_id_token(tokens["id_token"], tokens["_request"].nonce)
    assert not {"FrEduCtId", "FrEduVecteur", "given_name"} & set(claims)


def test_client_without_the_educonnect_scope_never_gets_the_claims(op, oidc_clients, parent, children):
    children[parent.id] = [SCHOOL]
    rp = make_rp(op, oidc_clients, PROFILE_CLIENT)
    tokens = rp.tokens(parent)  # asks for educonnect too
    assert tokens["scope"] == "openid profile"
    info = json_body(rp.userinfo(tokens["access_token"]))
    assert info["given_name"] == "Claire" and "FrEduCtId" not in info and "FrEduVecteur" not in info


def _sub(rp, parent) -> str:
    tokens = rp.tokens(parent)
    return rp.verify_id_token(tokens["id_token"], tokens["_request"].nonce)["sub"]


def test_sub_is_pairwise_and_stable(op, oidc_clients, parent):
    lycee, college = make_rp(op, oidc_clients, CONFIDENTIAL), make_rp(op, oidc_clients, POST_CLIENT)
    first = _sub(lycee, parent)
    assert first != _sub(college, parent)  # two ENTs cannot link the parent
    assert first != parent.id  # nor learn the account id from sub
    assert _sub(make_rp(op, oidc_clients, CONFIDENTIAL), parent) == first  # another login, same sub
    assert first == op.extensions["idp"].subjects.ensure_pairwise_subject(parent.id, CONFIDENTIAL)


def test_sector_identifier_keeps_the_saml_subject(op, oidc_clients, parent):
    saml_name_id = op.extensions["idp"].subjects.ensure_pairwise_subject(parent.id, SAML_ENTITY_ID)
    assert _sub(make_rp(op, oidc_clients, SECTOR_CLIENT), parent) == saml_name_id
