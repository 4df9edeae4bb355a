"""The self-service's SelfServiceRepository on SQLAlchemy (tables: idp/storage/self_service_models.py).

A link is consumed by one conditional UPDATE (unused, unexpired, this purpose) in the transaction
of the change it allows: two submissions of the same link never both succeed. The same
transaction spends the account's other links the change makes stale (:func:`_spend_others`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from federation.database import ConnectionScope, ReadSessions, no_connection_scope
from idp.domain.accounts import Account
from idp.domain.errors import LinkInvalid
from idp.domain.self_service import (
    PURPOSE_ADDRESS,
    PURPOSE_ADDRESS_UNDO,
    PURPOSE_PASSWORD,
    AuditRecord,
    IssuedLink,
)
from idp.storage.models import AccountRow
from idp.storage.registry_models import ChildLinkRow, RegistryAuditRow, StudentRow
from idp.storage.self_service_models import AccountEmailRow, SelfServiceTokenRow
from idp.storage.sql_accounts import _to_account


def _audit_row(record: AuditRecord) -> RegistryAuditRow:
    return RegistryAuditRow(
        at=record.at,
        action=record.action,
        actor=record.actor[:200],
        account_id=record.account_id or None,  # a request that matched no account
        student_id=record.student_id,
        client_address=record.client_address[:64],
        detail=record.detail,
    )


def _consume(db: Session, digest: str, purpose: str, now: dt.datetime) -> SelfServiceTokenRow:
    consumed = db.execute(
        update(SelfServiceTokenRow)
        .where(
            SelfServiceTokenRow.token_hash == digest,
            SelfServiceTokenRow.purpose == purpose,
            SelfServiceTokenRow.used_at.is_(None),
            SelfServiceTokenRow.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkInvalid(f"{purpose}: used or expired meanwhile")
    row = db.scalar(select(SelfServiceTokenRow).where(SelfServiceTokenRow.token_hash == digest))
    if row is None:
        raise LinkInvalid(purpose)
    return row


def _spend_others(db: Session, account_id: str, purposes: Sequence[str], now: dt.datetime) -> None:
    """Every other unused link of the account for these purposes is used from now on."""
    db.execute(
        update(SelfServiceTokenRow)
        .where(
            SelfServiceTokenRow.account_id == account_id,
            SelfServiceTokenRow.purpose.in_(list(purposes)),
            SelfServiceTokenRow.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def _set_confirmed(db: Session, account_id: str, address: str, now: dt.datetime) -> None:
    existing = db.get(AccountEmailRow, account_id)
    if existing is None:
        db.add(AccountEmailRow(account_id=account_id, address=address, confirmed_at=now))
    else:
        existing.address, existing.confirmed_at = address, now


class SqlSelfServiceRepository:
    def __init__(self, sessions: sessionmaker[Session], scope: ConnectionScope = no_connection_scope) -> None:
        self._sessions = sessions
        self._reads = ReadSessions(sessions, scope)

    def confirmed_address(self, account_id: str) -> str | None:
        with self._reads() as db:
            return db.scalar(select(AccountEmailRow.address).where(AccountEmailRow.account_id == account_id))

    def accounts_with_confirmed_address(self, address: str) -> list[Account]:
        with self._reads() as db:
            rows = db.scalars(
                select(AccountRow)
                .join(AccountEmailRow, AccountEmailRow.account_id == AccountRow.id)
                .where(AccountEmailRow.address == address)
                .order_by(AccountRow.identifier)
            )
            return [_to_account(row) for row in rows]

    def add_link(
        self,
        digest: str,
        account_id: str,
        purpose: str,
        address: str | None,
        now: dt.datetime,
        expires: dt.datetime,
    ) -> None:
        with self._sessions.begin() as db:
            db.add(
                SelfServiceTokenRow(
                    token_hash=digest,
                    account_id=account_id,
                    purpose=purpose,
                    address=address,
                    created_at=now,
                    expires_at=expires,
                )
            )

    def record_recovery(
        self,
        links: Sequence[tuple[str, str]],
        now: dt.datetime,
        expires: dt.datetime,
        audits: Sequence[AuditRecord],
    ) -> None:
        with self._sessions.begin() as db:
            for digest, account_id in links:
                db.add(
                    SelfServiceTokenRow(
                        token_hash=digest,
                        account_id=account_id,
                        purpose=PURPOSE_PASSWORD,
                        address=None,
                        created_at=now,
                        expires_at=expires,
                    )
                )
            db.add_all([_audit_row(record) for record in audits])

    def withdraw_links(self, digests: Sequence[str]) -> None:
        with self._sessions.begin() as db:
            db.execute(delete(SelfServiceTokenRow).where(SelfServiceTokenRow.token_hash.in_(list(digests))))

    def live_link(self, digest: str, purpose: str, now: dt.datetime) -> IssuedLink | None:
        with self._reads() as db:
            row = db.scalar(
                select(SelfServiceTokenRow).where(
                    SelfServiceTokenRow.token_hash == digest,
                    SelfServiceTokenRow.purpose == purpose,
                    SelfServiceTokenRow.used_at.is_(None),
                    SelfServiceTokenRow.expires_at > now,
                )
            )
            return IssuedLink(row.account_id, row.purpose, row.address, row.expires_at) if row else None

    def pending_address(self, account_id: str, now: dt.datetime) -> str | None:
        with self._reads() as db:
            return db.scalar(
                select(SelfServiceTokenRow.address)
                .where(
                    SelfServiceTokenRow.account_id == account_id,
                    SelfServiceTokenRow.purpose == PURPOSE_ADDRESS,
                    SelfServiceTokenRow.used_at.is_(None),
                    SelfServiceTokenRow.expires_at > now,
                )
                .order_by(SelfServiceTokenRow.id.desc())
                .limit(1)
            )

    def reset_password(
        self, digest: str | None, account_id: str, password_hash: str, now: dt.datetime, audit: AuditRecord
    ) -> None:
        with self._sessions.begin() as db:
            if digest is not None:
                row = _consume(db, digest, PURPOSE_PASSWORD, now)
                if row.account_id != account_id:
                    raise LinkInvalid("link of another account")
            # A link mailed before the new password (to an address read by someone else, or to
            # confirm an address someone else typed) no longer counts. « Ce n'est pas moi » links
            # stay: they go to the address that was replaced, so that its owner keeps a way back
            # even when whoever changed the address also changes the password.
            _spend_others(db, account_id, (PURPOSE_PASSWORD, PURPOSE_ADDRESS), now)
            db.execute(
                update(AccountRow)
                .where(AccountRow.id == account_id)
                .values(password_hash=password_hash, password_changed_at=now)
            )
            db.add(_audit_row(audit))

    def confirm_address(self, digest: str, now: dt.datetime, audit: AuditRecord) -> IssuedLink:
        with self._sessions.begin() as db:
            row = _consume(db, digest, PURPOSE_ADDRESS, now)
            _set_confirmed(db, row.account_id, row.address or "", now)
            _spend_others(db, row.account_id, (PURPOSE_ADDRESS,), now)  # an older address's link
            db.add(_audit_row(audit))
            return IssuedLink(row.account_id, row.purpose, row.address, row.expires_at)

    def restore_address(self, digest: str, now: dt.datetime, audit: AuditRecord) -> IssuedLink:
        with self._sessions.begin() as db:
            row = _consume(db, digest, PURPOSE_ADDRESS_UNDO, now)
            _set_confirmed(db, row.account_id, row.address or "", now)
            # Whoever changed the address may hold a newer « Ce n'est pas moi » link, a link to
            # confirm yet another address or a password link sent there: none of them counts now.
            _spend_others(db, row.account_id, (PURPOSE_PASSWORD, PURPOSE_ADDRESS, PURPOSE_ADDRESS_UNDO), now)
            db.add(_audit_row(audit))
            return IssuedLink(row.account_id, row.purpose, row.address, row.expires_at)

    def set_confirmed_address(self, account_id: str, address: str, now: dt.datetime) -> None:
        """Seeding only (the demo's accounts): an address confirmed without a link."""
        with self._sessions.begin() as db:
            db.merge(AccountEmailRow(account_id=account_id, address=address.lower(), confirmed_at=now))

    def audit(self, record: AuditRecord) -> None:
        with self._sessions.begin() as db:
            db.add(_audit_row(record))

    def report_child_link(
        self, account_id: str, student_id: str, now: dt.datetime, audit: AuditRecord
    ) -> bool:
        with self._sessions.begin() as db:
            ended = db.execute(
                update(ChildLinkRow)
                .where(
                    ChildLinkRow.account_id == account_id,
                    ChildLinkRow.student_id == student_id,
                    ChildLinkRow.confirmed_at.is_not(None),
                    ChildLinkRow.reported_at.is_(None),
                )
                .values(confirmed_at=None, reported_at=now)
                .execution_options(synchronize_session=False)
            )
            if ended.rowcount != 1:  # type: ignore[attr-defined]
                return False
            db.add(_audit_row(audit))
            return True

    def reported_links(self, uai: str | None = None) -> list[ReportedLink]:
        """The links parents reported, newest first (``registry reports``), for one school or all."""
        with self._sessions() as db:
            query = (
                select(ChildLinkRow, AccountRow, StudentRow)
                .join(AccountRow, AccountRow.id == ChildLinkRow.account_id)
                .join(StudentRow, StudentRow.id == ChildLinkRow.student_id)
                .where(ChildLinkRow.reported_at.is_not(None))
                .order_by(ChildLinkRow.reported_at.desc())
            )
            if uai:
                query = query.where(StudentRow.uai == uai)
            return [
                ReportedLink(
                    link.reported_at or now_utc(),
                    account.identifier,
                    f"{account.given_name} {account.family_name}",
                    student.id,
                    f"{student.given_name} {student.family_name}",
                    student.uai,
                )
                for link, account, student in db.execute(query).all()
            ]


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ReportedLink:
    reported_at: dt.datetime
    identifier: str
    parent_name: str
    student_id: str
    student_name: str
    uai: str
