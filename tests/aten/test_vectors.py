"""FrEduVecteur values and UAIs (DESIGN §3, §4)."""

from __future__ import annotations

import pytest

from aten_adapter.domain.parents import InvalidVector, parse_vector
from aten_adapter.domain.uai import is_valid_uai, uai_check_letter


@pytest.mark.parametrize(
    ("uai", "valid"),
    [
        ("0860034V", True),
        ("0861001W", True),
        ("0790012J", True),
        ("0171234Z", True),
        ("0160045M", True),
        ("0860001J", True),  # DESIGN §3's own example
        ("0860001A", False),  # wrong check letter
        ("0860034v", False),
        ("086034V", False),
        ("08600340V", False),
        ("086003 4V", False),
        ("", False),
    ],
)
def test_uai_check_letter(uai, valid):
    assert is_valid_uai(uai) is valid


def test_check_letters_skip_i_o_q():
    letters = {uai_check_letter(f"{n:07d}") for n in range(23)}
    assert len(letters) == 23
    assert not letters & {"I", "O", "Q"}


def test_vector_parts_and_exact_round_trip():
    raw = "2|LE GOFF|Éloïse|100002|0860034V"
    vector = parse_vector(raw)
    assert (vector.profile, vector.family_name, vector.given_name) == ("2", "LE GOFF", "Éloïse")
    assert (vector.student_id, vector.uai) == ("100002", "0860034V")
    assert vector.value == raw


def test_apostrophe_in_a_name_is_kept():
    assert parse_vector("1|D'ALMEIDA|Sébastien|100004|0171234Z").family_name == "D'ALMEIDA"


@pytest.mark.parametrize(
    "raw",
    [
        "3|DURAND|Marie|100001|0861001W",  # type is 1 or 2
        "|DURAND|Marie|100001|0861001W",
        "1|DURAND|Marie|100001|0861001A",  # bad check letter
        "1|DURAND|Marie|100001",  # 4 fields
        "1|DURAND|Marie|100001|0861001W|extra",
        "1||Marie|100001|0861001W",
        "1|DURAND| Marie|100001|0861001W",
        "1|DURAND|Marie||0861001W",
        "1|DURAND|Marie|10 0001|0861001W",
        "",
    ],
)
def test_malformed_vectors_are_refused(raw):
    with pytest.raises(InvalidVector):
        parse_vector(raw)
