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


@pytest.mark.parametrize("other", ["~", " ", "€", '"', "'", ".", "=", "|", "\t", "😀"])
def test_any_other_character_is_accepted_and_counts_for_no_criterion(other):
    assert failures(f"abcdefg1{other}") == ("criteres",)  # minuscule + chiffre only
    assert failures(f"Abcdefg1{other}") == ()
    assert check_password(other * 8, other * 8, "x").classes == frozenset()


def test_the_help_page_example_with_a_dot_is_accepted():
    assert failures("Ecole.Poitiers86") == ()  # 3 of the 4 criteria, the dot counts for none


def test_the_password_is_compared_in_nfc():
    decomposed = "E\u0301le\u0300ve-2026"  # « Élève-2026 » typed with combining accents
    assert failures(decomposed, "Élève-2026") == ()
    assert failures("e\u0301" * 64 + "A1") == ("trop_long",)  # the cap is on what was typed


def test_accented_letters_count_as_letters():
    assert failures("Éléonore12") == ()


def test_128_characters_are_accepted_129_refused_before_any_other_check():
    assert failures("Aa1!" * 32) == ()
    assert failures("Aa1!" * 32 + "x") == ("trop_long",)
    assert failures("a" * 129, "b") == ("trop_long",)


def test_mismatch_and_identifier_are_refused():
    assert failures("Abcdefg1!", "Abcdefg1?") == ("confirmation",)
    assert failures("J.Dupont3", identifier="j.dupont3") == ("identifiant",)  # named, nothing else
    check = check_password("j.dupont3", "j.dupont3", "j.dupont3")
    assert "Le mot de passe ne doit pas être votre identifiant." in check.messages()


def test_every_failed_rule_is_named():
    assert failures("ab", "cd") == ("longueur", "criteres", "confirmation")
    check = check_password("ab", "cd", "x")
    assert len(check.messages()) == 3


def test_empty_password():
    assert failures("") == ("vide",)
