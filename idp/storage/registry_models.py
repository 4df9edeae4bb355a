"""Tables of the school registry and of the child links (migration 0003_school_registry)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from federation.database import Base
from idp.storage.models import utcnow


class EstablishmentRow(Base):
    __tablename__ = "establishments"
    __table_args__ = (CheckConstraint("degree IN (1, 2)", name="ck_establishments_degree"),)

    uai: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    commune: Mapped[str] = mapped_column(String(100))
    degree: Mapped[int] = mapped_column(SmallInteger)
    ent_url: Mapped[str] = mapped_column(String(1024))
    contact: Mapped[str] = mapped_column(String(255), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StudentRow(Base):
    __tablename__ = "students"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    family_name: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    uai: Mapped[str] = mapped_column(ForeignKey("establishments.uai"), index=True)
    level: Mapped[str] = mapped_column(String(20), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LegalRepresentativeRow(Base):
    __tablename__ = "legal_representatives"
    __table_args__ = (
        UniqueConstraint("student_id", "rank", name="uq_legal_representatives_student_rank"),
        CheckConstraint("rank IN (1, 2)", name="ck_legal_representatives_rank"),
        Index("ix_legal_representatives_aten", "aten_issuer", "aten_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(SmallInteger)
    family_name: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(100))
    aten_issuer: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    aten_subject: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # FrEduCtRefId (migration 0004): the académie code and the person's id in its directory.
    academie: Mapped[str | None] = mapped_column(String(2), nullable=True)
    aaf_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChildLinkRow(Base):
    """Account ↔ student (DESIGN §3). The check constraint is the last guard of the per-child bound."""

    __tablename__ = "child_links"
    __table_args__ = (
        UniqueConstraint("account_id", "student_id", name="uq_child_links_account_student"),
        CheckConstraint("failed_attempts >= 0 AND failed_attempts <= 3", name="ck_child_links_attempts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    blocked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # « Je ne suis pas le représentant légal de cet élève » (migration 0005): the link is over,
    # kept so that the next sign-in does not propose it again; the school settles it.
    reported_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class BirthDateFailureRow(Base):
    """One wrong birth date of an account: the per-account 24-hour window counts these rows.

    ``student_id`` is what was submitted, possibly not a student of this parent (or of anyone):
    no foreign key.
    """

    __tablename__ = "birth_date_failures"
    __table_args__ = (Index("ix_birth_date_failures_account_at", "account_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    student_id: Mapped[str] = mapped_column(String(32))
    attempted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RegistryAuditRow(Base):
    """Audit trail: imports, confirmations, blocks, unblocks. Kept when an account goes (no FK)."""

    __tablename__ = "registry_audit"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    student_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    # Where a parent's own change came from (migration 0005; None for staff and imports).
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
