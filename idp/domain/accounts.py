"""Accounts of ÉduConnect parents (DESIGN §3) and what the domain needs to keep them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

PROFILE_PARENT = "responsable"
STATUS_ACTIVE = "actif"


@dataclass(frozen=True)
class Account:
    id: str  # FrEduCtId: opaque, stable, hex
    identifier: str  # what the parent types, e.g. j.dupont3
    password_hash: str
    given_name: str
    family_name: str
    profile: str = PROFILE_PARENT
    status: str = STATUS_ACTIVE
    created_at: dt.datetime | None = None
    password_changed_at: dt.datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.status == STATUS_ACTIVE


class AccountRepository(Protocol):
    def by_identifier(self, identifier: str) -> Account | None: ...

    def by_id(self, account_id: str) -> Account | None: ...

    def replace_password_hash(self, account_id: str, password_hash: str) -> None: ...
