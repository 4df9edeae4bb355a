"""Tables of the IdP. Alembic migrations in idp/migrations must follow every change here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from federation.database import Base


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AccountRow(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    profile: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PairwiseSubjectRow(Base):
    """Persistent pairwise NameID (SAML core §8.3.7) / OIDC pairwise ``sub``: one per account and SP."""

    __tablename__ = "pairwise_subjects"
    __table_args__ = (UniqueConstraint("account_id", "audience", name="uq_pairwise_account_audience"),)

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    audience: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UpstreamLinkRow(Base):
    """An ÉduConnect account's link to its ATEN identity (DESIGN §3): unique per (issuer, NameID)."""

    __tablename__ = "upstream_links"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_upstream_issuer_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(String(1024))
    subject: Mapped[str] = mapped_column(String(256))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # FrEduVecteur values of the last ATEN login, JSON list (the children ATEN knows of).
    vectors: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
