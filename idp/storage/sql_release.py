"""What an answer to an ENT is made of, read in one database round: the account, its pairwise
subject for that ENT and its confirmed children (DESIGN §4).

An SSO for a parent who already has an IdP session runs this on every request, so it is one pool
checkout in autocommit (no BEGIN / ROLLBACK round trips) and two statements: the account joined
with its subject, then the children.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, select

from idp.domain.accounts import Account
from idp.domain.release import ReleasedChild
from idp.storage.models import AccountRow, PairwiseSubjectRow
from idp.storage.sql_accounts import SqlAccountRepository
from idp.storage.sql_registry import confirmed_children_query, released_children_from

_ACCOUNT_COLUMNS = tuple(AccountRow.__table__.columns)


@dataclass(frozen=True)
class Release:
    account: Account
    subject: str  # persistent pairwise NameID / ``sub`` for this audience
    children: list[ReleasedChild]  # confirmed only


class SqlReleaseReader:
    def __init__(self, engine: Engine, accounts: SqlAccountRepository) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._accounts = accounts

    def for_audience(self, account_id: str, audience: str) -> Release | None:
        """None when the account no longer exists; the subject is created on the first answer."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(*_ACCOUNT_COLUMNS, PairwiseSubjectRow.subject)
                .outerjoin(
                    PairwiseSubjectRow,
                    and_(
                        PairwiseSubjectRow.account_id == AccountRow.id,
                        PairwiseSubjectRow.audience == audience,
                    ),
                )
                .where(AccountRow.id == account_id)
            ).first()
            if row is None:
                return None
            children = released_children_from(conn.execute(confirmed_children_query(account_id)))
        values = row._asdict()
        subject = values.pop("subject") or self._accounts.pairwise_subject(account_id, audience)
        return Release(Account(**values), subject, children)
