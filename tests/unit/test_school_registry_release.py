"""What the IdP releases about children (DESIGN §4) and how the ENT reads it back (flow D)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from federation.errors import ConfigurationError
from federation.settings import DEFAULT_RELEASE
from federation.vectors import InvalidVector
from idp.domain.accounts import Account
from idp.domain.release import ReleasedChild, released_attributes
from sp_ent.errors import EstablishmentNotReleased
from sp_ent.establishments import (
    chosen_establishment,
    load_directory,
    read_establishments,
    released_children,
    released_uais,
)

CONFIG = Path(__file__).resolve().parents[2] / "config"
ACCOUNT = Account(
    id="f" * 32, identifier="s.dalmeida1", password_hash="x", given_name="Sébastien", family_name="D'Almeida"
)
AT = dt.datetime(2026, 11, 30, 8, 15, 1, 234000, tzinfo=dt.UTC)


def release(*children: ReleasedChild) -> dict[str, list[str]]:
    return released_attributes(ACCOUNT, AT, "https://idp.test/deconnexion", children)


def test_without_confirmed_children_no_vector_and_no_affiliation():
    attributes = release()
    assert "FrEduVecteur" not in attributes and "FrEduCtPersonAffiliation" not in attributes
    assert attributes["FrEduCtDateConnexion"] == ["2026-11-30 08:15:01.234"]


def test_one_vector_per_confirmed_child_with_the_parents_names():
    attributes = release(ReleasedChild("100004", "0171234Z", 1), ReleasedChild("100005", "0790012J", 2))
    assert attributes["FrEduVecteur"] == [
        "1|D'ALMEIDA|Sébastien|100004|0171234Z",
        "2|D'ALMEIDA|Sébastien|100005|0790012J",
    ]


@pytest.mark.parametrize(
    ("degrees", "affiliations"),
    [((1,), ["resp1d"]), ((2, 2), ["resp2d"]), ((2, 1, 2), ["resp1d", "resp2d"])],
)
def test_affiliation_follows_the_childrens_degrees(degrees, affiliations):
    children = [ReleasedChild(f"10000{i}", "0860034V", d) for i, d in enumerate(degrees)]
    assert release(*children)["FrEduCtPersonAffiliation"] == affiliations


def test_both_attributes_are_released_by_default_and_to_the_demo_ent():
    assert {"FrEduVecteur", "FrEduCtPersonAffiliation", "FrEduCtRefId"} <= set(DEFAULT_RELEASE)
    text = (CONFIG / "idp.toml").read_text()
    assert '"FrEduVecteur"' in text and '"FrEduCtPersonAffiliation"' in text
    assert '"FrEduCtRefId"' in text


def test_academie_references_are_released_as_given_and_absent_without_one():
    references = ["{AAF}13|PersRelEleve|4100004"]
    attributes = released_attributes(ACCOUNT, AT, "https://idp.test/deconnexion", (), references)
    assert attributes["FrEduCtRefId"] == references
    assert "FrEduCtRefId" not in release(ReleasedChild("100004", "0171234Z", 1))


# --- the ENT's side ---------------------------------------------------------------------------

VECTORS = {
    "FrEduVecteur": [
        "1|D'ALMEIDA|Sébastien|100004|0171234Z",
        "2|D'ALMEIDA|Sébastien|100005|0790012J",
        "2|D'ALMEIDA|Sébastien|100009|0790012J",
        "2|X|Y|100006|0160045A",  # wrong check letter: ignored
        "3|X|Y|100007|0160045M",  # unknown type: ignored
        "garbage",
    ]
}


def test_the_ent_reads_well_formed_vectors_only():
    assert [c.student_id for c in released_children(VECTORS)] == ["100004", "100005", "100009"]
    assert released_uais(VECTORS) == ["0171234Z", "0790012J"]
    assert released_uais({"sn": ["Martin"]}) == []


def test_what_the_idp_releases_the_ent_reads_back():
    children = [ReleasedChild("100004", "0171234Z", 1), ReleasedChild("100005", "0790012J", 2)]
    read = released_children(release(*children))
    assert [(c.profile, c.student_id, c.uai) for c in read] == [
        ("1", "100004", "0171234Z"),
        ("2", "100005", "0790012J"),
    ]
    assert {(c.family_name, c.given_name) for c in read} == {("D'ALMEIDA", "Sébastien")}


def test_the_idp_formats_no_vector_the_ent_would_drop():
    account = dataclasses.replace(ACCOUNT, given_name="Sébastien|2")
    with pytest.raises(InvalidVector, match="Prénom"):
        released_attributes(
            account, AT, "https://idp.test/deconnexion", [ReleasedChild("100004", "0171234Z", 1)]
        )


def test_a_choice_outside_the_released_establishments_is_refused():
    assert chosen_establishment("0790012J", VECTORS) == "0790012J"
    for forged in ("0160045M", "0160045A", "", "0790012J' OR 1=1"):
        with pytest.raises(EstablishmentNotReleased):
            chosen_establishment(forged, VECTORS)


def test_the_demo_ent_directory_matches_the_demo_registry():
    directory = load_directory(CONFIG / "ent_establishments.csv", CONFIG / "ent_pupils.csv")
    registry = (CONFIG / "demo" / "registry.csv").read_text()
    for uai, establishment in directory.establishments.items():
        assert f"etablissement;{uai};{establishment.name};;{establishment.commune};" in registry
    for pupil in directory.pupils.values():
        assert f";{pupil.given_name};;;;;{pupil.student_id};" in registry
    assert directory.establishment("0000000A").name == "Établissement 0000000A"  # unknown: its UAI


def test_a_broken_ent_directory_stops_the_start(tmp_path):
    with pytest.raises(ConfigurationError, match="colonnes manquantes"):
        read_establishments("uai,nom\n0860034V,Collège")
    with pytest.raises(ConfigurationError, match="UAI invalide"):
        read_establishments("uai;nom;commune;degre\n0860034A;Collège;Poitiers;2\n")
    with pytest.raises(ConfigurationError, match="illisible"):
        load_directory(tmp_path / "absent.csv", None)
