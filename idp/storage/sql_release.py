"""What an answer to an ENT is made of, read in one database round trip: the account, its pairwise
subject for that ENT and its confirmed children (DESIGN §4).

An SSO for a parent who already has an IdP session runs this on every request, so it is one
statement on the request's read session (autocommit, no BEGIN / ROLLBACK): the account, outer
joined with its subject and with its confirmed children (one row per child, or one row without).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, join, select
from sqlalchemy.orm import Session, sessionmaker

from federation.database import ReadSessions
from idp.domain.accounts import Account
from idp.domain.release import ReleasedChild
from idp.storage.models import AccountRow, PairwiseSubjectRow
from idp.storage.registry_models import ChildLinkRow, EstablishmentRow, StudentRow
from idp.storage.sql_accounts import SqlAccountRepository

_ACCOUNT_COLUMNS = [column.key for column in AccountRow.__table__.columns]
_CONFIRMED_CHILDREN = join(ChildLinkRow, StudentRow, ChildLinkRow.student_id == StudentRow.id).join(
    EstablishmentRow, EstablishmentRow.uai == StudentRow.uai
)
# Built once: constructing a SELECT costs more than running it (SQLAlchemy then caches the SQL).
_RELEASE = (
    select(
        *AccountRow.__table__.columns,
        PairwiseSubjectRow.subject,
        StudentRow.id.label("student_id"),
        StudentRow.uai,
        EstablishmentRow.degree,
    )
    .select_from(AccountRow)
    .outerjoin(
        PairwiseSubjectRow,
        and_(
            PairwiseSubjectRow.account_id == AccountRow.id,
            PairwiseSubjectRow.audience == bindparam("audience"),
        ),
    )
    .outerjoin(
        _CONFIRMED_CHILDREN,
        and_(ChildLinkRow.account_id == AccountRow.id, ChildLinkRow.confirmed_at.is_not(None)),
    )
    .where(AccountRow.id == bindparam("account_id"))
    .order_by(StudentRow.birth_date, StudentRow.id)  # FrEduVecteur order: oldest child first
)


@dataclass(frozen=True)
class Release:
    account: Account
    subject: str  # persistent pairwise NameID / ``sub`` for this audience
    children: list[ReleasedChild]  # confirmed only


class SqlReleaseReader:
    def __init__(self, sessions: sessionmaker[Session], accounts: SqlAccountRepository) -> None:
        self._reads = ReadSessions(sessions)
        self._accounts = accounts

    def for_audience(self, account_id: str, audience: str) -> Release | None:
        """None when the account no longer exists; the subject is created on the first answer."""
        with self._reads.connection() as conn:
            rows = conn.execute(_RELEASE, {"account_id": account_id, "audience": audience}).all()
        if not rows:
            return None
        first = rows[0]._mapping
        account = Account(**{name: first[name] for name in _ACCOUNT_COLUMNS})
        children = [
            ReleasedChild(row.student_id, row.uai, row.degree) for row in rows if row.student_id is not None
        ]
        subject = first["subject"] or self._accounts.pairwise_subject(account_id, audience)
        return Release(account, subject, children)
