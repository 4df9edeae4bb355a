"""FrEduVecteur values, UAIs and student ids: the one rule set of federation.vectors (DESIGN §3, §4)."""

from __future__ import annotations

import re

import pytest

from federation.vectors import (
    STUDENT_ID_PATTERN,
    ChildVector,
    InvalidUai,
    InvalidVector,
    check_uai,
    is_valid_student_id,
    is_valid_uai,
    parse_vector,
    uai_check_letter,
    well_formed_vectors,
)

# --- UAI --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uai", "valid"),
    [
        ("0860001J", True),  # DESIGN §3's own example
        ("0860034V", True),
        ("0861001W", True),
        ("0790012J", True),
        ("0171234Z", True),
        ("0160045M", True),
        ("0000000A", True),
        ("0860001A", False),  # wrong check letter
        ("0860001I", False),  # I is never a check letter
        ("0860001j", False),
        ("0860034v", False),
        ("086001J", False),
        ("086034V", False),
        ("08600011J", False),
        ("08600340V", False),
        ("086003 4V", False),
        ("086000 J", False),
        ("0860001JX", False),
        ("0860001J\n", False),
        ("", False),
    ],
)
def test_uai_check_letter(uai, valid):
    assert is_valid_uai(uai) is valid


def test_check_letters_skip_i_o_q():
    letters = {uai_check_letter(f"{n:07d}") for n in range(23)}
    assert len(letters) == 23
    assert letters == set("ABCDEFGHJKLMNPRSTUVWXYZ") and not letters & set("IOQ")
    assert uai_check_letter("0860001") == "J"  # 860001 = 23 × 37391 + 8 → J


@pytest.mark.parametrize("digits", ["86001", "08600011", "086000a", "086 001", "", "٠٨٦٠٠٠١"])
def test_check_letter_of_anything_but_seven_digits_raises(digits):
    with pytest.raises(ValueError, match="7 chiffres attendus"):
        uai_check_letter(digits)


@pytest.mark.parametrize(
    ("uai", "reason"),
    [
        ("0860001A", "lettre de contrôle attendue J"),
        ("86001J", "7 chiffres et une lettre attendus"),
        ("0860001", "7 chiffres et une lettre attendus"),
    ],
)
def test_a_refused_uai_says_why(uai, reason):
    with pytest.raises(InvalidUai, match=reason):
        check_uai(uai)
    assert check_uai("0860001J") == "0860001J"


# --- student id -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("student_id", "valid"),
    [
        ("100001", True),
        ("E1001", True),
        ("T" + "a" * 31, True),
        ("T" + "a" * 32, False),  # 33 characters
        ("", False),
        ("10 0001", False),
        ("../x", False),
        ("é1", False),
        ("100001\n", False),
    ],
)
def test_student_id(student_id, valid):
    assert is_valid_student_id(student_id) is valid


def test_the_student_id_pattern_composes_into_form_field_names():
    field = re.compile(rf"(jour|mois|annee)-({STUDENT_ID_PATTERN})")
    assert field.fullmatch("jour-E1001") and not field.fullmatch("jour-../x")


# --- FrEduVecteur: parse ----------------------------------------------------------------------


def test_vector_parts_and_exact_round_trip():
    raw = "2|LE GOFF|Éloïse|100002|0860034V"
    vector = parse_vector(raw)
    assert (vector.profile, vector.family_name, vector.given_name) == ("2", "LE GOFF", "Éloïse")
    assert (vector.student_id, vector.uai) == ("100002", "0860034V")
    assert vector.value == raw


@pytest.mark.parametrize(
    "raw",
    [
        "1|DURAND|Marie|100001|0861001W",
        "2|LE GOFF|Éloïse|100002|0860034V",
        "1|D'ALMEIDA|Sébastien|100004|0171234Z",
        "2|martin|claire|E2002|0860002K",  # case is kept, never normalised
        "1|X|Y|" + "A" * 32 + "|0860001J",
    ],
)
def test_valid_values_round_trip(raw):
    assert parse_vector(raw).value == raw


def test_apostrophe_in_a_name_is_kept():
    assert parse_vector("1|D'ALMEIDA|Sébastien|100004|0171234Z").family_name == "D'ALMEIDA"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("3|DURAND|Marie|100001|0861001W", "type '3' : 1 ou 2 attendu"),
        ("|DURAND|Marie|100001|0861001W", "type '' : 1 ou 2 attendu"),
        ("1|DURAND|Marie|100001|0861001A", "UAI '0861001A' invalide : lettre de contrôle attendue W"),
        ("1|DURAND|Marie|100001|861001W", "UAI '861001W' invalide : 7 chiffres et une lettre attendus"),
        ("1|DURAND|Marie|100001", "5 champs attendus, 4 trouvés"),
        ("1|DURAND|Marie|100001|0861001W|extra", "5 champs attendus, 6 trouvés"),
        ("", "5 champs attendus, 1 trouvés"),
        ("garbage", "5 champs attendus, 1 trouvés"),
        ("1||Marie|100001|0861001W", "NOM vide ou entouré d'espaces"),
        ("1|DURAND |Marie|100001|0861001W", "NOM vide ou entouré d'espaces"),
        ("1|DURAND| Marie|100001|0861001W", "Prénom vide ou entouré d'espaces"),
        ("1|DURAND||100001|0861001W", "Prénom vide ou entouré d'espaces"),
        ("1|DURAND|Marie||0861001W", "identifiant d'élève '' invalide"),
        ("1|DURAND|Marie|10 0001|0861001W", "identifiant d'élève '10 0001' invalide"),
        ("1|A|B|../x|0861001W", "identifiant d'élève '../x' invalide"),
    ],
)
def test_malformed_vectors_are_refused_with_the_reason(raw, reason):
    with pytest.raises(InvalidVector) as refused:
        parse_vector(raw)
    assert str(refused.value) == reason


# --- FrEduVecteur: format ---------------------------------------------------------------------


def test_a_vector_is_formatted_from_its_parts():
    vector = ChildVector("2", "D'ALMEIDA", "Sébastien", "100005", "0790012J")
    assert vector.value == "2|D'ALMEIDA|Sébastien|100005|0790012J"
    assert parse_vector(vector.value) == vector


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        (("1", "DURAND|X", "Marie", "100001", "0861001W"), "NOM contient '|'"),
        (("1", "DURAND", "Ma|rie", "100001", "0861001W"), "Prénom contient '|'"),
        (("0", "DURAND", "Marie", "100001", "0861001W"), "type '0' : 1 ou 2 attendu"),
        (("1", "DURAND", " Marie", "100001", "0861001W"), "Prénom vide ou entouré d'espaces"),
        (("1", "DURAND", "Marie", "1|2", "0861001W"), "identifiant d'élève '1|2' invalide"),
        (("1", "DURAND", "Marie", "100001", "0861001A"), "UAI '0861001A' invalide"),
    ],
)
def test_parts_that_no_reader_would_accept_are_not_formatted(parts, reason):
    with pytest.raises(InvalidVector, match=re.escape(reason)):
        ChildVector(*parts)


# --- FrEduVecteur: the lenient reader ---------------------------------------------------------


def test_malformed_vectors_are_ignored():
    values = ("1|A|B|100001|0861001W", "1|A|B|100001|0861001A", "1|A|B|../x|0861001W", "1|A|B|100001", "")
    assert [(c.student_id, c.uai) for c in well_formed_vectors(values)] == [("100001", "0861001W")]


def test_the_lenient_reader_keeps_the_order_and_reports_what_it_skips():
    values = [
        "2|MARTIN|Claire|E2002|0860002K",
        "3|MARTIN|Claire|E3003|0860001J",
        "1|MARTIN|Claire|E1001|0860001J",
        "1|MARTIN|Claire|E1001|0860001A",
    ]
    skipped: list[tuple[str, str]] = []
    read = well_formed_vectors(values, on_invalid=lambda raw, exc: skipped.append((raw, str(exc))))
    assert [v.value for v in read] == [values[0], values[2]]
    assert skipped == [
        (values[1], "type '3' : 1 ou 2 attendu"),
        (values[3], "UAI '0860001A' invalide : lettre de contrôle attendue J"),
    ]
    assert well_formed_vectors([]) == []
