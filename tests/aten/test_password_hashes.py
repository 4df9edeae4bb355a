"""{SSHA} / {SSHA512} verification of the LDIF backend (OpenLDAP's format)."""

from __future__ import annotations

import pytest

from aten_adapter.domain.password_hashes import hash_salted, is_supported_hash, verify_salted_hash

# Recorded with OpenLDAP 2.5.13: « slappasswd -h {SSHA} -s Vecteur-Slappasswd-1 » and
# « slappasswd -o module-load=pw-sha2.so -h {SSHA512} -s Vecteur-Slappasswd-1 ».
SLAPPASSWD_PASSWORD = "Vecteur-Slappasswd-1"
SLAPPASSWD_SSHA = "{SSHA}/cRkGUKlCMe4q68e2/F1fEei8G0E/VGr"
SLAPPASSWD_SSHA512 = (
    "{SSHA512}jp8yf6PHrOJTM27k2OLcwe0C/RrM/2GtLyd3ML0m8wSp0n9yC+LIAEnuaRBqnHdsXK"
    "i8jwna0cNc1GAgT3ikN1cZBxeE0koJ"
)


@pytest.mark.parametrize("stored", [SLAPPASSWD_SSHA, SLAPPASSWD_SSHA512])
def test_values_written_by_slappasswd_verify(stored):
    assert verify_salted_hash(stored, SLAPPASSWD_PASSWORD)
    assert not verify_salted_hash(stored, SLAPPASSWD_PASSWORD + "x")
    assert not verify_salted_hash(stored, SLAPPASSWD_PASSWORD.lower())


def test_scheme_name_is_case_insensitive_like_slapd():
    assert verify_salted_hash("{ssha}" + SLAPPASSWD_SSHA.removeprefix("{SSHA}"), SLAPPASSWD_PASSWORD)


@pytest.mark.parametrize("scheme", ["SSHA", "SSHA256", "SSHA384", "SSHA512"])
def test_round_trip(scheme):
    stored = hash_salted("Éloïse-2024!", scheme)
    assert stored.startswith("{" + scheme + "}")
    assert verify_salted_hash(stored, "Éloïse-2024!")
    assert not verify_salted_hash(stored, "Eloise-2024!")


def test_salt_makes_two_hashes_of_one_password_differ():
    assert hash_salted("Aten-Durand-86") != hash_salted("Aten-Durand-86")


def test_empty_password_never_matches_even_a_hash_of_the_empty_string():
    assert not verify_salted_hash(hash_salted(""), "")


@pytest.mark.parametrize(
    "stored",
    [
        "Aten-Durand-86",  # clear text
        "{CLEARTEXT}Aten-Durand-86",
        "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",  # unsalted
        "{MD5}X03MO1qnZdYdgyfeuILPmQ==",
        "{CRYPT}$6$abc$def",
        "{SSHA}pas du base64 !",
        "{SSHA}" + "QUJD",  # shorter than a SHA-1 digest + salt
        "{SSHA",
        "",
    ],
)
def test_unsupported_or_malformed_values_are_refused(stored):
    assert not is_supported_hash(stored)
    assert not verify_salted_hash(stored, "Aten-Durand-86")


def test_cleartext_value_equal_to_the_password_is_not_a_match():
    assert not verify_salted_hash("Aten-Durand-86", "Aten-Durand-86")


def test_too_short_salt_is_refused_when_hashing():
    with pytest.raises(ValueError):
        hash_salted("x", salt=b"ab")
