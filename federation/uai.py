"""UAI (Unité Administrative Immatriculée), the national number of an establishment (DESIGN §3).

Seven digits and a check letter ``"ABCDEFGHJKLMNPRSTUVWXYZ"[int(digits) % 23]`` (I, O and Q are
never used): ``0860001J`` is valid, ``0860001A`` is not. The IdP's school registry and the ENT
both refuse any other form.
"""

from __future__ import annotations

import re

CHECK_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_UAI = re.compile(r"[0-9]{7}[A-Z]")


def uai_check_letter(digits: str) -> str:
    """The check letter of seven digits, e.g. ``J`` for ``0860001``."""
    if not re.fullmatch(r"[0-9]{7}", digits):
        raise ValueError(f"7 chiffres attendus : {digits!r}")
    return CHECK_LETTERS[int(digits) % 23]


def is_valid_uai(value: str) -> bool:
    return bool(_UAI.fullmatch(value)) and value[7] == uai_check_letter(value[:7])
