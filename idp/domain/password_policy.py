"""The password rule of the académie's help page (DESIGN §6), checked on the server.

« au moins 8 caractères et respecter 3 des 4 critères suivants : au moins une minuscule, au moins
une majuscule, au moins un chiffre, au moins un caractère spécial, parmi (! ? @ # $ ( ) { } [ ] _
& + - % ^ * < > £ µ / ; ,) ». Also refused: a mismatch between the two fields, the identifier
itself, more than 128 characters. Every other character (a dot, a space, accented letters…) is
accepted and counts for no criterion: the rule is the help page's, no more. The password is
compared and hashed in Unicode NFC (:func:`idp.domain.passwords.normalised`), so « é » typed as
one character or as « e » + accent on another device is the same password.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.domain.passwords import normalised

MIN_LENGTH = 8
MAX_LENGTH = 128
SPECIALS = frozenset("!?@#$(){}[]_&+-%^*<>£µ/;,")
SPECIALS_TEXT = "! ? @ # $ ( ) { } [ ] _ & + - % ^ * < > £ µ / ; ,"
CLASSES_REQUIRED = 3

# Stable codes → French wording shown next to the password field.
RULES: dict[str, str] = {
    "longueur": "Au moins 8 caractères",
    "criteres": "Au moins 3 des 4 critères : une minuscule, une majuscule, un chiffre, un caractère spécial",
    "minuscule": "Au moins une minuscule",
    "majuscule": "Au moins une majuscule",
    "chiffre": "Au moins un chiffre",
    "special": f"Au moins un caractère spécial parmi {SPECIALS_TEXT}",
}
ERRORS: dict[str, str] = {
    "longueur": "Le mot de passe doit comporter au moins 8 caractères.",
    "trop_long": "Le mot de passe ne doit pas dépasser 128 caractères.",
    "criteres": "Le mot de passe doit respecter au moins 3 des 4 critères "
    "(minuscule, majuscule, chiffre, caractère spécial).",
    "identifiant": "Le mot de passe ne doit pas être votre identifiant.",
    "confirmation": "Les deux mots de passe saisis sont différents.",
    "vide": "Saisissez un mot de passe.",
}


@dataclass(frozen=True)
class PasswordCheck:
    failures: tuple[str, ...]  # codes of ERRORS
    classes: frozenset[str]  # which of minuscule / majuscule / chiffre / special are present

    @property
    def is_valid(self) -> bool:
        return not self.failures

    def messages(self) -> list[str]:
        return [ERRORS[code] for code in self.failures]


def character_classes(password: str) -> frozenset[str]:
    found = set()
    for c in password:
        if c.isdigit() and c.isascii():
            found.add("chiffre")
        elif c in SPECIALS:
            found.add("special")
        elif c.isalpha() and c.islower():
            found.add("minuscule")
        elif c.isalpha() and c.isupper():
            found.add("majuscule")
    return frozenset(found)


def check_password(password: str, confirmation: str, identifier: str) -> PasswordCheck:
    """Every failed rule, in page order; the length cap is checked before anything else costs
    (on what was typed and on its NFC form: the hash is computed over the latter)."""
    if len(password) > MAX_LENGTH:
        return PasswordCheck(("trop_long",), frozenset())
    password, confirmation = normalised(password), normalised(confirmation)
    if len(password) > MAX_LENGTH:
        return PasswordCheck(("trop_long",), frozenset())
    if not password:
        return PasswordCheck(("vide",), frozenset())
    classes = character_classes(password)
    failures = []
    if len(password) < MIN_LENGTH:
        failures.append("longueur")
    if len(classes) < CLASSES_REQUIRED:
        failures.append("criteres")
    if identifier and password.lower() == normalised(identifier).lower():
        failures.append("identifiant")
    if password != confirmation:
        failures.append("confirmation")
    return PasswordCheck(tuple(failures), classes)
