"""UAI (Unité Administrative Immatriculée), the national establishment number.

Seven digits and a check letter: ``"ABCDEFGHJKLMNPRSTUVWXYZ"[int(digits) % 23]`` (I, O and Q are
never used), e.g. ``0860034V``. DESIGN §3 refuses any other form.
"""

from __future__ import annotations

import re

CHECK_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_UAI = re.compile(r"[0-9]{7}[A-Z]")


def uai_check_letter(digits: str) -> str:
    return CHECK_LETTERS[int(digits) % 23]


def is_valid_uai(value: str) -> bool:
    return bool(_UAI.fullmatch(value)) and value[7] == uai_check_letter(value[:7])
