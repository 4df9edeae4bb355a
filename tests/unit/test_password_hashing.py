"""argon2id over the NFC form of the password (DESIGN §6), and hashes made before still verify."""

from __future__ import annotations

from idp.domain.passwords import HASHER, hash_password, normalised, verify_password

COMPOSED = "Élève-2026"
DECOMPOSED = "E\u0301le\u0300ve-2026"  # the same password typed with combining accents


def test_the_same_password_typed_on_another_device_matches():
    assert normalised(DECOMPOSED) == COMPOSED != DECOMPOSED
    assert verify_password(hash_password(DECOMPOSED), COMPOSED)
    assert verify_password(hash_password(COMPOSED), DECOMPOSED)


def test_a_hash_made_over_the_typed_text_before_normalisation_still_verifies():
    legacy = HASHER.hash(DECOMPOSED)  # what hash_password stored before passwords were normalised
    assert verify_password(legacy, DECOMPOSED)


def test_a_wrong_password_is_still_refused():
    stored = hash_password(COMPOSED)
    assert not verify_password(stored, "Eleve-2026")
    assert not verify_password(HASHER.hash(DECOMPOSED), "E\u0301le\u0300ve-2025")
