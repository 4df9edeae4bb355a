"""The one ReleaseReader of SAML and OIDC answers reads only; the pairwise subject is created by
its own command (PostgreSQL and SQLite)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from idp.domain.child_attachment import ChildAttachment
from idp.domain.parent_release import subject_for
from idp.storage.models import PairwiseSubjectRow
from idp.storage.sql_accounts import SqlAccountRepository
from idp.storage.sql_release import SqlReleaseReader
from tests.registry_helpers import NOW, Child, add_family, new_establishment, registry_for, sessions_for

ENT = "https://ent.test/saml/metadata"


def subjects_of(database_url: str, account_id: str) -> int:
    with sessions_for(database_url)() as db:
        query = select(func.count()).select_from(PairwiseSubjectRow)
        return db.scalar(query.where(PairwiseSubjectRow.account_id == account_id)) or 0


def test_a_first_read_has_no_subject_and_creates_none(database_url):
    family = add_family(database_url, [])
    reader = SqlReleaseReader(sessions_for(database_url))
    release = reader.for_audience(family.account.id, ENT)
    assert release is not None and release.account.id == family.account.id and release.audience == ENT
    assert release.subject is None and release.children == ()
    assert subjects_of(database_url, family.account.id) == 0


def test_the_answer_creates_the_subject_once_and_later_reads_find_it(database_url):
    family = add_family(database_url, [])
    reader = SqlReleaseReader(sessions_for(database_url))
    subjects = SqlAccountRepository(sessions_for(database_url))
    first = reader.for_audience(family.account.id, ENT)
    assert first is not None
    subject = subject_for(first, subjects)
    assert subjects_of(database_url, family.account.id) == 1
    again = reader.for_audience(family.account.id, ENT)
    assert again is not None and again.subject == subject
    assert subject_for(again, subjects) == subject and subjects_of(database_url, family.account.id) == 1
    other = reader.for_audience(family.account.id, "https://other-ent.test/saml/metadata")
    assert other is not None and other.subject is None


def test_only_confirmed_children_are_released_oldest_first(database_url):
    school, college = new_establishment(1), new_establishment(2)
    younger, older = Child("Léa", dt.date(2017, 3, 14), school), Child("Hugo", dt.date(2012, 9, 2), college)
    unconfirmed = Child("Zoé", dt.date(2010, 1, 1), school)
    family = add_family(database_url, [younger, older, unconfirmed])
    children = ChildAttachment(registry_for(database_url))
    children.sync_links(family.account, NOW)
    for child in (younger, older):
        children.submit(family.account.id, child.student_id, child.birth_date, NOW)
    release = SqlReleaseReader(sessions_for(database_url)).for_audience(family.account.id, ENT)
    assert release is not None
    assert [(c.student_id, c.uai, c.degree) for c in release.children] == [
        (older.student_id, college.uai, 2),
        (younger.student_id, school.uai, 1),
    ]


def test_an_unknown_account_reads_none(database_url):
    assert SqlReleaseReader(sessions_for(database_url)).for_audience("0" * 32, ENT) is None
