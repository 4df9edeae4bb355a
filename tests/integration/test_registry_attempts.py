"""The guessing bounds of « Ajout d'élèves » on the real databases (DESIGN §2 C).

Concurrent submissions run in threads, each with its own database session and connection: the
counters must never let more tries through than the bounds, on PostgreSQL as on SQLite.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from educonnect_bridge.cli import main
from idp.domain.child_attachment import ChildAttachment
from idp.domain.errors import ChildLinkBlocked, TooManyBirthDateAttempts, WrongBirthDate
from idp.domain.release import ReleasedChild
from idp.storage.registry_models import BirthDateFailureRow, ChildLinkRow, RegistryAuditRow
from idp.storage.sql_release import SqlReleaseReader
from tests.registry_helpers import (
    NOW,
    Child,
    Family,
    add_family,
    new_establishment,
    registry_for,
    sessions_for,
)

BIRTH = dt.date(2016, 5, 4)
WRONG = dt.date(2016, 5, 5)


@pytest.fixture
def service(database_url: str) -> ChildAttachment:
    return ChildAttachment(registry_for(database_url))


def family_with(database_url: str, service: ChildAttachment, n_children: int) -> Family:
    school = new_establishment(1)
    children = [Child(f"Enfant{i}", BIRTH - dt.timedelta(days=i), school) for i in range(n_children)]
    family = add_family(database_url, children)
    service.sync_links(family.account, NOW)  # what the parent's sign-in does
    assert len(service.status(family.account.id, NOW).to_confirm) == n_children
    return family


def released_children(database_url: str, account_id: str) -> tuple[ReleasedChild, ...]:
    """What SAML and OIDC answers release: confirmed children only."""
    release = SqlReleaseReader(sessions_for(database_url)).for_audience(account_id, "https://ent.test")
    assert release is not None
    return release.children


def link_rows(database_url: str, account_id: str) -> list[ChildLinkRow]:
    with sessions_for(database_url)() as db:
        return list(db.scalars(select(ChildLinkRow).where(ChildLinkRow.account_id == account_id)))


def failures_logged(database_url: str, account_id: str) -> int:
    with sessions_for(database_url)() as db:
        query = select(func.count()).select_from(BirthDateFailureRow)
        return db.scalar(query.where(BirthDateFailureRow.account_id == account_id)) or 0


def submit_concurrently(service: ChildAttachment, account_id: str, student_ids: list[str]) -> Counter[str]:
    barrier = threading.Barrier(len(student_ids))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def guess(student_id: str) -> None:
        barrier.wait()
        try:
            service.submit(account_id, student_id, WRONG, NOW)
            result = "confirmed"
        except (WrongBirthDate, ChildLinkBlocked, TooManyBirthDateAttempts) as exc:
            result = exc.code
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=guess, args=(sid,)) for sid in student_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(outcomes.values()) == len(student_ids), outcomes
    return outcomes


def test_twenty_concurrent_wrong_dates_for_one_child_count_three(database_url, service):
    family = family_with(database_url, service, 1)
    sid = family.children[0].student_id
    outcomes = submit_concurrently(service, family.account.id, [sid] * 20)
    (row,) = link_rows(database_url, family.account.id)
    assert row.failed_attempts == 3 and row.blocked_at is not None and row.confirmed_at is None
    assert failures_logged(database_url, family.account.id) == 3
    assert outcomes["date_naissance_incorrecte"] == 2  # the 3rd counted try answers « bloqué »
    assert outcomes["rattachement_bloque"] == 18


def test_twenty_concurrent_wrong_dates_across_children_count_five(database_url, service):
    family = family_with(database_url, service, 4)
    ids = [family.children[i % 4].student_id for i in range(20)]
    outcomes = submit_concurrently(service, family.account.id, ids)
    assert failures_logged(database_url, family.account.id) == 5
    assert sum(r.failed_attempts for r in link_rows(database_url, family.account.id)) == 5
    assert "confirmed" not in outcomes
    counted_blocks = sum(1 for r in link_rows(database_url, family.account.id) if r.blocked_at is not None)
    assert outcomes["date_naissance_incorrecte"] + counted_blocks == 5
    assert outcomes["trop_de_dates_incorrectes"] + outcomes["rattachement_bloque"] == 15 + counted_blocks


def test_the_fourth_wrong_date_for_one_child_is_refused(database_url, service):
    family = family_with(database_url, service, 1)
    sid = family.children[0].student_id
    for expected in (WrongBirthDate, WrongBirthDate, ChildLinkBlocked):
        with pytest.raises(expected):
            service.submit(family.account.id, sid, WRONG, NOW)
    with pytest.raises(ChildLinkBlocked):
        service.submit(family.account.id, sid, BIRTH, NOW)  # 4th: even the right date
    (row,) = link_rows(database_url, family.account.id)
    assert (row.failed_attempts, row.confirmed_at) == (3, None)
    assert failures_logged(database_url, family.account.id) == 3
    assert released_children(database_url, family.account.id) == ()


def test_the_sixth_wrong_date_across_children_in_24_hours_is_refused(database_url, service):
    family = family_with(database_url, service, 3)
    first, second, third = (c.student_id for c in family.children)
    minute = dt.timedelta(minutes=1)
    for i, sid in enumerate([first, first, first, second, second]):
        with pytest.raises((WrongBirthDate, ChildLinkBlocked)):
            service.submit(family.account.id, sid, WRONG, NOW + i * minute)
    sixth = NOW + dt.timedelta(hours=23)
    with pytest.raises(TooManyBirthDateAttempts):
        service.submit(family.account.id, third, family.children[2].birth_date, sixth)
    assert failures_logged(database_url, family.account.id) == 5
    next_day = NOW + dt.timedelta(hours=24, minutes=1)  # the first wrong date left the window
    service.submit(family.account.id, third, family.children[2].birth_date, next_day)
    assert [c.student_id for c in released_children(database_url, family.account.id)] == [third]


def test_success_after_a_failure_is_confirmed_and_audited(database_url, service):
    family = family_with(database_url, service, 1)
    sid = family.children[0].student_id
    with pytest.raises(WrongBirthDate):
        service.submit(family.account.id, sid, WRONG, NOW)
    service.submit(family.account.id, sid, BIRTH, NOW)
    (row,) = link_rows(database_url, family.account.id)
    assert row.confirmed_at is not None and row.failed_attempts == 1
    (released,) = released_children(database_url, family.account.id)
    assert (released.student_id, released.uai, released.degree) == (
        sid,
        family.children[0].establishment.uai,
        1,
    )
    with sessions_for(database_url)() as db:
        actions = db.scalars(
            select(RegistryAuditRow.action).where(RegistryAuditRow.account_id == family.account.id)
        )
        assert list(actions) == ["confirmation"]


def test_a_child_not_theirs_answers_like_a_wrong_date_and_counts(database_url, service):
    family = family_with(database_url, service, 1)
    other = family_with(database_url, service, 1)
    stranger = other.children[0]
    with pytest.raises(WrongBirthDate):
        service.submit(family.account.id, stranger.student_id, stranger.birth_date, NOW)
    assert failures_logged(database_url, family.account.id) == 1
    assert all(r.student_id != stranger.student_id for r in link_rows(database_url, family.account.id))


def test_school_staff_unblock_a_link_and_it_is_in_the_audit_trail(database_url, service, tmp_path):
    family = family_with(database_url, service, 1)
    sid = family.children[0].student_id
    for _ in range(3):
        with pytest.raises((WrongBirthDate, ChildLinkBlocked)):
            service.submit(family.account.id, sid, WRONG, NOW)
    env = {"DATABASE_URL": database_url, "EDUCONNECT_MODE": "demo", "EDUCONNECT_STATE_DIR": str(tmp_path)}
    runner = CliRunner()
    identifier = family.account.identifier
    links = runner.invoke(main, ["registry", "links", identifier], env=env)
    assert f"{sid}  Enfant0 DURAND" in links.output and "bloqué  (3 erreur(s))" in links.output
    missing_actor = runner.invoke(main, ["registry", "unblock", identifier, sid], env=env)
    assert missing_actor.exit_code == 2 and "--by" in missing_actor.output
    unknown = runner.invoke(main, ["registry", "unblock", "x.nobody1", sid, "--by", "Mme Roux"], env=env)
    assert unknown.exit_code == 1 and "aucun compte ÉduConnect" in unknown.output
    done = runner.invoke(
        main,
        [
            "registry",
            "unblock",
            identifier,
            sid,
            "--by",
            "Mme Roux, secrétariat",
            "--reason",
            "pièce d'identité vue",
        ],
        env=env,
    )
    assert done.exit_code == 0, done.output
    assert "débloqué (3 erreur(s) effacée(s))" in done.output
    (row,) = link_rows(database_url, family.account.id)
    assert (row.failed_attempts, row.blocked_at) == (0, None)
    audit = runner.invoke(main, ["registry", "audit", "--identifier", identifier], env=env)
    lines = audit.output.splitlines()
    assert "deblocage  par Mme Roux, secrétariat" in lines[0] and "pièce d'identité vue" in lines[0]
    assert "blocage  par parent" in lines[1]
    # The account's 24-hour bound still holds after the unblock: 2 more wrong dates, then refused.
    for _ in range(2):
        with pytest.raises(WrongBirthDate):
            service.submit(family.account.id, sid, WRONG, NOW)
    with pytest.raises(TooManyBirthDateAttempts):
        service.submit(family.account.id, sid, WRONG, NOW)
    service.submit(family.account.id, sid, BIRTH, NOW + dt.timedelta(days=2))
