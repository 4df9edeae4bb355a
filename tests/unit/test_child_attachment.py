"""« Ajout d'élèves » rules with in-memory fakes: which children, the guessing bounds, date input."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from idp.domain.accounts import Account
from idp.domain.child_attachment import (
    ACCOUNT_WINDOW,
    BirthDateInputError,
    ChildAttachment,
    RegistrySlice,
    UpstreamLink,
    linked_student_ids,
    parse_birth_date,
)
from idp.domain.errors import ChildLinkBlocked, TooManyBirthDateAttempts, WrongBirthDate
from idp.domain.release import ReleasedChild
from idp.domain.school_registry import LegalRepresentative
from tests.unit.child_link_fakes import FakeChildLinks, establishment, student

ATEN = "https://aten.test/saml/metadata"
NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
LEA_BIRTH = dt.date(2017, 3, 14)
WRONG = dt.date(2017, 3, 15)
ECOLE, COLLEGE = "0861001W", "0860034V"


def parent(given: str = "Marie", family: str = "Durand", account_id: str = "a1") -> Account:
    return Account(
        id=account_id, identifier="m.durand1", password_hash="x", given_name=given, family_name=family
    )


def rep(
    sid: str, given: str = "Marie", family: str = "Durand", subject: str | None = "aten-marie"
) -> LegalRepresentative:
    return LegalRepresentative(sid, 1, family, given, ATEN if subject else None, subject)


@pytest.fixture
def repo() -> FakeChildLinks:
    fake = FakeChildLinks()
    fake.establishments = {
        ECOLE: establishment(ECOLE, 1),
        COLLEGE: establishment(COLLEGE, 2, "Collège Jean-Moulin"),
    }
    fake.add_student(student("100001", ECOLE, LEA_BIRTH, "Léa"), rep("100001"))
    fake.add_student(student("100002", COLLEGE, dt.date(2014, 9, 2), "Hugo"), rep("100002"))
    fake.add_student(student("100003", COLLEGE, dt.date(2012, 1, 27), "Maël"), rep("100003"))
    fake.add_student(
        student("200001", ECOLE, dt.date(2016, 1, 1), "Zoé"), rep("200001", "Autre", "Parent", "x")
    )
    fake.upstream["a1"] = [UpstreamLink(ATEN, "aten-marie")]
    return fake


@pytest.fixture
def service(repo: FakeChildLinks) -> ChildAttachment:
    return ChildAttachment(repo)


# --- which children -------------------------------------------------------------------------


def test_children_found_through_the_aten_identity_of_a_legal_representative(service):
    service.sync_links(parent(), NOW)
    children = service.status("a1", NOW).to_confirm
    assert [(c.student_id, c.given_name) for c in children] == [
        ("100001", "Léa"),
        ("100002", "Hugo"),
        ("100003", "Maël"),
    ]
    assert children[1].establishment.name == "Collège Jean-Moulin"


def test_children_found_through_vectors_need_a_representative_with_the_parents_names(repo):
    registry = RegistrySlice(
        {s: repo.students[s] for s in ("100001", "100002", "200001")},
        {
            "100001": [rep("100001", "Marie", "DURAND", subject=None)],  # names fold alike
            "100002": [rep("100002", "Paul", "Durand", subject=None)],  # someone else
            "200001": [rep("200001", "Marie", "Durand", subject="another-aten-id")],  # ATEN says not her
        },
    )
    link = UpstreamLink(
        ATEN,
        "aten-marie",
        (
            "1|DURAND|Marie|100001|0861001W",
            "2|DURAND|Marie|100002|0860034V",
            "1|DURAND|Marie|200001|0861001W",
        ),
    )
    assert linked_student_ids(parent(), [link], registry) == ["100001"]


def test_a_vector_with_another_uai_or_an_unknown_child_links_nothing(repo):
    registry = RegistrySlice({"100001": repo.students["100001"]}, {"100001": [rep("100001", subject=None)]})
    link = UpstreamLink(ATEN, "x", ("1|DURAND|Marie|100001|0860034V", "2|BERNARD|Hélène|999999|0790927D"))
    assert linked_student_ids(parent(), [link], registry) == []


@pytest.mark.parametrize(
    "malformed",
    ["3|DURAND|Marie|100001|0861001W", "1||Marie|100001|0861001W", "1|DURAND|Marie|100001|0861001A"],
)
def test_a_vector_the_ent_would_refuse_links_nothing_either(repo, malformed):
    registry = RegistrySlice({"100001": repo.students["100001"]}, {"100001": [rep("100001", subject=None)]})
    assert linked_student_ids(parent(), [UpstreamLink(ATEN, "x", (malformed,))], registry) == []
    well_formed = UpstreamLink(ATEN, "x", ("1|DURAND|Marie|100001|0861001W",))
    assert linked_student_ids(parent(), [well_formed], registry) == ["100001"]


def test_an_account_without_upstream_link_has_no_children(service):
    service.sync_links(parent(account_id="a2"), NOW)
    assert service.status("a2", NOW).to_confirm == []
    assert not service.has_children_to_ask("a2", NOW)


# --- synchronised at sign-in; the reads do not write -----------------------------------------


def test_the_reads_write_nothing(service, repo):
    service.sync_links(parent(), NOW)
    before = (repo.writes, dict(repo.links), list(repo.failures))
    status = service.status("a1", NOW)
    assert [c.student_id for c in status.askable] == ["100001", "100002", "100003"]
    assert status.has_children_to_ask and not status.is_account_exhausted
    assert service.has_children_to_ask("a1", NOW) and not service.is_account_exhausted("a1", NOW)
    assert (repo.writes, dict(repo.links), list(repo.failures)) == before


def test_a_child_the_registry_adds_later_is_linked_at_the_next_sign_in(service, repo):
    service.sync_links(parent(), NOW)
    repo.add_student(student("100004", ECOLE, dt.date(2019, 5, 1), "Jade"), rep("100004"))
    # A read links nothing: the new child waits for the next sign-in.
    assert "100004" not in [c.student_id for c in service.status("a1", NOW).to_confirm]
    service.sync_links(parent(), NOW)
    assert "100004" in [c.student_id for c in service.status("a1", NOW).to_confirm]


def test_the_vectors_of_a_new_aten_login_are_read_by_the_next_sync(service, repo):
    repo.add_student(student("100005", ECOLE, dt.date(2018, 2, 3), "Noé"), rep("100005", subject=None))
    service.sync_links(parent(), NOW)
    assert "100005" not in [c.student_id for c in service.status("a1", NOW).to_confirm]
    service.keep_upstream_vectors(UpstreamLink(ATEN, "aten-marie", ("1|DURAND|Marie|100005|0861001W",)))
    service.sync_links(parent(), NOW)
    assert "100005" in [c.student_id for c in service.status("a1", NOW).to_confirm]


def test_the_status_names_the_confirmed_children_and_keeps_blocked_ones_to_confirm(service, repo):
    service.sync_links(parent(), NOW)
    service.submit("a1", "100002", repo.students["100002"].birth_date, NOW)
    for _ in range(3):
        with pytest.raises((WrongBirthDate, ChildLinkBlocked)):
            service.submit("a1", "100001", WRONG, NOW)
    status = service.status("a1", NOW)
    assert [c.student_id for c in status.to_confirm] == ["100001", "100003"]
    assert [c.student_id for c in status.blocked] == ["100001"]
    assert [c.student_id for c in status.askable] == ["100003"]
    assert status.given_name("100002") == "Hugo" and status.given_name("nobody") is None


# --- the bounds -----------------------------------------------------------------------------


def test_right_date_confirms_and_only_confirmed_children_are_released(service, repo):
    service.sync_links(parent(), NOW)
    service.submit("a1", "100001", LEA_BIRTH, NOW)
    assert repo.confirmed_children("a1") == [ReleasedChild("100001", ECOLE, 1)]
    assert [c.student_id for c in service.status("a1", NOW).to_confirm] == ["100002", "100003"]


def test_success_after_a_failure(service, repo):
    service.sync_links(parent(), NOW)
    with pytest.raises(WrongBirthDate):
        service.submit("a1", "100001", WRONG, NOW)
    service.submit("a1", "100001", LEA_BIRTH, NOW)
    assert repo.links[("a1", "100001")].confirmed_at == NOW
    assert repo.links[("a1", "100001")].failed_attempts == 1


def test_third_wrong_date_blocks_the_child_and_the_fourth_is_refused_even_if_right(service, repo):
    service.sync_links(parent(), NOW)
    for _ in range(2):
        with pytest.raises(WrongBirthDate):
            service.submit("a1", "100001", WRONG, NOW)
    with pytest.raises(ChildLinkBlocked):
        service.submit("a1", "100001", WRONG, NOW)
    with pytest.raises(ChildLinkBlocked):
        service.submit("a1", "100001", LEA_BIRTH, NOW)  # 4th: refused without being checked
    link = repo.links[("a1", "100001")]
    assert (link.failed_attempts, link.blocked_at, link.confirmed_at) == (3, NOW, None)
    assert len(repo.failures) == 3
    assert repo.confirmed_children("a1") == []


def test_a_blocked_child_is_never_asked_again(service, repo):
    service.sync_links(parent(), NOW)
    for sid in ("100002", "100003"):
        service.submit("a1", sid, repo.students[sid].birth_date, NOW)
    for _ in range(3):
        with pytest.raises((WrongBirthDate, ChildLinkBlocked)):
            service.submit("a1", "100001", WRONG, NOW)
    assert not service.has_children_to_ask("a1", NOW)
    assert [c.is_blocked for c in service.status("a1", NOW).to_confirm] == [True]


def test_sixth_wrong_date_across_children_in_24_hours_is_refused_then_allowed_after(service, repo):
    service.sync_links(parent(), NOW)
    minute = dt.timedelta(minutes=1)
    plan = ["100001", "100001", "100001", "100002", "100002"]  # 3 + 2 = 5 wrong dates
    for i, sid in enumerate(plan):
        with pytest.raises((WrongBirthDate, ChildLinkBlocked)):
            service.submit("a1", sid, WRONG, NOW + i * minute)
    assert service.is_account_exhausted("a1", NOW + 5 * minute)
    assert not service.has_children_to_ask("a1", NOW + 5 * minute)
    with pytest.raises(TooManyBirthDateAttempts):  # 6th: refused, even the right date, not counted
        service.submit("a1", "100003", dt.date(2012, 1, 27), NOW + 5 * minute)
    assert len(repo.failures) == 5
    assert repo.links[("a1", "100003")].failed_attempts == 0
    later = NOW + ACCOUNT_WINDOW + dt.timedelta(seconds=1)  # the first failure left the window
    assert not service.is_account_exhausted("a1", later)
    service.submit("a1", "100003", dt.date(2012, 1, 27), later)
    assert [c.student_id for c in repo.confirmed_children("a1")] == ["100003"]


def test_a_child_not_theirs_gets_the_same_answer_and_counts(service, repo):
    service.sync_links(parent(), NOW)
    with pytest.raises(WrongBirthDate) as not_theirs:
        service.submit("a1", "200001", dt.date(2016, 1, 1), NOW)  # right date, other parent's child
    with pytest.raises(WrongBirthDate) as wrong:
        service.submit("a1", "100001", WRONG, NOW)
    assert type(not_theirs.value) is type(wrong.value) and not_theirs.value.code == wrong.value.code
    with pytest.raises(WrongBirthDate):
        service.submit("a1", "nobody", WRONG, NOW)
    assert len(repo.failures) == 3
    assert ("a1", "200001") not in repo.links


def test_a_child_not_theirs_blocks_like_a_real_one_after_three_tries(service):
    for _ in range(2):
        with pytest.raises(WrongBirthDate):
            service.submit("a1", "200001", WRONG, NOW)
    with pytest.raises(ChildLinkBlocked):
        service.submit("a1", "200001", WRONG, NOW)
    with pytest.raises(ChildLinkBlocked):
        service.submit("a1", "200001", WRONG, NOW)


def test_confirming_twice_is_harmless(service, repo):
    service.sync_links(parent(), NOW)
    service.submit("a1", "100001", LEA_BIRTH, NOW)
    service.submit("a1", "100001", WRONG, NOW + dt.timedelta(seconds=1))
    assert repo.links[("a1", "100001")].confirmed_at == NOW
    assert repo.failures == []


def test_concurrent_wrong_dates_never_pass_the_bounds(service, repo):
    service.sync_links(parent(), NOW)
    outcomes: list[str] = []
    barrier = threading.Barrier(20)

    def guess(sid: str) -> None:
        barrier.wait()
        try:
            service.submit("a1", sid, WRONG, NOW)
        except (WrongBirthDate, ChildLinkBlocked, TooManyBirthDateAttempts) as exc:
            outcomes.append(exc.code)

    threads = [
        threading.Thread(target=guess, args=(("100001", "100002", "100003")[i % 3],)) for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 20
    assert len(repo.failures) == 5
    assert sum(link.failed_attempts for link in repo.links.values()) == 5


# --- the date typed on the page -------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "month", "year", "expected"),
    [
        ("14", "3", "2017", dt.date(2017, 3, 14)),
        ("07", "03", "2016", dt.date(2016, 3, 7)),
        (" 1 ", "1", "2000", dt.date(2000, 1, 1)),
    ],
)
def test_birth_date_fields_are_parsed(day, month, year, expected):
    assert parse_birth_date(day, month, year, TODAY) == expected


@pytest.mark.parametrize(
    ("day", "month", "year", "fields", "message"),
    [
        ("", "3", "2017", ("jour",), "Saisissez le jour"),
        ("", "", "", ("jour", "mois", "annee"), "Saisissez le jour"),
        ("32", "3", "2017", ("jour",), "le jour est un nombre de 1 à 31"),
        ("1", "13", "2017", ("mois",), "le mois est un nombre de 1 à 12"),
        ("1", "1", "17", ("annee",), "4 chiffres"),
        ("a", "b", "2017", ("jour", "mois"), "Date incomplète"),
        ("31", "2", "2017", ("jour", "mois", "annee"), "Cette date n'existe pas."),
        ("29", "2", "2023", ("jour", "mois", "annee"), "Cette date n'existe pas."),
        ("1", "1", "2027", ("annee",), "dans le futur"),
        ("1", "1", "1899", ("annee",), "4 chiffres"),
    ],
)
def test_birth_date_input_errors_name_the_fields(day, month, year, fields, message):
    with pytest.raises(BirthDateInputError) as error:
        parse_birth_date(day, month, year, TODAY)
    assert error.value.fields == fields
    assert message in error.value.message


def test_leap_day_is_a_date():
    assert parse_birth_date("29", "2", "2016", TODAY) == dt.date(2016, 2, 29)
