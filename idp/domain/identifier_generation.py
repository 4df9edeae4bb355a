"""ÉduConnect identifiers (DESIGN §3): ``<initial of first given name>.<family name><N>``.

Lowercase ASCII, accents folded, spaces / hyphens / apostrophes dropped, name part at most 20
characters, N the lowest positive number not yet used for that base, e.g. ``j.dupont3``.
Uniqueness under concurrency is the storage's job (unique index + retry with the next number).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_NAME_PART = 20
_DROPPED = re.compile(r"[\s\-'’‘ʼ`]")
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


def fold(text: str) -> str:
    """Lowercase ASCII letters only: accents folded, spaces, hyphens and apostrophes dropped."""
    text = _DROPPED.sub("", text.translate(_LIGATURES))
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in decomposed if c.isascii() and c.isalnum())
    return ascii_only.lower()


def identifier_base(given_name: str, family_name: str) -> str:
    """``j.dupont`` for Jérôme-Marie / Dupont; raises ValueError when a name folds to nothing."""
    first_given = given_name.strip().split()[0] if given_name.strip() else ""
    initial = fold(first_given)[:1]
    family = fold(family_name)[:MAX_NAME_PART]
    if not initial or not family:
        raise ValueError(f"names {given_name!r} {family_name!r} give no identifier")
    return f"{initial}.{family}"


def lowest_free_number(base: str, taken: Iterable[str]) -> int:
    """The lowest N ≥ 1 such that ``base + N`` is not among ``taken`` identifiers."""
    pattern = re.compile(re.escape(base) + r"([1-9][0-9]*)")
    used = {int(m.group(1)) for t in taken if (m := pattern.fullmatch(t))}
    number = 1
    while number in used:
        number += 1
    return number
