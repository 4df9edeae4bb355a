"""AccountRepository, TransitionRepository and PairwiseSubjects on SQLAlchemy."""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from federation.database import ConnectionScope, ReadSessions, no_connection_scope
from idp.domain.accounts import Account
from idp.domain.errors import AlreadyLinked, IdentifierTaken
from idp.domain.transition import UpstreamIdentity
from idp.storage.models import AccountRow, PairwiseSubjectRow, UpstreamLinkRow, utcnow

# Read at every login: built once, run as a Core statement.
_BY_IDENTIFIER = select(*AccountRow.__table__.columns).where(AccountRow.identifier == bindparam("identifier"))


def new_account_id() -> str:
    return secrets.token_hex(16)


def _to_account(row: AccountRow) -> Account:
    return Account(
        id=row.id,
        identifier=row.identifier,
        password_hash=row.password_hash,
        given_name=row.given_name,
        family_name=row.family_name,
        profile=row.profile,
        status=row.status,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
    )


class SqlTransitionMixin:
    """Accounts created from an ATEN identity, and their links (TransitionRepository)."""

    _sessions: sessionmaker[Session]
    _reads: ReadSessions

    def account_for_upstream(self, issuer: str, subject: str) -> Account | None:
        with self._reads() as db:
            row = db.scalar(
                select(AccountRow)
                .join(UpstreamLinkRow, UpstreamLinkRow.account_id == AccountRow.id)
                .where(UpstreamLinkRow.issuer == issuer, UpstreamLinkRow.subject == subject)
            )
            return _to_account(row) if row else None

    def identifiers_with_base(self, base: str) -> list[str]:
        # The base is [a-z0-9.] only (identifier_generation): no LIKE metacharacter to escape.
        with self._reads() as db:
            return list(
                db.scalars(select(AccountRow.identifier).where(AccountRow.identifier.like(f"{base}%")))
            )

    def create_linked_account(self, account: Account, identity: UpstreamIdentity) -> None:
        """Account and link in one transaction; the unique indexes settle every race."""
        try:
            with self._sessions.begin() as db:
                db.add(AccountRow(**_row_values(account)))
                db.flush()
                db.add(
                    UpstreamLinkRow(
                        issuer=identity.issuer,
                        subject=identity.subject,
                        account_id=account.id,
                        vectors=json.dumps(list(identity.vectors)),
                    )
                )
        except IntegrityError as exc:
            winner = self.account_for_upstream(identity.issuer, identity.subject)
            if winner is not None:
                raise AlreadyLinked(winner.id) from exc
            raise IdentifierTaken(account.identifier) from exc


class SqlAccountRepository(SqlTransitionMixin):
    def __init__(self, sessions: sessionmaker[Session], scope: ConnectionScope = no_connection_scope) -> None:
        self._sessions = sessions
        self._reads = ReadSessions(sessions, scope)

    def by_identifier(self, identifier: str) -> Account | None:
        with self._reads.connection() as conn:
            row = conn.execute(_BY_IDENTIFIER, {"identifier": identifier}).first()
        return Account(**row._mapping) if row else None

    def by_id(self, account_id: str) -> Account | None:
        with self._reads() as db:
            row = db.get(AccountRow, account_id)
            return _to_account(row) if row else None

    def replace_password_hash(self, account_id: str, password_hash: str) -> None:
        with self._sessions.begin() as db:
            db.execute(
                update(AccountRow).where(AccountRow.id == account_id).values(password_hash=password_hash)
            )

    def add(self, account: Account) -> None:
        with self._sessions.begin() as db:
            db.add(AccountRow(**_row_values(account)))

    def ensure_pairwise_subject(self, account_id: str, audience: str) -> str:
        """Get or create; two workers racing on the first answer both end with the stored value."""
        for _ in range(3):
            with self._reads() as db:
                existing = db.scalar(
                    select(PairwiseSubjectRow.subject).where(
                        PairwiseSubjectRow.account_id == account_id, PairwiseSubjectRow.audience == audience
                    )
                )
                if existing:
                    return existing
            try:
                with self._sessions.begin() as db:
                    subject = secrets.token_hex(20)
                    db.add(PairwiseSubjectRow(subject=subject, account_id=account_id, audience=audience))
                return subject
            except IntegrityError:
                continue
        raise RuntimeError("pairwise subject: concurrent creation did not settle")


def _row_values(account: Account) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": account.id,
        "identifier": account.identifier,
        "password_hash": account.password_hash,
        "given_name": account.given_name,
        "family_name": account.family_name,
        "profile": account.profile,
        "status": account.status,
        "created_at": account.created_at or now,
        "password_changed_at": account.password_changed_at or now,
    }
