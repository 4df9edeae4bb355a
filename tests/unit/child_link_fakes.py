"""In-memory ChildLinkRepository for the domain tests (one lock serialises every attempt).

``writes`` counts every call that changes the repository, so tests can show that reads do not.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from federation.vectors import well_formed_vectors
from idp.domain.child_attachment import (
    MAX_WRONG_DATES_PER_CHILD,
    ChildLink,
    LinkState,
    RegistrySlice,
    UpstreamLink,
)
from idp.domain.release import ReleasedChild
from idp.domain.school_registry import Establishment, LegalRepresentative, Student


@dataclass
class FakeLink:
    confirmed_at: dt.datetime | None = None
    failed_attempts: int = 0
    blocked_at: dt.datetime | None = None


@dataclass
class FakeChildLinks:
    establishments: dict[str, Establishment] = field(default_factory=dict)
    students: dict[str, Student] = field(default_factory=dict)
    representatives: dict[str, list[LegalRepresentative]] = field(default_factory=dict)
    upstream: dict[str, list[UpstreamLink]] = field(default_factory=dict)
    links: dict[tuple[str, str], FakeLink] = field(default_factory=dict)
    failures: list[tuple[str, str, dt.datetime]] = field(default_factory=list)  # account, student, at
    lock: threading.Lock = field(default_factory=threading.Lock)
    writes: int = 0

    # --- registry set-up -------------------------------------------------------------------
    def add_student(self, student: Student, *representatives: LegalRepresentative) -> None:
        self.students[student.id] = student
        self.representatives[student.id] = list(representatives)

    # --- ChildLinkRepository ---------------------------------------------------------------
    def upstream_links(self, account_id: str) -> list[UpstreamLink]:
        return list(self.upstream.get(account_id, []))

    def update_upstream_vectors(self, link: UpstreamLink) -> None:
        self.writes += 1
        for account_links in self.upstream.values():
            for i, known in enumerate(account_links):
                if (known.issuer, known.subject) == (link.issuer, link.subject):
                    account_links[i] = link

    def registry_for(self, links: Sequence[UpstreamLink]) -> RegistrySlice:
        identities = {(link.issuer, link.subject) for link in links}
        ids = {c.student_id for link in links for c in well_formed_vectors(link.vectors)}
        ids |= {
            sid
            for sid, reps in self.representatives.items()
            if any((r.aten_issuer, r.aten_subject) in identities for r in reps)
        }
        return RegistrySlice(
            {sid: s for sid, s in self.students.items() if sid in ids},
            {sid: reps for sid, reps in self.representatives.items() if sid in ids},
        )

    def ensure_links(self, account_id: str, student_ids: Sequence[str], now: dt.datetime) -> None:
        self.writes += 1
        for sid in student_ids:
            self.links.setdefault((account_id, sid), FakeLink())

    def links_of(self, account_id: str) -> list[ChildLink]:
        result = []
        for (acc, sid), link in sorted(self.links.items()):
            if acc != account_id:
                continue
            student = self.students[sid]
            result.append(
                ChildLink(
                    sid,
                    student.given_name,
                    self.establishments[student.uai],
                    link.confirmed_at,
                    link.failed_attempts,
                    link.blocked_at,
                )
            )
        return result

    def account_failures_since(self, account_id: str, since: dt.datetime) -> int:
        return sum(1 for acc, _, at in self.failures if acc == account_id and at >= since)

    @contextmanager
    def locked_attempt(self, account_id: str, student_id: str) -> Iterator[FakeAttempt]:
        with self.lock:
            yield FakeAttempt(self, account_id, student_id)

    # --- what the release reader would read (confirmed links only) ---------------------------
    def confirmed_children(self, account_id: str) -> list[ReleasedChild]:
        return [
            ReleasedChild(sid, self.students[sid].uai, self.establishments[self.students[sid].uai].degree)
            for (acc, sid), link in sorted(self.links.items())
            if acc == account_id and link.confirmed_at
        ]


@dataclass
class FakeAttempt:
    repo: FakeChildLinks
    account_id: str
    student_id: str

    @property
    def _link(self) -> FakeLink | None:
        return self.repo.links.get((self.account_id, self.student_id))

    @property
    def link(self) -> LinkState | None:
        link = self._link
        if link is None:
            return None
        return LinkState(
            self.repo.students[self.student_id].birth_date,
            link.failed_attempts,
            link.confirmed_at is not None,
            link.blocked_at is not None,
        )

    def unlinked_failures(self) -> int:
        return sum(
            1 for acc, sid, _ in self.repo.failures if (acc, sid) == (self.account_id, self.student_id)
        )

    def account_failures_since(self, since: dt.datetime) -> int:
        return self.repo.account_failures_since(self.account_id, since)

    def record_failure(self, now: dt.datetime, block: bool) -> None:
        self.repo.writes += 1
        self.repo.failures.append((self.account_id, self.student_id, now))
        link = self._link
        if link is not None:
            assert link.failed_attempts < MAX_WRONG_DATES_PER_CHILD
            link.failed_attempts += 1
            link.blocked_at = now if block else None

    def confirm(self, now: dt.datetime) -> None:
        self.repo.writes += 1
        link = self._link
        assert link is not None
        link.confirmed_at = now


def establishment(uai: str, degree: int = 1, name: str = "École des Tests") -> Establishment:
    return Establishment(
        uai, name, "Poitiers", degree, f"https://ent.test/etablissement/{uai}", "05 36 49 00 00"
    )


def student(sid: str, uai: str, birth: dt.date, given_name: str = "Léa") -> Student:
    return Student(sid, "DURAND", given_name, birth, uai, "CM1")
