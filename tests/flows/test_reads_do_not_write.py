"""What each IdP request asks of the database: the child links are synchronised once, at sign-in;
the pages after it and the SSO of a signed-in parent only read (STYLE « Queries do not write »).

The statements are those the IdP's engine sends during one request (SQLAlchemy's
``before_cursor_execute``), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.browser import Browser, page_text
from tests.flows.children_steps import CHILDREN_PATH, dates_of, parent_with_children, to_ent
from tests.flows.saml_steps import sign_in
from tests.registry_helpers import Child, new_establishment

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def browser(stack):
    return Browser(stack.apps())


@pytest.fixture
def family(stack):
    school = new_establishment(1)
    children = [Child("Léa", dt.date(2017, 3, 14), school), Child("Tom", dt.date(2015, 6, 1), school)]
    return parent_with_children(stack.idp, children)


@contextmanager
def statements_of(stack) -> Iterator[list[str]]:
    """The SQL the IdP runs meanwhile (transaction control excluded)."""
    engine = stack.idp.extensions["idp"].accounts._sessions.kw["bind"]
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.upper().startswith(WRITES)]


def synchronisation(statements: list[str]) -> list[str]:
    """What synchronising the links reads: ATEN's identities and vectors, the registry's parents."""
    return [s for s in statements if "upstream_links" in s or "legal_representatives" in s]


def reads_of_the_links_page(statements: list[str]) -> list[str]:
    """The read of every link of the account with its establishment (``links_of``)."""
    return [s for s in statements if "FROM child_links JOIN students" in s and "establishments" in s]


def test_the_login_creates_the_child_links_and_the_children_page_only_reads(browser, stack, family):
    with statements_of(stack) as at_login:
        response = sign_in(browser, family.account.identifier)
    assert response.headers["Location"] == CHILDREN_PATH
    assert [s for s in writes(at_login) if "child_links" in s] != []  # synchronised here, once
    assert synchronisation(at_login) != []
    with statements_of(stack) as on_page:
        page = browser.get("https://idp.test" + CHILDREN_PATH)
    assert page.status_code == 200 and "Ajout d'élèves" in page_text(page)
    assert writes(on_page) == [] and synchronisation(on_page) == []
    assert len(reads_of_the_links_page(on_page)) == 1


def test_the_children_form_reads_the_links_once_after_the_attempts(browser, stack, family):
    page = browser.follow(sign_in(browser, family.account.identifier))
    with statements_of(stack) as on_post:
        partial = browser.submit(page, form_id="ajout-eleves", **dates_of(family.child("Léa")))
    assert partial.status_code == 200 and "Rattachement confirmé : Léa." in page_text(partial)
    reads = reads_of_the_links_page(on_post)
    assert len(reads) == 1
    last_write = max(i for i, s in enumerate(on_post) if s.upper().startswith(WRITES))
    assert on_post.index(reads[0]) > last_write  # the page shows what the attempt left
    assert synchronisation(on_post) == []


def test_the_sso_of_a_signed_in_parent_is_one_read(browser, stack, family):
    page = browser.follow(sign_in(browser, family.account.identifier))
    to_ent(browser, browser.submit(page, form_id="ajout-eleves", **dates_of(*family.children)))
    with statements_of(stack) as on_sso:
        again = browser.follow(browser.get("https://ent.test/connexion/educonnect"))
    assert again.request.path == "/saml/sso" and 'name="SAMLResponse"' in again.get_data(as_text=True)
    assert len(on_sso) == 1 and on_sso[0].upper().startswith("SELECT")  # the subject exists: no write


def test_the_first_answer_to_an_ent_creates_its_subject(browser, stack, family):
    page = browser.follow(sign_in(browser, family.account.identifier))
    with statements_of(stack) as on_answer:
        to_ent(browser, browser.submit(page, form_id="plus-tard"))
    assert [s for s in writes(on_answer) if s.startswith("INSERT INTO pairwise_subjects")] != []
