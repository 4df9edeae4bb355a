"""Tables of the self-service (migration 0005_self_service): confirmed e-mail addresses and the
single-use links sent by e-mail (issue 18)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from federation.database import Base


class AccountEmailRow(Base):
    """The one confirmed address of an account; an address not yet confirmed lives only in the
    link sent to it (:class:`SelfServiceTokenRow`), so recovery can never use it."""

    __tablename__ = "account_emails"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(254), index=True)  # lowercase
    confirmed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SelfServiceTokenRow(Base):
    """A link sent by e-mail: only the SHA-256 of its random token is kept; bound to one account
    and one purpose, used once (``used_at``), dead after ``expires_at``."""

    __tablename__ = "self_service_tokens"
    __table_args__ = (Index("ix_self_service_tokens_account_purpose", "account_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(254), nullable=True)  # the address to confirm
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
