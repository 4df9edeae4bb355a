"""The school registry and the child links on SQLAlchemy (SQLite or PostgreSQL).

Atomicity of the guessing bounds: every birth-date attempt of one account runs in one
transaction that first takes that account's lock (``SELECT … FOR UPDATE`` on its row in
PostgreSQL; ``BEGIN IMMEDIATE`` in SQLite, which serialises writers), then reads the counters,
then writes. The per-child counter is also raised with a guarded ``UPDATE … WHERE failed_attempts
< 3`` and a check constraint, so it can never pass the bound whatever happens above.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from federation.database import ConnectionScope, ReadSessions, no_connection_scope
from federation.vectors import well_formed_vectors
from idp.domain.child_attachment import (
    MAX_WRONG_DATES_PER_CHILD,
    ChildLink,
    LinkState,
    RegistrySlice,
    UpstreamLink,
)
from idp.domain.school_registry import (
    Establishment,
    ImportCounts,
    LegalRepresentative,
    RegistryImport,
    Student,
)
from idp.storage.models import AccountRow, UpstreamLinkRow, utcnow
from idp.storage.registry_models import (
    BirthDateFailureRow,
    ChildLinkRow,
    EstablishmentRow,
    LegalRepresentativeRow,
    RegistryAuditRow,
    StudentRow,
)

CHUNK = 500  # IN lists stay far below the drivers' parameter limits
SYSTEM_ACTOR = "educonnect"

# Read at every sign-in (ChildAttachment.sync_links) and « Ajout d'élèves » page: built once,
# run as Core statements.
_UPSTREAM_LINKS = (
    select(UpstreamLinkRow.issuer, UpstreamLinkRow.subject, UpstreamLinkRow.vectors)
    .where(UpstreamLinkRow.account_id == bindparam("account_id"))
    .order_by(UpstreamLinkRow.id)
)
_LINKS_OF = (
    select(
        ChildLinkRow.student_id,
        ChildLinkRow.confirmed_at,
        ChildLinkRow.failed_attempts,
        ChildLinkRow.blocked_at,
        StudentRow.given_name,
        EstablishmentRow.uai,
        EstablishmentRow.name,
        EstablishmentRow.commune,
        EstablishmentRow.degree,
        EstablishmentRow.ent_url,
        EstablishmentRow.contact,
    )
    .join(StudentRow, StudentRow.id == ChildLinkRow.student_id)
    .join(EstablishmentRow, EstablishmentRow.uai == StudentRow.uai)
    # A link the parent reported (« Je ne suis pas le représentant légal ») is over: never shown.
    .where(ChildLinkRow.account_id == bindparam("account_id"), ChildLinkRow.reported_at.is_(None))
    .order_by(StudentRow.birth_date, StudentRow.id)
)

Row = TypeVar("Row", EstablishmentRow, StudentRow, LegalRepresentativeRow)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _establishment(row: EstablishmentRow) -> Establishment:
    return Establishment(row.uai, row.name, row.commune, row.degree, row.ent_url, row.contact)


def _student(row: StudentRow) -> Student:
    return Student(row.id, row.family_name, row.given_name, row.birth_date, row.uai, row.level)


def _representative(row: LegalRepresentativeRow) -> LegalRepresentative:
    return LegalRepresentative(
        row.student_id,
        row.rank,
        row.family_name,
        row.given_name,
        row.aten_issuer,
        row.aten_subject,
        row.academie,
        row.aaf_id,
    )


@dataclass(frozen=True)
class LinkStatus:
    """One child link as school staff see it (``registry links``)."""

    student_id: str
    student_name: str
    uai: str
    confirmed_at: dt.datetime | None
    failed_attempts: int
    blocked_at: dt.datetime | None
    reported_at: dt.datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    action: str
    actor: str
    account_id: str | None
    student_id: str | None
    detail: str
    client_address: str | None = None


class UnknownLink(LookupError):
    """No such account identifier, or no link between it and that student."""


class SqlRegistryRepository:
    """The ChildLinkRepository, and the registry's import and support commands."""

    def __init__(self, sessions: sessionmaker[Session], scope: ConnectionScope = no_connection_scope) -> None:
        self._sessions = sessions
        self._reads = ReadSessions(sessions, scope)

    # --- import ---------------------------------------------------------------------------

    def known_uais(self) -> set[str]:
        with self._reads() as db:
            return set(db.scalars(select(EstablishmentRow.uai)))

    def known_student_ids(self) -> set[str]:
        with self._reads() as db:
            return set(db.scalars(select(StudentRow.id)))

    def apply(self, registry: RegistryImport, now: dt.datetime) -> ImportCounts:
        counts = ImportCounts()
        with self._sessions.begin() as db:
            existing_e = self._rows(
                db, EstablishmentRow, EstablishmentRow.uai, [e.uai for e in registry.establishments]
            )
            for e in registry.establishments:
                values = {
                    "uai": e.uai,
                    "name": e.name,
                    "commune": e.commune,
                    "degree": e.degree,
                    "ent_url": e.ent_url,
                    "contact": e.contact,
                }
                counts.add(_upsert(db, existing_e.get(e.uai), EstablishmentRow, values, now))
            db.flush()
            existing_s = self._rows(db, StudentRow, StudentRow.id, [s.id for s in registry.students])
            for s in registry.students:
                values = {
                    "id": s.id,
                    "family_name": s.family_name,
                    "given_name": s.given_name,
                    "birth_date": s.birth_date,
                    "uai": s.uai,
                    "level": s.level,
                }
                counts.add(_upsert(db, existing_s.get(s.id), StudentRow, values, now))
            db.flush()
            student_ids = {r.student_id for r in registry.representatives}
            existing_r: dict[tuple[str, int], LegalRepresentativeRow] = {}
            for batch in _chunks(student_ids):
                for row in db.scalars(
                    select(LegalRepresentativeRow).where(LegalRepresentativeRow.student_id.in_(batch))
                ):
                    existing_r[(row.student_id, row.rank)] = row
            for r in registry.representatives:
                values = {
                    "student_id": r.student_id,
                    "rank": r.rank,
                    "family_name": r.family_name,
                    "given_name": r.given_name,
                    "aten_issuer": r.aten_issuer,
                    "aten_subject": r.aten_subject,
                }
                if registry.with_academie_references:
                    values |= {"academie": r.academie, "aaf_id": r.aaf_id}
                counts.add(
                    _upsert(db, existing_r.get((r.student_id, r.rank)), LegalRepresentativeRow, values, now)
                )
            db.add(
                RegistryAuditRow(
                    at=now,
                    action="import",
                    actor=SYSTEM_ACTOR,
                    detail=f"créés {counts.created}, modifiés {counts.updated}, "
                    f"inchangés {counts.unchanged}, refusés {len(registry.refused)}",
                )
            )
        return counts

    @staticmethod
    def _rows(db: Session, model: type[Row], key: Any, keys: Sequence[str]) -> dict[str, Row]:
        found: dict[str, Row] = {}
        for batch in _chunks(keys):
            for row in db.scalars(select(model).where(key.in_(batch))):
                found[getattr(row, key.key)] = row
        return found

    # --- which children -------------------------------------------------------------------

    def upstream_links(self, account_id: str) -> list[UpstreamLink]:
        with self._reads.connection() as conn:
            rows = conn.execute(_UPSTREAM_LINKS, {"account_id": account_id})
            return [UpstreamLink(issuer, subject, _vectors(vectors)) for issuer, subject, vectors in rows]

    def update_upstream_vectors(self, link: UpstreamLink) -> None:
        with self._sessions.begin() as db:
            db.execute(
                update(UpstreamLinkRow)
                .where(UpstreamLinkRow.issuer == link.issuer, UpstreamLinkRow.subject == link.subject)
                .values(vectors=json.dumps(list(link.vectors)), updated_at=utcnow())
            )

    def registry_for(self, links: Sequence[UpstreamLink]) -> RegistrySlice:
        ids = {child.student_id for link in links for child in well_formed_vectors(link.vectors)}
        identities = [
            and_(
                LegalRepresentativeRow.aten_issuer == link.issuer,
                LegalRepresentativeRow.aten_subject == link.subject,
            )
            for link in links
        ]
        with self._reads() as db:
            if identities:
                ids |= set(db.scalars(select(LegalRepresentativeRow.student_id).where(or_(*identities))))
            students: dict[str, Student] = {}
            representatives: dict[str, list[LegalRepresentative]] = {}
            for batch in _chunks(sorted(ids)):
                for row in db.scalars(select(StudentRow).where(StudentRow.id.in_(batch))):
                    students[row.id] = _student(row)
                for rep in db.scalars(
                    select(LegalRepresentativeRow)
                    .where(LegalRepresentativeRow.student_id.in_(batch))
                    .order_by(LegalRepresentativeRow.rank)
                ):
                    representatives.setdefault(rep.student_id, []).append(_representative(rep))
        return RegistrySlice(students, representatives)

    def ensure_links(self, account_id: str, student_ids: Sequence[str], now: dt.datetime) -> None:
        for _ in range(3):
            with self._reads() as db:
                existing = set(
                    db.scalars(select(ChildLinkRow.student_id).where(ChildLinkRow.account_id == account_id))
                )
            missing = [s for s in student_ids if s not in existing]
            if not missing:
                return
            try:
                with self._sessions.begin() as db:
                    db.add_all(
                        ChildLinkRow(account_id=account_id, student_id=s, created_at=now) for s in missing
                    )
                return
            except IntegrityError:
                continue  # another request of the same parent created some of them: read again
        raise RuntimeError("child links: concurrent creation did not settle")

    def links_of(self, account_id: str) -> list[ChildLink]:
        with self._reads.connection() as conn:
            rows = conn.execute(_LINKS_OF, {"account_id": account_id}).all()
        return [
            ChildLink(
                student_id=row.student_id,
                given_name=row.given_name,
                establishment=Establishment(
                    row.uai, row.name, row.commune, row.degree, row.ent_url, row.contact
                ),
                confirmed_at=row.confirmed_at,
                failed_attempts=row.failed_attempts,
                blocked_at=row.blocked_at,
            )
            for row in rows
        ]

    # --- attempts -------------------------------------------------------------------------

    def account_failures_since(self, account_id: str, since: dt.datetime) -> int:
        with self._reads() as db:
            return _failures_since(db, account_id, since)

    @contextmanager
    def locked_attempt(self, account_id: str, student_id: str) -> Iterator[SqlLockedAttempt]:
        with self._sessions.begin() as db:
            _lock_account(db, account_id)
            row = db.execute(
                select(ChildLinkRow, StudentRow.birth_date)
                .join(StudentRow, StudentRow.id == ChildLinkRow.student_id)
                .where(
                    ChildLinkRow.account_id == account_id,
                    ChildLinkRow.student_id == student_id,
                    ChildLinkRow.reported_at.is_(None),  # reported: no longer this parent's
                )
            ).first()
            yield SqlLockedAttempt(
                db, account_id, student_id, row[0] if row else None, row[1] if row else None
            )

    # --- support (CLI) --------------------------------------------------------------------

    def account_id_for(self, identifier: str) -> str:
        with self._reads() as db:
            account_id = db.scalar(
                select(AccountRow.id).where(AccountRow.identifier == identifier.strip().lower())
            )
        if account_id is None:
            raise UnknownLink(f"aucun compte ÉduConnect « {identifier} »")
        return account_id

    def link_statuses(self, account_id: str) -> list[LinkStatus]:
        with self._reads() as db:
            rows = db.execute(
                select(ChildLinkRow, StudentRow)
                .join(StudentRow, StudentRow.id == ChildLinkRow.student_id)
                .where(ChildLinkRow.account_id == account_id)
                .order_by(StudentRow.id)
            ).all()
            return [
                LinkStatus(
                    student.id,
                    f"{student.given_name} {student.family_name}",
                    student.uai,
                    link.confirmed_at,
                    link.failed_attempts,
                    link.blocked_at,
                    link.reported_at,
                )
                for link, student in rows
            ]

    def unblock(self, account_id: str, student_id: str, actor: str, reason: str, now: dt.datetime) -> int:
        """Reset the link's counter and block; returns the wrong tries it had. Audited."""
        with self._sessions.begin() as db:
            _lock_account(db, account_id)
            link = db.scalar(
                select(ChildLinkRow).where(
                    ChildLinkRow.account_id == account_id, ChildLinkRow.student_id == student_id
                )
            )
            if link is None:
                raise UnknownLink(f"aucun rattachement entre ce compte et l'élève {student_id}")
            previous = link.failed_attempts
            link.failed_attempts = 0
            link.blocked_at = None
            db.add(
                RegistryAuditRow(
                    at=now,
                    action="deblocage",
                    actor=actor,
                    account_id=account_id,
                    student_id=student_id,
                    detail=f"{previous} essai(s) effacé(s). {reason}".strip(),
                )
            )
            return previous

    def audit_trail(self, limit: int = 50, account_id: str | None = None) -> list[AuditEntry]:
        with self._reads() as db:
            query = select(RegistryAuditRow).order_by(RegistryAuditRow.id.desc()).limit(limit)
            if account_id:
                query = query.where(RegistryAuditRow.account_id == account_id)
            return [
                AuditEntry(r.at, r.action, r.actor, r.account_id, r.student_id, r.detail, r.client_address)
                for r in db.scalars(query)
            ]


class SqlLockedAttempt:
    """The domain's LockedAttempt, inside the account-locked transaction."""

    def __init__(
        self,
        db: Session,
        account_id: str,
        student_id: str,
        link: ChildLinkRow | None,
        birth_date: dt.date | None,
    ) -> None:
        self._db, self._account_id, self._student_id, self._link = db, account_id, student_id, link
        self._state = (
            LinkState(
                birth_date, link.failed_attempts, link.confirmed_at is not None, link.blocked_at is not None
            )
            if link is not None and birth_date is not None
            else None
        )

    @property
    def link(self) -> LinkState | None:
        return self._state

    def unlinked_failures(self) -> int:
        return (
            self._db.scalar(
                select(func.count())
                .select_from(BirthDateFailureRow)
                .where(
                    BirthDateFailureRow.account_id == self._account_id,
                    BirthDateFailureRow.student_id == self._student_id,
                )
            )
            or 0
        )

    def account_failures_since(self, since: dt.datetime) -> int:
        return _failures_since(self._db, self._account_id, since)

    def record_failure(self, now: dt.datetime, block: bool) -> None:
        self._db.add(
            BirthDateFailureRow(account_id=self._account_id, student_id=self._student_id, attempted_at=now)
        )
        if self._link is None:
            return
        counted = self._db.execute(
            update(ChildLinkRow)
            .where(
                ChildLinkRow.id == self._link.id,
                ChildLinkRow.failed_attempts < MAX_WRONG_DATES_PER_CHILD,
                ChildLinkRow.blocked_at.is_(None),
                ChildLinkRow.confirmed_at.is_(None),
            )
            .values(failed_attempts=ChildLinkRow.failed_attempts + 1, blocked_at=now if block else None)
            .execution_options(synchronize_session=False)
        )
        if counted.rowcount != 1:  # type: ignore[attr-defined]
            raise RuntimeError("child link changed under the account lock")
        if block:
            self._audit(now, "blocage", f"{MAX_WRONG_DATES_PER_CHILD} dates de naissance incorrectes")

    def confirm(self, now: dt.datetime) -> None:
        if self._link is None:
            raise RuntimeError("no link to confirm")
        self._db.execute(
            update(ChildLinkRow)
            .where(ChildLinkRow.id == self._link.id, ChildLinkRow.confirmed_at.is_(None))
            .values(confirmed_at=now)
            .execution_options(synchronize_session=False)
        )
        self._audit(now, "confirmation", "date de naissance saisie par le parent")

    def _audit(self, now: dt.datetime, action: str, detail: str) -> None:
        self._db.add(
            RegistryAuditRow(
                at=now,
                action=action,
                actor="parent",
                account_id=self._account_id,
                student_id=self._student_id,
                detail=detail,
            )
        )


def _lock_account(db: Session, account_id: str) -> None:
    """Serialise every attempt of one account (the per-account bound spans all its children)."""
    if db.get_bind().dialect.name == "sqlite":
        # pysqlite opens transactions lazily; take SQLite's single writer lock before any read.
        db.connection().exec_driver_sql("BEGIN IMMEDIATE")
    else:
        db.execute(select(AccountRow.id).where(AccountRow.id == account_id).with_for_update())


def _failures_since(db: Session, account_id: str, since: dt.datetime) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(BirthDateFailureRow)
            .where(BirthDateFailureRow.account_id == account_id, BirthDateFailureRow.attempted_at >= since)
        )
        or 0
    )


def _vectors(raw: str) -> tuple[str, ...]:
    try:
        values = json.loads(raw or "[]")
    except ValueError:
        return ()
    return tuple(v for v in values if isinstance(v, str)) if isinstance(values, list) else ()


def _upsert(db: Session, row: Any, model: Any, values: dict[str, Any], now: dt.datetime) -> ImportCounts:
    if row is None:
        db.add(model(**values, updated_at=now))
        return ImportCounts(created=1)
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if not changed:
        return ImportCounts(unchanged=1)
    for key, value in changed.items():
        setattr(row, key, value)
    row.updated_at = now
    return ImportCounts(updated=1)
