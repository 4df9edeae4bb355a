"""Rattachement des enfants (« Ajout d'élèves », DESIGN §2 C).

Which children: the school registry links a student to a parent when one of the student's legal
representatives carries the parent's ATEN identity (issuer + persistent NameID of an upstream
link), or when ATEN's ``FrEduVecteur`` of that link names the student (same id, same UAI) and a
legal representative without an ATEN identity bears the parent's names.

A birth date is a low-entropy secret, so guessing is bounded, durably and atomically (the
repository serialises the attempts of one account):

* per child link, 3 wrong dates ever: the link is blocked until the school unblocks it;
* per account, 5 wrong dates in any 24 hours, all children together: further tries are refused
  without being checked, right or wrong.

A wrong date and a child who is not the parent's get the same answer (``WrongBirthDate``), and
both count toward the account's bound. Only confirmed links are ever released.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from federation.vectors import well_formed_vectors
from idp.domain.accounts import Account
from idp.domain.errors import ChildLinkBlocked, TooManyBirthDateAttempts, WrongBirthDate
from idp.domain.identifier_generation import fold
from idp.domain.school_registry import OLDEST_BIRTH_YEAR, Establishment, LegalRepresentative, Student

MAX_WRONG_DATES_PER_CHILD = 3
MAX_WRONG_DATES_PER_ACCOUNT = 5
ACCOUNT_WINDOW = dt.timedelta(hours=24)


# --- which children ------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamLink:
    """An account's ATEN identity and the FrEduVecteur values of its last ATEN login."""

    issuer: str
    subject: str
    vectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegistrySlice:
    """The part of the registry that may concern one parent (see ChildLinkRepository.registry_for)."""

    students: Mapping[str, Student]
    representatives: Mapping[str, Sequence[LegalRepresentative]]  # by student id


def same_names(account: Account, representative: LegalRepresentative) -> bool:
    return (fold(account.given_name), fold(account.family_name)) == (
        fold(representative.given_name),
        fold(representative.family_name),
    )


def linked_student_ids(account: Account, links: Sequence[UpstreamLink], registry: RegistrySlice) -> list[str]:
    """The students the registry links to this parent, in a stable order."""
    identities = {(link.issuer, link.subject) for link in links}
    found: dict[str, None] = {}
    for student_id, representatives in sorted(registry.representatives.items()):
        if student_id in registry.students and any(
            r.has_aten_identity and (r.aten_issuer, r.aten_subject) in identities for r in representatives
        ):
            found[student_id] = None
    for link in links:
        for child in well_formed_vectors(link.vectors):
            student = registry.students.get(child.student_id)
            if student is None or student.uai != child.uai:
                continue
            if any(
                not r.has_aten_identity and same_names(account, r)
                for r in registry.representatives.get(child.student_id, ())
            ):
                found[child.student_id] = None
    return list(found)


# --- the links and their counters ----------------------------------------------------------


@dataclass(frozen=True)
class ChildLink:
    """A child as the « Ajout d'élèves » page shows it."""

    student_id: str
    given_name: str
    establishment: Establishment
    confirmed_at: dt.datetime | None
    failed_attempts: int
    blocked_at: dt.datetime | None

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None


@dataclass(frozen=True)
class LinkState:
    """One link as read inside the locked attempt."""

    birth_date: dt.date
    failed_attempts: int
    is_confirmed: bool
    is_blocked: bool


class LockedAttempt(Protocol):
    """One birth-date attempt, serialised with every other attempt of the same account."""

    @property
    def link(self) -> LinkState | None:
        """The link of this account to this student; None when the student is not theirs."""
        ...

    def unlinked_failures(self) -> int:
        """Wrong tries already logged for this student id when it is not the parent's."""
        ...

    def account_failures_since(self, since: dt.datetime) -> int: ...

    def record_failure(self, now: dt.datetime, block: bool) -> None:
        """Log one wrong try for the account (and count it on the link, blocking it if asked)."""
        ...

    def confirm(self, now: dt.datetime) -> None: ...


class ChildLinkRepository(Protocol):
    def upstream_links(self, account_id: str) -> list[UpstreamLink]: ...

    def update_upstream_vectors(self, link: UpstreamLink) -> None:
        """Keep the FrEduVecteur values of this ATEN identity's latest login."""
        ...

    def registry_for(self, links: Sequence[UpstreamLink]) -> RegistrySlice:
        """Students named by the links' vectors or represented by the links' ATEN identities."""
        ...

    def ensure_links(self, account_id: str, student_ids: Sequence[str], now: dt.datetime) -> None:
        """Create the missing links (idempotent, safe when two requests race)."""
        ...

    def links_of(self, account_id: str) -> list[ChildLink]: ...

    def account_failures_since(self, account_id: str, since: dt.datetime) -> int: ...

    def locked_attempt(self, account_id: str, student_id: str) -> AbstractContextManager[LockedAttempt]: ...


@dataclass(frozen=True)
class AttachmentStatus:
    """Every child link of one account and whether its daily bound is spent: what « Ajout
    d'élèves » shows and decides on, read once per request."""

    links: tuple[ChildLink, ...]
    is_account_exhausted: bool

    @property
    def to_confirm(self) -> list[ChildLink]:
        """Unconfirmed children, the blocked ones included (their page shows the school's contact)."""
        return [link for link in self.links if not link.is_confirmed]

    @property
    def askable(self) -> list[ChildLink]:
        return [link for link in self.to_confirm if not link.is_blocked]

    @property
    def blocked(self) -> list[ChildLink]:
        return [link for link in self.to_confirm if link.is_blocked]

    @property
    def has_children_to_ask(self) -> bool:
        """Is there a child the parent can still confirm now (unconfirmed, unblocked, tries left)?"""
        return bool(self.askable) and not self.is_account_exhausted

    def given_name(self, student_id: str) -> str | None:
        return next((link.given_name for link in self.links if link.student_id == student_id), None)


class ChildAttachment:
    """Commands (:meth:`sync_links`, :meth:`keep_upstream_vectors`, :meth:`submit`) write; every
    other method only reads."""

    def __init__(self, links: ChildLinkRepository) -> None:
        self.links = links

    def sync_links(self, account: Account, now: dt.datetime) -> None:
        """Create the links the registry now implies for this parent. Called once where a parent
        signs in (DESIGN §2 C: « asked again at the next login »), so the reads of the session
        after it never write."""
        upstream = self.links.upstream_links(account.id)
        if upstream:
            student_ids = linked_student_ids(account, upstream, self.links.registry_for(upstream))
            self.links.ensure_links(account.id, student_ids, now)

    def keep_upstream_vectors(self, link: UpstreamLink) -> None:
        """ATEN's FrEduVecteur values of a new ATEN login of a parent who already migrated: the
        next :meth:`sync_links` reads them."""
        self.links.update_upstream_vectors(link)

    def status(self, account_id: str, now: dt.datetime) -> AttachmentStatus:
        return AttachmentStatus(
            tuple(self.links.links_of(account_id)), self.is_account_exhausted(account_id, now)
        )

    def is_account_exhausted(self, account_id: str, now: dt.datetime) -> bool:
        failures = self.links.account_failures_since(account_id, now - ACCOUNT_WINDOW)
        return failures >= MAX_WRONG_DATES_PER_ACCOUNT

    def has_children_to_ask(self, account_id: str, now: dt.datetime) -> bool:
        return self.status(account_id, now).has_children_to_ask

    def submit(self, account_id: str, student_id: str, birth_date: dt.date, now: dt.datetime) -> None:
        """Confirm the link when the date is right; otherwise raise, after counting the try.

        The outcome is decided inside the locked attempt and raised after it is committed: a
        counted failure must never be rolled back by the exception that reports it.
        """
        with self.links.locked_attempt(account_id, student_id) as attempt:
            refusal = self._decide(attempt, birth_date, now, f"{account_id} {student_id}")
        if refusal is not None:
            raise refusal

    @staticmethod
    def _decide(
        attempt: LockedAttempt, birth_date: dt.date, now: dt.datetime, detail: str
    ) -> Exception | None:
        link = attempt.link
        if link is not None and link.is_confirmed:
            return None  # the same form submitted twice
        failures = link.failed_attempts if link is not None else attempt.unlinked_failures()
        if (link is not None and link.is_blocked) or failures >= MAX_WRONG_DATES_PER_CHILD:
            return ChildLinkBlocked(detail)
        if attempt.account_failures_since(now - ACCOUNT_WINDOW) >= MAX_WRONG_DATES_PER_ACCOUNT:
            return TooManyBirthDateAttempts(detail)
        if link is not None and birth_date == link.birth_date:
            attempt.confirm(now)
            return None
        blocks = failures + 1 >= MAX_WRONG_DATES_PER_CHILD
        attempt.record_failure(now, block=blocks and link is not None)
        return ChildLinkBlocked(detail) if blocks else WrongBirthDate(detail)


# --- the date typed on the page ------------------------------------------------------------


class BirthDateInputError(ValueError):
    """What was typed is not a date: nothing is counted; ``fields`` are the inputs to fix."""

    def __init__(self, fields: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.fields, self.message = fields, message


_DIGITS = re.compile(r"[0-9]{1,4}")


def parse_birth_date(day: str, month: str, year: str, today: dt.date) -> dt.date:
    """The date typed in the jour / mois / année fields (« 7 », « 07 », « 2016 »)."""
    values = {"jour": day.strip(), "mois": month.strip(), "annee": year.strip()}
    empty = tuple(name for name, value in values.items() if not value)
    if empty:
        raise BirthDateInputError(empty, "Saisissez le jour, le mois et l'année de naissance.")
    wrong = []
    if not _DIGITS.fullmatch(values["jour"]) or not 1 <= int(values["jour"]) <= 31:
        wrong.append(("jour", "le jour est un nombre de 1 à 31"))
    if not _DIGITS.fullmatch(values["mois"]) or not 1 <= int(values["mois"]) <= 12:
        wrong.append(("mois", "le mois est un nombre de 1 à 12"))
    if not re.fullmatch(r"[0-9]{4}", values["annee"]) or int(values["annee"]) < OLDEST_BIRTH_YEAR:
        wrong.append(("annee", "l'année s'écrit avec 4 chiffres, par exemple 2015"))
    if wrong:
        detail = " ; ".join(text for _, text in wrong)
        raise BirthDateInputError(
            tuple(name for name, _ in wrong), f"Date incomplète ou mal saisie : {detail}."
        )
    try:
        date = dt.date(int(values["annee"]), int(values["mois"]), int(values["jour"]))
    except ValueError:
        raise BirthDateInputError(("jour", "mois", "annee"), "Cette date n'existe pas.") from None
    if date > today:
        raise BirthDateInputError(("annee",), "La date de naissance ne peut pas être dans le futur.")
    return date
