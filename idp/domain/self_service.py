"""Parents help themselves by e-mail (DESIGN §2 F, issue 18): « Identifiant ou mot de passe
oublié ? », the confirmed address of an account, the password changed in « Mon compte ».

Rules (issue 18 item 5):

- a link's token is random (256 bits), kept only as its SHA-256, bound to one account and one
  purpose, used once, dead after its validity (30 minutes for a new password);
- showing the page of a link only reads (:meth:`SelfService.token_for`); choosing the password
  or confirming the address consumes it in the same transaction as the change;
- a recovery request is answered the same way whether or not an account matches: a typed
  address always gets one message (the identifiers and links, or « aucun compte »), a typed
  identifier without a confirmed address reaches the relay all the same (:meth:`Mailer.probe`),
  and every branch does one read and one write transaction;
- requests are counted per client address before any lookup (over it: « Trop de demandes »),
  and per receiving address (over it: the same answer, nothing sent);
- a relay that is down: :class:`MailUnavailable`, nothing written (a recovery's links are
  written once the relay took the message; a confirmation's « Ce n'est pas moi » link is
  withdrawn), the budget given back;
- only a confirmed address is ever used for recovery; every change is audited with its client
  address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from federation.login_throttle import Counter
from idp.domain.accounts import Account, AccountRepository
from idp.domain.errors import (
    AddressInvalid,
    AddressRefused,
    ChildNotConfirmed,
    InvalidPassword,
    LinkInvalid,
    MailUnavailable,
    TooManyRequests,
    WrongCurrentPassword,
)
from idp.domain.password_policy import check_password
from idp.domain.passwords import MAX_PASSWORD_LENGTH, hash_password, verify_password

PURPOSE_PASSWORD = "mot_de_passe"  # noqa: S105 - a purpose name
PURPOSE_ADDRESS = "courriel"
PURPOSE_ADDRESS_UNDO = "courriel_annule"  # « Ce n'est pas moi », sent to the replaced address
PASSWORD_LINK_VALIDITY = dt.timedelta(minutes=30)
ADDRESS_LINK_VALIDITY = dt.timedelta(hours=24)
# Long enough for a parent who reads their mail once a week to notice the change.
ADDRESS_UNDO_VALIDITY = dt.timedelta(days=7)
TOKEN_BYTES = 32
MAX_ADDRESS_LENGTH = 254
MAX_TYPED_LENGTH = 254

# Recovery requests per hour: per receiving address (or unknown identifier), per client address; address
# changes per account; wrong current passwords per account.
RECOVERY_PREFIX = "recovery"
WINDOW_SECONDS = 3600
PER_TYPED_VALUE = 3
PER_CLIENT_ADDRESS = 20
ADDRESS_CHANGES_PER_ACCOUNT = 5
CURRENT_PASSWORD_ATTEMPTS = 5

# Deliberately simple (RFC 5321 is far wider): one @, a dot in the domain, no space or control.
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_ADDRESS = re.compile(rf"[^@\s\x00-\x1f\"<>()\[\],;:\\]{{1,64}}@{_LABEL}(?:\.{_LABEL})+")

# Audit actions (registry_audit.action, 32 characters at most).
AUDIT_RECOVERY_SENT = "recuperation_envoyee"
AUDIT_RECOVERY_NO_ACCOUNT = "recuperation_sans_compte"
AUDIT_PASSWORD_RESET = "mot_de_passe_reinitialise"  # noqa: S105 - an audit action name
AUDIT_PASSWORD_CHANGED = "mot_de_passe_modifie"  # noqa: S105
AUDIT_ADDRESS_PROPOSED = "courriel_propose"
AUDIT_ADDRESS_CONFIRMED = "courriel_confirme"
AUDIT_ADDRESS_RESTORED = "courriel_retabli"
AUDIT_OLD_ADDRESS_REFUSED = "courriel_ancien_refuse"
AUDIT_CHILD_REPORTED = "signalement_representant"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalised_address(typed: str) -> str:
    """The address as stored and compared: trimmed, lowercase (providers ignore the case)."""
    return typed.strip().lower()


def checked_address(typed: str) -> str:
    address = normalised_address(typed)
    if len(address) > MAX_ADDRESS_LENGTH or not _ADDRESS.fullmatch(address):
        raise AddressInvalid(typed[:MAX_ADDRESS_LENGTH])
    return address


@dataclass(frozen=True)
class IssuedLink:
    """A link's row as read back: whose, what for, and the address it confirms."""

    account_id: str
    purpose: str
    address: str | None
    expires_at: dt.datetime


@dataclass(frozen=True)
class AuditRecord:
    action: str
    account_id: str
    actor: str  # the account's identifier for a parent's own change
    client_address: str
    detail: str
    at: dt.datetime
    student_id: str | None = None


@dataclass(frozen=True)
class RecoveryLink:
    account: Account
    token: str


class SelfServiceRepository(Protocol):
    def confirmed_address(self, account_id: str) -> str | None: ...

    def accounts_with_confirmed_address(self, address: str) -> list[Account]: ...

    def add_link(
        self,
        digest: str,
        account_id: str,
        purpose: str,
        address: str | None,
        now: dt.datetime,
        expires: dt.datetime,
    ) -> None: ...

    def withdraw_links(self, digests: Sequence[str]) -> None:
        """Links whose message was never delivered."""
        ...

    def record_recovery(
        self,
        links: Sequence[tuple[str, str]],
        now: dt.datetime,
        expires: dt.datetime,
        audits: Sequence[AuditRecord],
    ) -> None:
        """The (digest, account id) password links of a recovery message just handed to the relay
        (none for a value without an account) and its audit records, in one transaction."""
        ...

    def live_link(self, digest: str, purpose: str, now: dt.datetime) -> IssuedLink | None:
        """The link if unused, unexpired and of this purpose (reads only)."""
        ...

    def pending_address(self, account_id: str, now: dt.datetime) -> str | None:
        """The newest address still awaiting its confirmation (shown, never used)."""
        ...

    def reset_password(
        self, digest: str | None, account_id: str, password_hash: str, now: dt.datetime, audit: AuditRecord
    ) -> None:
        """Consume the link (when given) and set the password, audited, in one transaction;
        :class:`LinkInvalid` when the link was used or expired meanwhile."""
        ...

    def confirm_address(self, digest: str, now: dt.datetime, audit: AuditRecord) -> IssuedLink:
        """Consume the link and make its address the account's confirmed one, audited."""
        ...

    def restore_address(self, digest: str, now: dt.datetime, audit: AuditRecord) -> IssuedLink:
        """Consume a « Ce n'est pas moi » link: its address is the account's confirmed one again,
        and every other unused link of the account is spent, audited, in one transaction."""
        ...

    def audit(self, record: AuditRecord) -> None: ...

    def report_child_link(
        self, account_id: str, student_id: str, now: dt.datetime, audit: AuditRecord
    ) -> bool:
        """End a confirmed link at once (kept as reported, so no sign-in proposes it again),
        audited; False when there is no such confirmed link."""
        ...


class Mailer(Protocol):
    """The French messages (``idp.self_service_mail``); each raises :class:`MailUnavailable`."""

    def recovery(self, address: str, links: Sequence[RecoveryLink]) -> None: ...

    def no_account(self, address: str) -> None: ...

    def probe(self) -> None: ...

    def confirm_address(self, address: str, account: Account, token: str) -> None: ...

    def address_changed(
        self, old_address: str, account: Account, new_address: str, undo_token: str
    ) -> None: ...


@dataclass
class SelfService:
    accounts: AccountRepository
    repository: SelfServiceRepository
    mailer: Mailer
    counter: Counter
    make_token: Callable[[], str] = new_token

    # --- « Identifiant ou mot de passe oublié ? » ------------------------------------------------

    def request_recovery(self, typed: str, client_address: str, now: dt.datetime) -> None:
        """Send what an address or identifier is owed; the same outcome for a match or not.

        A value with an ``@`` must be one address that :func:`checked_address` accepts (every
        stored address does, so a refusal tells nothing about accounts): never a list, a display
        name or a header. The client address's budget is spent before any lookup (over it:
        :class:`TooManyRequests`); the receiving address's (the identifier's, when it has none)
        after, and over it nothing is sent but the answer is the same."""
        value = normalised_address(typed)[:MAX_TYPED_LENGTH]
        if not value:
            raise AddressInvalid("")
        if "@" in value:
            value = checked_address(value)
        spent = self._spend((f"{RECOVERY_PREFIX}-address:{client_address}", PER_CLIENT_ADDRESS))
        try:
            if "@" in value:
                accounts = [a for a in self.repository.accounts_with_confirmed_address(value) if a.is_active]
                if not self._within_budget(value, spent):
                    return
                if accounts:
                    self._send_recovery(value, accounts, client_address, now)
                else:
                    self.mailer.no_account(value)
                    self._record_no_account(client_address, now)
                return
            account = self.accounts.by_identifier(value)
            active = account if account is not None and account.is_active else None
            # Read for an unknown identifier too: the same queries either way.
            address = self.repository.confirmed_address(active.id if active else "")
            if not self._within_budget(address or value, spent):
                return
            if active is not None and address is not None:
                self._send_recovery(address, [active], client_address, now)
            else:
                self.mailer.probe()  # as much of a send as can be done without a recipient
                self._record_no_account(client_address, now)
        except MailUnavailable:
            for key in spent:
                self.counter.release(key, WINDOW_SECONDS)
            raise

    def _record_no_account(self, client_address: str, now: dt.datetime) -> None:
        """The one write of a request that matched nothing, as a match has one (never the typed
        value: the audit log is no list of addresses people tried)."""
        audit = AuditRecord(AUDIT_RECOVERY_NO_ACCOUNT, "", "", client_address, "", now)
        self.repository.record_recovery([], now, now + PASSWORD_LINK_VALIDITY, [audit])

    def _within_budget(self, recipient: str, spent: list[str]) -> bool:
        """Count one request for the address that receives the mail (or the unknown identifier)."""
        key = f"{RECOVERY_PREFIX}-value:{recipient}"
        spent.append(key)
        return self.counter.hit(key, WINDOW_SECONDS) <= PER_TYPED_VALUE

    def _send_recovery(
        self, address: str, accounts: list[Account], client_address: str, now: dt.datetime
    ) -> None:
        """The message first, then its links and audit records in one transaction: a relay that
        is down leaves nothing written. (A link reaches the database a few milliseconds after
        the relay took its message: no parent opens it sooner.)"""
        links = [RecoveryLink(account, self.make_token()) for account in accounts]
        self.mailer.recovery(address, links)
        audits = [
            AuditRecord(AUDIT_RECOVERY_SENT, account.id, account.identifier, client_address, "", now)
            for account in accounts
        ]
        self.repository.record_recovery(
            [(token_digest(link.token), link.account.id) for link in links],
            now,
            now + PASSWORD_LINK_VALIDITY,
            audits,
        )

    def _spend(self, *budgets: tuple[str, int]) -> list[str]:
        """Count one request on every budget first; over one of them: nothing is looked up."""
        spent = []
        over = False
        for key, limit in budgets:
            spent.append(key)
            over = self.counter.hit(key, WINDOW_SECONDS) > limit or over
        if over:
            wait = max(self.counter.seconds_left(key) for key in spent)
            raise TooManyRequests(retry_after_seconds=wait or WINDOW_SECONDS)
        return spent

    # --- a link opened, then used ---------------------------------------------------------------

    def link_for(self, token: str, purpose: str, now: dt.datetime) -> tuple[IssuedLink, Account]:
        """What the page of a link shows (reads only): :class:`LinkInvalid` for an unknown,
        used, expired or other-purpose token, or an account that is gone or suspended."""
        if not token or len(token) > 128:
            raise LinkInvalid("empty or over-long token")
        link = self.repository.live_link(token_digest(token), purpose, now)
        account = self.accounts.by_id(link.account_id) if link else None
        if link is None or account is None or not account.is_active:
            raise LinkInvalid(purpose)
        return link, account

    def reset_password(
        self, token: str, password: str, confirmation: str, client_address: str, now: dt.datetime
    ) -> Account:
        """The new password of the link's account; the link is spent only when it is accepted."""
        _, account = self.link_for(token, PURPOSE_PASSWORD, now)
        check = check_password(password, confirmation, account.identifier)
        if not check.is_valid:
            raise InvalidPassword(check)
        audit = AuditRecord(AUDIT_PASSWORD_RESET, account.id, account.identifier, client_address, "", now)
        self.repository.reset_password(token_digest(token), account.id, hash_password(password), now, audit)
        return account

    def confirm_address(self, token: str, client_address: str, now: dt.datetime) -> tuple[Account, str]:
        """The address of the link becomes the account's; the previous one is told first, with a
        « Ce n'est pas moi » link that puts it back (a relay that is down leaves everything as it
        was, the link unused; a previous address refused for good is audited and passed over)."""
        link, account = self.link_for(token, PURPOSE_ADDRESS, now)
        new_address = link.address or ""
        old_address = self.repository.confirmed_address(account.id)
        undo: list[str] = []
        if old_address is not None and old_address != new_address:
            undo_token = self.make_token()
            undo.append(token_digest(undo_token))
            self.repository.add_link(
                undo[0], account.id, PURPOSE_ADDRESS_UNDO, old_address, now, now + ADDRESS_UNDO_VALIDITY
            )
            try:
                self.mailer.address_changed(old_address, account, new_address, undo_token)
            except AddressRefused as exc:
                # A mailbox that is gone for good must not keep the account on it forever: the
                # refusal is audited and the change goes on (a relay that is down still blocks).
                self.repository.withdraw_links(undo)
                undo = []
                detail = f"ancienne adresse {old_address} refusée par le relais : {exc}"
                self.repository.audit(
                    AuditRecord(
                        AUDIT_OLD_ADDRESS_REFUSED, account.id, account.identifier, client_address, detail, now
                    )
                )
            except MailUnavailable:
                self.repository.withdraw_links(undo)
                raise
        detail = f"nouvelle adresse : {new_address} ; ancienne adresse : {old_address or 'aucune'}"
        audit = AuditRecord(
            AUDIT_ADDRESS_CONFIRMED, account.id, account.identifier, client_address, detail, now
        )
        try:
            self.repository.confirm_address(token_digest(token), now, audit)
        except LinkInvalid:
            if undo:
                self.repository.withdraw_links(undo)
            raise
        return account, new_address

    def restore_address(self, token: str, client_address: str, now: dt.datetime) -> tuple[Account, str]:
        """« Ce n'est pas moi »: the replaced address is the account's again and every pending link
        is spent; the caller ends every session of the account."""
        link, account = self.link_for(token, PURPOSE_ADDRESS_UNDO, now)
        restored = link.address or ""
        replaced = self.repository.confirmed_address(account.id)
        detail = f"adresse rétablie : {restored} ; adresse retirée : {replaced or 'aucune'}"
        audit = AuditRecord(
            AUDIT_ADDRESS_RESTORED, account.id, account.identifier, client_address, detail, now
        )
        self.repository.restore_address(token_digest(token), now, audit)
        return account, restored

    # --- « Mon compte » ---------------------------------------------------------------------------

    def propose_address(self, account: Account, typed: str, client_address: str, now: dt.datetime) -> str:
        """Send a confirmation link to a new address (ATEN's ``mail`` or one the parent typed)."""
        address = checked_address(typed)
        self._spend((f"{RECOVERY_PREFIX}-change:{account.id}", ADDRESS_CHANGES_PER_ACCOUNT))
        token = self.make_token()
        digest = token_digest(token)
        expires = now + ADDRESS_LINK_VALIDITY
        self.repository.add_link(digest, account.id, PURPOSE_ADDRESS, address, now, expires)
        try:
            self.mailer.confirm_address(address, account, token)
        except MailUnavailable:
            self.repository.withdraw_links([digest])
            self.counter.release(f"{RECOVERY_PREFIX}-change:{account.id}", WINDOW_SECONDS)
            raise
        self.repository.audit(
            AuditRecord(AUDIT_ADDRESS_PROPOSED, account.id, account.identifier, client_address, address, now)
        )
        return address

    def change_address(
        self, account: Account, current: str, typed: str, client_address: str, now: dt.datetime
    ) -> str:
        """« Mon compte »: a new address only with the current password (a session left open must
        not let anyone take the account's recovery over)."""
        address = checked_address(typed)
        self._check_current_password(account, current)
        return self.propose_address(account, address, client_address, now)

    def change_password(
        self,
        account: Account,
        current: str,
        password: str,
        confirmation: str,
        client_address: str,
        now: dt.datetime,
    ) -> None:
        """The current password first (counted: a session left open is no licence to guess)."""
        self._check_current_password(account, current)
        check = check_password(password, confirmation, account.identifier)
        if not check.is_valid:
            raise InvalidPassword(check)
        audit = AuditRecord(AUDIT_PASSWORD_CHANGED, account.id, account.identifier, client_address, "", now)
        self.repository.reset_password(None, account.id, hash_password(password), now, audit)

    def _check_current_password(self, account: Account, current: str) -> None:
        """One brake per account for every form that asks for the current password."""
        key = f"{RECOVERY_PREFIX}-current:{account.id}"
        if self.counter.hit(key, WINDOW_SECONDS) > CURRENT_PASSWORD_ATTEMPTS:
            raise TooManyRequests(retry_after_seconds=self.counter.seconds_left(key) or WINDOW_SECONDS)
        if len(current) > MAX_PASSWORD_LENGTH or not verify_password(account.password_hash, current):
            raise WrongCurrentPassword(account.id)
        self.counter.clear(key)

    def report_not_representative(
        self, account: Account, student_id: str, client_address: str, now: dt.datetime
    ) -> None:
        """« Je ne suis pas le représentant légal de cet élève »: the link ends now, the child is no
        longer released, the school sees the report (``registry reports``)."""
        audit = AuditRecord(
            AUDIT_CHILD_REPORTED,
            account.id,
            account.identifier,
            client_address,
            "le parent déclare ne pas être le représentant légal de cet élève",
            now,
            student_id=student_id,
        )
        if not self.repository.report_child_link(account.id, student_id, now, audit):
            raise ChildNotConfirmed(student_id)
