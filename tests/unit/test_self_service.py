"""idp.domain.self_service with in-memory fakes: the rules of issue 18 item 5, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest

from idp.domain.accounts import Account
from idp.domain.errors import AddressInvalid, LinkInvalid, MailUnavailable
from idp.domain.passwords import hash_password
from idp.domain.self_service import (
    PER_TYPED_VALUE,
    PURPOSE_ADDRESS,
    PURPOSE_ADDRESS_UNDO,
    PURPOSE_PASSWORD,
    TOKEN_BYTES,
    AuditRecord,
    IssuedLink,
    RecoveryLink,
    SelfService,
    new_token,
    token_digest,
)

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
CLAIRE = Account("a" * 32, "c.martin1", hash_password("Ecole-2026!"), "Claire", "Martin")


@dataclass
class Row:
    account_id: str
    purpose: str
    address: str | None
    expires: dt.datetime
    used: bool = False


@dataclass
class FakeRepository:
    addresses: dict[str, str] = field(default_factory=dict)
    links: dict[str, Row] = field(default_factory=dict)
    audits: list[AuditRecord] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)

    def confirmed_address(self, account_id: str) -> str | None:
        return self.addresses.get(account_id)

    def accounts_with_confirmed_address(self, address: str) -> list[Account]:
        return [CLAIRE] if self.addresses.get(CLAIRE.id) == address else []

    def add_link(self, digest, account_id, purpose, address, now, expires) -> None:
        self.links[digest] = Row(account_id, purpose, address, expires)

    def record_recovery(self, links, now, expires, audits) -> None:
        for digest, account_id in links:
            self.links[digest] = Row(account_id, PURPOSE_PASSWORD, None, expires)
        self.audits.extend(audits)

    def withdraw_links(self, digests: Sequence[str]) -> None:
        for digest in digests:
            self.links.pop(digest, None)

    def live_link(self, digest: str, purpose: str, now: dt.datetime) -> IssuedLink | None:
        row = self.links.get(digest)
        if row is None or row.used or row.purpose != purpose or row.expires <= now:
            return None
        return IssuedLink(row.account_id, row.purpose, row.address, row.expires)

    def pending_address(self, account_id: str, now: dt.datetime) -> str | None:
        return None

    def _consume(self, digest: str, purpose: str, now: dt.datetime) -> Row:
        if self.live_link(digest, purpose, now) is None:
            raise LinkInvalid(purpose)
        row = self.links[digest]
        row.used = True
        return row

    def reset_password(self, digest, account_id, password_hash, now, audit) -> None:
        if digest is not None:
            self._consume(digest, PURPOSE_PASSWORD, now)
        self.passwords[account_id] = password_hash
        self.audits.append(audit)

    def confirm_address(self, digest, now, audit) -> IssuedLink:
        row = self._consume(digest, PURPOSE_ADDRESS, now)
        self.addresses[row.account_id] = row.address or ""
        self.audits.append(audit)
        return IssuedLink(row.account_id, row.purpose, row.address, row.expires)

    def restore_address(self, digest, now, audit) -> IssuedLink:
        row = self._consume(digest, PURPOSE_ADDRESS_UNDO, now)
        self.addresses[row.account_id] = row.address or ""
        for other in self.links.values():
            if other.account_id == row.account_id:
                other.used = True
        self.audits.append(audit)
        return IssuedLink(row.account_id, row.purpose, row.address, row.expires)

    def audit(self, record: AuditRecord) -> None:
        self.audits.append(record)

    def report_child_link(self, account_id, student_id, now, audit) -> bool:
        return False


@dataclass
class FakeMailer:
    sent: list[tuple[str, str]] = field(default_factory=list)  # (kind, address)
    tokens: list[str] = field(default_factory=list)
    is_down: bool = False

    def _deliver(self, kind: str, address: str) -> None:
        if self.is_down:
            raise MailUnavailable("relay down")
        self.sent.append((kind, address))

    def recovery(self, address: str, links: Sequence[RecoveryLink]) -> None:
        self._deliver("recovery", address)
        self.tokens += [link.token for link in links]

    def no_account(self, address: str) -> None:
        self._deliver("no_account", address)

    def probe(self) -> None:
        if self.is_down:
            raise MailUnavailable("relay down")

    def confirm_address(self, address: str, account: Account, token: str) -> None:
        self._deliver("confirm", address)
        self.tokens.append(token)

    def address_changed(self, old_address: str, account: Account, new_address: str, undo_token: str) -> None:
        self._deliver("changed", old_address)
        self.tokens.append(undo_token)


@dataclass
class FakeCounter:
    counts: dict[str, int] = field(default_factory=dict)

    def hit(self, key: str, window_seconds: int) -> int:
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    def release(self, key: str, window_seconds: int) -> None:
        self.counts[key] -= 1

    def seconds_left(self, key: str) -> int:
        return 600

    def clear(self, key: str) -> None:
        self.counts.pop(key, None)


class FakeAccounts:
    def by_identifier(self, identifier: str) -> Account | None:
        return CLAIRE if identifier == CLAIRE.identifier else None

    def by_id(self, account_id: str) -> Account | None:
        return CLAIRE if account_id == CLAIRE.id else None

    def replace_password_hash(self, account_id: str, password_hash: str) -> None:
        raise AssertionError("not used")


def service(**repo: object) -> tuple[SelfService, FakeRepository, FakeMailer, FakeCounter]:
    repository, mailer, counter = FakeRepository(**repo), FakeMailer(), FakeCounter()  # type: ignore[arg-type]
    return SelfService(FakeAccounts(), repository, mailer, counter), repository, mailer, counter


def test_tokens_are_random_256_bits_and_only_their_digest_is_kept():
    assert len({new_token() for _ in range(100)}) == 100 and TOKEN_BYTES * 8 >= 128
    svc, repo, mailer, _ = service(addresses={CLAIRE.id: "claire@example.fr"})
    svc.request_recovery("claire@example.fr", "10.0.0.1", NOW)
    (token,) = mailer.tokens
    assert token not in repo.links and token_digest(token) in repo.links


def test_a_match_and_no_match_cost_one_message_each():
    svc, _, mailer, _ = service(addresses={CLAIRE.id: "claire@example.fr"})
    svc.request_recovery("Claire@Example.fr", "10.0.0.1", NOW)
    svc.request_recovery("personne@example.fr", "10.0.0.1", NOW)
    assert mailer.sent == [("recovery", "claire@example.fr"), ("no_account", "personne@example.fr")]


def test_an_identifier_without_a_confirmed_address_sends_nothing_and_answers_the_same():
    svc, repo, mailer, _ = service()
    svc.request_recovery("c.martin1", "10.0.0.1", NOW)
    svc.request_recovery("x.inconnu1", "10.0.0.1", NOW)
    assert mailer.sent == [] and repo.links == {}


def test_a_relay_down_withdraws_the_links_and_gives_the_budget_back():
    svc, repo, mailer, counter = service(addresses={CLAIRE.id: "claire@example.fr"})
    mailer.is_down = True
    for typed in ("claire@example.fr", "c.martin1", "personne@example.fr", "x.inconnu1"):
        with pytest.raises(MailUnavailable):
            svc.request_recovery(typed, "10.0.0.1", NOW)
    assert repo.links == {} and repo.audits == []
    assert all(count == 0 for count in counter.counts.values())


def test_the_budget_per_receiving_address_sends_nothing_over_it_with_the_same_answer():
    svc, _, mailer, _ = service(addresses={CLAIRE.id: "claire@example.fr"})
    for typed in ["claire@example.fr"] * (PER_TYPED_VALUE - 1) + ["c.martin1"]:
        svc.request_recovery(typed, "10.0.0.1", NOW)
    svc.request_recovery("CLAIRE@example.fr", "10.0.0.2", NOW)  # no TooManyRequests: nothing sent
    svc.request_recovery("C.Martin1", "10.0.0.3", NOW)
    assert len(mailer.sent) == PER_TYPED_VALUE


@pytest.mark.parametrize("typed", ["x0 <claire@example.fr>, v2@b.org", "claire@example.fr\r\nBcc: v2@b.org"])
def test_a_value_with_an_at_sign_must_be_one_valid_address(typed):
    svc, _, mailer, counter = service(addresses={CLAIRE.id: "claire@example.fr"})
    with pytest.raises(AddressInvalid):
        svc.request_recovery(typed, "10.0.0.1", NOW)
    assert mailer.sent == [] and all(count == 0 for count in counter.counts.values())


def recovery_token() -> tuple[SelfService, FakeRepository, str]:
    svc, repo, mailer, _ = service(addresses={CLAIRE.id: "claire@example.fr"})
    svc.request_recovery("claire@example.fr", "10.0.0.1", NOW)
    return svc, repo, mailer.tokens[0]


def test_a_link_is_read_without_being_spent_then_spent_once():
    svc, repo, token = recovery_token()
    for _ in range(3):
        svc.link_for(token, PURPOSE_PASSWORD, NOW)
    svc.reset_password(token, "Vacances-2027!", "Vacances-2027!", "10.0.0.1", NOW)
    assert CLAIRE.id in repo.passwords
    with pytest.raises(LinkInvalid):
        svc.reset_password(token, "Autre-Mot-2027!", "Autre-Mot-2027!", "10.0.0.1", NOW)


def test_an_expired_or_foreign_purpose_link_is_refused():
    svc, repo, token = recovery_token()
    with pytest.raises(LinkInvalid):
        svc.link_for(token, PURPOSE_PASSWORD, NOW + dt.timedelta(minutes=30))
    with pytest.raises(LinkInvalid):
        svc.confirm_address(token, "10.0.0.1", NOW)
    with pytest.raises(LinkInvalid):
        svc.link_for(token + "x", PURPOSE_PASSWORD, NOW)
    assert repo.passwords == {} and repo.addresses == {CLAIRE.id: "claire@example.fr"}


class SuspendedAccounts(FakeAccounts):
    def by_id(self, account_id: str) -> Account | None:
        return replace(CLAIRE, status="suspendu")


def test_a_suspended_account_cannot_use_its_link():
    svc, _, token = recovery_token()
    svc.accounts = SuspendedAccounts()
    with pytest.raises(LinkInvalid):
        svc.link_for(token, PURPOSE_PASSWORD, NOW)


def test_confirming_an_address_tells_the_old_one_first_and_a_relay_down_changes_nothing():
    svc, repo, mailer, _ = service(addresses={CLAIRE.id: "ancienne@example.fr"})
    svc.propose_address(CLAIRE, "Nouvelle@Example.fr", "10.0.0.1", NOW)
    token = mailer.tokens[-1]
    mailer.is_down = True
    with pytest.raises(MailUnavailable):
        svc.confirm_address(token, "10.0.0.1", NOW)
    assert repo.addresses[CLAIRE.id] == "ancienne@example.fr"
    mailer.is_down = False
    svc.confirm_address(token, "10.0.0.1", NOW)
    assert repo.addresses[CLAIRE.id] == "nouvelle@example.fr"
    assert mailer.sent[-1] == ("changed", "ancienne@example.fr")
    assert [a.action for a in repo.audits] == ["courriel_propose", "courriel_confirme"]
    assert all(a.client_address == "10.0.0.1" for a in repo.audits)


def test_a_relay_down_withdraws_the_undo_link_and_a_sent_one_restores_the_old_address():
    svc, repo, mailer, _ = service(addresses={CLAIRE.id: "ancienne@example.fr"})
    svc.propose_address(CLAIRE, "nouvelle@example.fr", "10.0.0.1", NOW)
    token = mailer.tokens[-1]
    mailer.is_down = True
    with pytest.raises(MailUnavailable):
        svc.confirm_address(token, "10.0.0.1", NOW)
    assert [row.purpose for row in repo.links.values()] == [PURPOSE_ADDRESS]  # no undo link left
    mailer.is_down = False
    svc.confirm_address(token, "10.0.0.1", NOW)
    undo = mailer.tokens[-1]
    with pytest.raises(LinkInvalid):
        svc.restore_address(undo, "10.0.0.2", NOW + dt.timedelta(days=7, seconds=1))
    account, restored = svc.restore_address(undo, "10.0.0.2", NOW + dt.timedelta(days=6))
    assert (account.id, restored, repo.addresses[CLAIRE.id]) == (CLAIRE.id, "ancienne@example.fr", restored)
    assert repo.audits[-1].action == "courriel_retabli" and "nouvelle@example.fr" in repo.audits[-1].detail
    with pytest.raises(LinkInvalid):
        svc.restore_address(undo, "10.0.0.2", NOW)


def test_the_address_change_needs_the_current_password():
    from idp.domain.errors import WrongCurrentPassword

    svc, repo, mailer, _ = service()
    with pytest.raises(WrongCurrentPassword):
        svc.change_address(CLAIRE, "Pas-le-bon-1", "nouvelle@example.fr", "10.0.0.1", NOW)
    assert mailer.sent == [] and repo.links == {}
    svc.change_address(CLAIRE, "Ecole-2026!", "nouvelle@example.fr", "10.0.0.1", NOW)
    assert mailer.sent == [("confirm", "nouvelle@example.fr")]


@dataclass
class CountingRepository(FakeRepository):
    """Counts write transactions and reads: what a known and an unknown value must share."""

    writes: int = 0
    reads: int = 0

    def confirmed_address(self, account_id: str) -> str | None:
        self.reads += 1
        return super().confirmed_address(account_id)

    def accounts_with_confirmed_address(self, address: str) -> list[Account]:
        self.reads += 1
        return super().accounts_with_confirmed_address(address)

    def add_link(self, *args) -> None:
        self.writes += 1
        super().add_link(*args)

    def audit(self, record: AuditRecord) -> None:
        self.writes += 1
        super().audit(record)

    def record_recovery(self, *args) -> None:
        self.writes += 1
        super().record_recovery(*args)


@pytest.mark.parametrize("typed", ["c.martin1", "x.inconnu1", "claire@example.fr", "personne@example.fr"])
def test_a_known_and_an_unknown_value_do_the_same_storage_work(typed):
    repo = CountingRepository(addresses={CLAIRE.id: "claire@example.fr"})
    SelfService(FakeAccounts(), repo, FakeMailer(), FakeCounter()).request_recovery(typed, "10.0.0.1", NOW)
    assert (repo.writes, repo.reads) == (1, 1)  # one transaction, one query, match or not
