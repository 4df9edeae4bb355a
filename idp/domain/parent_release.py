"""What one answer to an ENT says about a parent, SAML assertion or OIDC claims (DESIGN §4).

Both protocols read it through one :class:`ReleaseReader`: the account, its pairwise subject for
that audience and its confirmed children, in one read. The read has no side effect: an audience
answered for the first time has no subject yet, and the answer creates it with the explicit
command of :class:`PairwiseSubjects` (:func:`subject_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from idp.domain.accounts import Account
from idp.domain.release import ReleasedChild


@dataclass(frozen=True)
class Release:
    account: Account
    audience: str  # the SP's entityID, or the OIDC client's sector
    subject: str | None  # persistent pairwise NameID / ``sub``; None before the first answer
    children: tuple[ReleasedChild, ...]  # confirmed only, oldest first (FrEduVecteur order)
    references: tuple[str, ...] = ()  # FrEduCtRefId values (release.academie_references)


class ReleaseReader(Protocol):
    def for_audience(self, account_id: str, audience: str) -> Release | None:
        """None when the account no longer exists. Reads only."""
        ...


class PairwiseSubjects(Protocol):
    def ensure_pairwise_subject(self, account_id: str, audience: str) -> str:
        """The subject of this account for this audience, created if it has none (two workers
        racing on the first answer both end with the stored value)."""
        ...


def subject_for(release: Release, subjects: PairwiseSubjects) -> str:
    """The subject to answer with: the one read, or one created now for a first answer."""
    return release.subject or subjects.ensure_pairwise_subject(release.account.id, release.audience)
