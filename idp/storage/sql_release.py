"""The ReleaseReader on SQLAlchemy: what an answer to an ENT (SAML or OIDC) is made of, read in one
database round trip: the account, its pairwise subject for that audience and its confirmed
children (DESIGN §4).

An SSO for a parent who already has an IdP session runs this on every request, so it is one
statement on the request's read session (autocommit, no BEGIN / ROLLBACK): the account, outer
joined with its subject and with its confirmed children (one row per child, or one row without).
It only reads: a missing subject is created by ``SqlAccountRepository.ensure_pairwise_subject``
when the answer is sent.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, join, select
from sqlalchemy.orm import Session, sessionmaker

from federation.database import ConnectionScope, ReadSessions, no_connection_scope
from idp.domain.accounts import Account
from idp.domain.parent_release import Release
from idp.domain.release import ChildRepresentative, ReleasedChild, academie_references
from idp.domain.school_registry import LegalRepresentative
from idp.storage.models import AccountRow, PairwiseSubjectRow, UpstreamLinkRow
from idp.storage.registry_models import ChildLinkRow, EstablishmentRow, LegalRepresentativeRow, StudentRow

_ACCOUNT_COLUMNS = [column.key for column in AccountRow.__table__.columns]
_Rep = LegalRepresentativeRow
# Each confirmed child with its legal representatives (FrEduCtRefId), each flagged when its ATEN
# identity is one of the account's upstream links.
_CONFIRMED_CHILDREN = (
    join(ChildLinkRow, StudentRow, ChildLinkRow.student_id == StudentRow.id)
    .join(EstablishmentRow, EstablishmentRow.uai == StudentRow.uai)
    .outerjoin(_Rep, _Rep.student_id == StudentRow.id)
    .outerjoin(
        UpstreamLinkRow,
        and_(
            UpstreamLinkRow.account_id == ChildLinkRow.account_id,
            UpstreamLinkRow.issuer == _Rep.aten_issuer,
            UpstreamLinkRow.subject == _Rep.aten_subject,
        ),
    )
)
_REP_COLUMNS = {
    "rep_rank": _Rep.rank,
    "rep_family_name": _Rep.family_name,
    "rep_given_name": _Rep.given_name,
    "rep_aten_issuer": _Rep.aten_issuer,
    "rep_aten_subject": _Rep.aten_subject,
    "rep_academie": _Rep.academie,
    "rep_aaf_id": _Rep.aaf_id,
}
# Built once: constructing a SELECT costs more than running it (SQLAlchemy then caches the SQL).
_RELEASE = (
    select(
        *AccountRow.__table__.columns,
        PairwiseSubjectRow.subject,
        StudentRow.id.label("student_id"),
        StudentRow.uai,
        EstablishmentRow.degree,
        *(column.label(label) for label, column in _REP_COLUMNS.items()),
        UpstreamLinkRow.id.label("upstream_id"),
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
    .order_by(StudentRow.birth_date, StudentRow.id, _Rep.rank)  # FrEduVecteur: oldest child first
)


class SqlReleaseReader:
    def __init__(self, sessions: sessionmaker[Session], scope: ConnectionScope = no_connection_scope) -> None:
        self._reads = ReadSessions(sessions, scope)

    def for_audience(self, account_id: str, audience: str) -> Release | None:
        with self._reads.connection() as conn:
            rows = conn.execute(_RELEASE, {"account_id": account_id, "audience": audience}).all()
        if not rows:
            return None
        first = rows[0]._mapping
        account = Account(**{name: first[name] for name in _ACCOUNT_COLUMNS})
        children = {
            row.student_id: ReleasedChild(row.student_id, row.uai, row.degree)
            for row in rows
            if row.student_id is not None
        }
        candidates = [
            ChildRepresentative(
                LegalRepresentative(
                    row.student_id,
                    row.rep_rank,
                    row.rep_family_name,
                    row.rep_given_name,
                    row.rep_aten_issuer,
                    row.rep_aten_subject,
                    row.rep_academie,
                    row.rep_aaf_id,
                ),
                account_upstream=row.upstream_id is not None,
            )
            for row in rows
            if row.rep_rank is not None
        ]
        references = tuple(academie_references(account, candidates))
        return Release(account, audience, first["subject"], tuple(children.values()), references)
