"""The help page's password rule at each boundary (DESIGN §6)."""

from __future__ import annotations

import pytest

from idp.domain.password_policy import SPECIALS, check_password


def failures(
    password: str, confirmation: str | None = None, identifier: str = "j.dupont3"
) -> tuple[str, ...]:
    return check_password(password, password if confirmation is None else confirmation, identifier).failures


def test_seven_characters_are_too_short_eight_are_enough():
    assert failures("Abcde1!") == ("longueur",)
    assert failures("Abcdef1!") == ()


def test_two_classes_are_not_enough_three_are():
    assert failures("abcdefgh12") == ("criteres",)
    assert failures("abcdefGH12") == ()
    assert failures("ABCDEFGH!!") == ("criteres",)
    assert failures("abcdefg!!1") == ()


@pytest.mark.parametrize("special", sorted(SPECIALS))
def test_each_listed_special_character_counts(special):
    assert failures(f"abcdefg{special}1") == ()  # minuscule + chiffre + this special
    assert check_password(special * 8, special * 8, "x").classes == frozenset({"special"})


@pytest.mark.parametrize("outside", ["~", " ", "€", '"', "'", ".", "=", "|"])
def test_a_character_outside_the_list_is_refused_and_named(outside):
    check = check_password(f"Abcdefg1{outside}", f"Abcdefg1{outside}", "j.dupont3")
    assert check.failures == ("caractere_interdit",)
    assert outside in check.forbidden
    assert any("non accepté" in message for message in check.messages())


def test_accented_letters_count_as_letters():
    assert failures("Éléonore12") == ()


def test_128_characters_are_accepted_129_refused_before_any_other_check():
    assert failures("Aa1!" * 32) == ()
    assert failures("Aa1!" * 32 + "x") == ("trop_long",)
    assert failures("a" * 129, "b") == ("trop_long",)


def test_mismatch_and_identifier_are_refused():
    assert failures("Abcdefg1!", "Abcdefg1?") == ("confirmation",)
    assert "identifiant" in failures("J.Dupont3", identifier="j.dupont3")


def test_every_failed_rule_is_named():
    assert failures("ab", "cd") == ("longueur", "criteres", "confirmation")
    check = check_password("ab", "cd", "x")
    assert len(check.messages()) == 3


def test_empty_password():
    assert failures("") == ("vide",)
