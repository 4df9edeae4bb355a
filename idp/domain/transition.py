"""Parcours de transition (DESIGN §2 B): from one ATEN login to an ÉduConnect account.

The account and its link to the ATEN identity (issuer + persistent NameID, unique) are created in
one transaction by the repository; a parallel confirmation for the same ATEN identity ends with
the account the first one created (never a second account), and a parallel creation of the same
identifier base for another parent takes the next number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from idp.domain.accounts import Account
from idp.domain.errors import AlreadyLinked, IdentifierTaken, InvalidPassword
from idp.domain.identifier_generation import identifier_base, lowest_free_number
from idp.domain.password_policy import check_password
from idp.domain.passwords import hash_password

MAX_IDENTIFIER_ATTEMPTS = 50


@dataclass(frozen=True)
class UpstreamIdentity:
    """A parent as ATEN vouched for them in a verified assertion."""

    issuer: str
    subject: str  # ATEN's persistent NameID
    given_name: str
    family_name: str
    mail: str | None = None
    vectors: tuple[str, ...] = ()  # FrEduVecteur values: type|NOM|Prénom|childId|UAI


class TransitionRepository(Protocol):
    def account_for_upstream(self, issuer: str, subject: str) -> Account | None: ...

    def identifiers_with_base(self, base: str) -> list[str]: ...

    def create_linked_account(self, account: Account, identity: UpstreamIdentity) -> None:
        """Insert account + link atomically; raise IdentifierTaken or AlreadyLinked on conflict."""
        ...

    def by_id(self, account_id: str) -> Account | None: ...


@dataclass(frozen=True)
class CreatedAccount:
    account: Account
    was_created: bool  # False: a parallel request (or an earlier transition) created it


class TransitionService:
    def __init__(self, accounts: TransitionRepository, new_id: IdFactory) -> None:
        self.accounts, self.new_id = accounts, new_id

    def existing_account(self, identity: UpstreamIdentity) -> Account | None:
        return self.accounts.account_for_upstream(identity.issuer, identity.subject)

    def proposed_identifier(self, identity: UpstreamIdentity) -> str:
        base = identifier_base(identity.given_name, identity.family_name)
        return f"{base}{lowest_free_number(base, self.accounts.identifiers_with_base(base))}"

    def create_account(
        self,
        identity: UpstreamIdentity,
        password: str,
        confirmation: str,
        proposed_identifier: str,
        now: dt.datetime,
    ) -> CreatedAccount:
        check = check_password(password, confirmation, proposed_identifier)
        if not check.is_valid:
            raise InvalidPassword(check)
        existing = self.existing_account(identity)
        if existing is not None:
            return CreatedAccount(existing, was_created=False)
        password_hash = hash_password(password)
        identifier = proposed_identifier
        for _ in range(MAX_IDENTIFIER_ATTEMPTS):
            account = Account(
                id=self.new_id(),
                identifier=identifier,
                password_hash=password_hash,
                given_name=identity.given_name,
                family_name=identity.family_name,
                created_at=now,
                password_changed_at=now,
            )
            try:
                self.accounts.create_linked_account(account, identity)
                return CreatedAccount(account, was_created=True)
            except AlreadyLinked as linked:
                winner = self.accounts.by_id(linked.account_id)
                if winner is None:  # pragma: no cover - the link's FK makes this impossible
                    raise
                return CreatedAccount(winner, was_created=False)
            except IdentifierTaken:
                identifier = self.proposed_identifier(identity)
        raise IdentifierTaken(proposed_identifier)


class IdFactory(Protocol):
    def __call__(self) -> str: ...
