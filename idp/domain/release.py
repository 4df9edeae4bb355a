"""What ÉduConnect says about a parent (DESIGN §4), before per-SP filtering by the protocol layer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from federation.academie_references import REFERENCE_ATTRIBUTE, AcademieReference
from federation.vectors import ChildVector
from idp.domain.accounts import Account
from idp.domain.child_attachment import same_names
from idp.domain.school_registry import LegalRepresentative

AFFILIATIONS = {1: "resp1d", 2: "resp2d"}  # FrEduCtPersonAffiliation per degree of a child


@dataclass(frozen=True)
class ReleasedChild:
    """A confirmed child link: what FrEduVecteur and FrEduCtPersonAffiliation are made of.

    The IdP's record of the child (registry id, establishment, its degree), not the wire value:
    :func:`child_vector` turns it into one with the parent's names.
    """

    student_id: str
    uai: str
    degree: int  # 1 = 1er degré (école), 2 = 2nd degré (collège, lycée)


def child_vector(account: Account, child: ReleasedChild) -> str:
    """``type|NOM|Prénom|studentId|UAI``: type 1/2 by degree, the *parent's* names (DESIGN §4).

    Built by :class:`federation.vectors.ChildVector`, which refuses (``InvalidVector``) what the
    ENT would not read back.
    """
    vector = ChildVector(
        str(child.degree), account.family_name.upper(), account.given_name, child.student_id, child.uai
    )
    return vector.value


@dataclass(frozen=True)
class ChildRepresentative:
    """A legal representative of a confirmed child, as the release reads it."""

    representative: LegalRepresentative
    account_upstream: bool  # its ATEN identity is one of this account's upstream links


def academie_references(account: Account, candidates: Sequence[ChildRepresentative]) -> list[str]:
    """FrEduCtRefId: where the académie directories know this parent, one value per (académie, id).

    The parent among a confirmed child's representatives is found as the attachment found the
    child (:mod:`idp.domain.child_attachment`): the one whose ATEN identity is the account's, or,
    without an ATEN identity, the one with the account's names. Sorted, so the answer is stable.
    """
    references = set()
    for candidate in candidates:
        rep = candidate.representative
        is_parent = candidate.account_upstream if rep.has_aten_identity else same_names(account, rep)
        if is_parent and rep.academie and rep.aaf_id:
            references.add(AcademieReference(rep.academie, rep.aaf_id))
    return [reference.value for reference in sorted(references)]


def connection_time(instant: dt.datetime) -> str:
    """FrEduCtDateConnexion: ``YYYY-MM-DD HH:MM:SS.mmm`` (UTC)."""
    instant = instant.astimezone(dt.UTC)
    return instant.strftime("%Y-%m-%d %H:%M:%S.") + f"{instant.microsecond // 1000:03d}"


def released_attributes(
    account: Account,
    authn_instant: dt.datetime,
    logout_url: str,
    children: Sequence[ReleasedChild] = (),
    references: Sequence[str] = (),
) -> dict[str, list[str]]:
    """``children``: the confirmed ones only; none gives neither FrEduVecteur nor an affiliation.
    ``references``: the FrEduCtRefId values (:func:`academie_references`), none gives none."""
    attributes = {
        "sn": [account.family_name],
        "givenName": [account.given_name],
        "FrEduCtId": [account.id],
        "FrEduCtDateConnexion": [connection_time(authn_instant)],
        "FrEduUrlRetour": [logout_url],
    }
    if children:
        attributes["FrEduVecteur"] = [child_vector(account, child) for child in children]
        degrees = sorted({child.degree for child in children})
        attributes["FrEduCtPersonAffiliation"] = [AFFILIATIONS[d] for d in degrees]
    if references:
        attributes[REFERENCE_ATTRIBUTE] = list(references)
    return attributes
