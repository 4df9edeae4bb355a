"""From a directory entry (LDAP attribute names, the schema of config/ldap/) to a :class:`Parent`.

The persistent NameID is the entry's ``atenPersistentId``, an opaque value stored with the
parent, rather than an HMAC of the ``uid`` under a configured secret, because:

* ÉduConnect links an account to (ATEN entity ID, NameID) for good (DESIGN §3): the value must
  outlive a rotated or lost secret and a renamed ``uid`` (marriage, typo fixed), which a stored
  value does and an HMAC does not;
* it is the same whichever backend answers, since both read the same entry;
* it reveals nothing about the ``uid`` and there is no secret to protect or leak.

The price is that every parent entry must carry one (``MUST`` in the ``atenResponsable`` class;
an import generates it once, e.g. ``secrets.token_hex(16)``). An entry without it is refused
rather than given an identifier that could change.

ATEN has one SP (ÉduConnect); the NameID is scoped to it by the qualifiers of the Subject. Were
a second SP added, it would need pairwise values derived from this one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from aten_adapter.domain.errors import InvalidDirectoryEntry
from aten_adapter.domain.parents import Parent
from federation.vectors import ChildVector, InvalidVector, well_formed_vectors

PARENT_OBJECT_CLASS = "atenResponsable"
# Attributes read from a parent entry (userPassword only by the LDIF backend, never released).
PARENT_ATTRIBUTES = ("uid", "sn", "givenName", "mail", "atenPersistentId", "FrEduVecteur")
MAX_PERSISTENT_ID_LENGTH = 64

log = logging.getLogger("educonnect.aten")


def parent_from_entry(dn: str, attributes: Mapping[str, Sequence[str]]) -> Parent:
    values = {name.lower(): [str(v) for v in vals] for name, vals in attributes.items()}

    def first(name: str) -> str | None:
        found = [v for v in values.get(name.lower(), []) if v.strip()]
        return found[0] if found else None

    uid, persistent_id = first("uid"), first("atenPersistentId")
    family_name, given_name = first("sn"), first("givenName")
    if not (uid and persistent_id and family_name and given_name):
        raise InvalidDirectoryEntry(f"{dn}: uid, sn, givenName et atenPersistentId obligatoires")
    if len(persistent_id) > MAX_PERSISTENT_ID_LENGTH or not persistent_id.isascii():
        raise InvalidDirectoryEntry(f"{dn}: atenPersistentId invalide")
    return Parent(
        uid=uid,
        persistent_id=persistent_id,
        family_name=family_name,
        given_name=given_name,
        mail=first("mail"),
        children=_children(dn, values.get("frEduVecteur".lower(), [])),
    )


def _children(dn: str, raw_values: list[str]) -> tuple[ChildVector, ...]:
    """Valid vectors only: a malformed one is logged for the académie and not released (the
    parent can still sign in; ÉduConnect checks each child against the school registry anyway)."""

    def report(raw: str, exc: InvalidVector) -> None:
        log.warning("FrEduVecteur ignoré pour %s : %s", dn, exc)

    return tuple(well_formed_vectors(raw_values, on_invalid=report))
