"""Identifiers j.dupont3 (DESIGN §3)."""

from __future__ import annotations

import pytest

from idp.domain.identifier_generation import identifier_base, lowest_free_number


@pytest.mark.parametrize(
    ("given", "family", "base"),
    [
        ("Jérôme", "Dupont", "j.dupont"),
        ("Éloïse", "Le Goff", "e.legoff"),
        ("Sébastien", "D'Almeida", "s.dalmeida"),
        ("Marie-Hélène", "Saint-Exupéry", "m.saintexupery"),
        ("Anne Sophie", "Lefèvre", "a.lefevre"),
        ("Cœur", "Bœuf", "c.boeuf"),
        ("Jean", "Dupont-De La Tour D’Auvergne Lauragais", "j.dupontdelatourdauver"),
    ],
)
def test_base_folds_accents_drops_separators_and_caps_the_name(given, family, base):
    assert identifier_base(given, family) == base
    assert len(base.split(".")[1]) <= 20


def test_names_that_fold_to_nothing_are_refused():
    with pytest.raises(ValueError):
        identifier_base("李", "王")


def test_lowest_free_number():
    assert lowest_free_number("j.dupont", []) == 1
    assert lowest_free_number("j.dupont", ["j.dupont1", "j.dupont2", "j.dupont4"]) == 3
    # j.dupontel1 and j.dupont01 are other bases, not numbers of j.dupont
    assert lowest_free_number("j.dupont", ["j.dupont1", "j.dupontel2", "j.dupont02"]) == 2
