"""Building school-registry situations in a test database: establishments, pupils, parents, links.

Every id is random, so tests sharing one database (a session's stack) never see each other's
children.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from federation.database import make_engine, make_session_factory
from federation.migrations import upgrade
from federation.vectors import uai_check_letter
from idp.domain.accounts import Account
from idp.domain.school_registry import Establishment, LegalRepresentative, RegistryImport, Student
from idp.storage.models import UpstreamLinkRow
from idp.storage.sql_accounts import SqlAccountRepository, new_account_id
from idp.storage.sql_registry import SqlRegistryRepository
from tests.conftest import POSTGRES_URL

ATEN_ISSUER = "https://aten.test/saml/metadata"
NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


@functools.cache
def sessions_for(database_url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(database_url))


def registry_for(database_url: str) -> SqlRegistryRepository:
    return SqlRegistryRepository(sessions_for(database_url))


def random_uai() -> str:
    digits = f"{secrets.randbelow(10**7):07d}"
    return digits + uai_check_letter(digits)


def random_student_id() -> str:
    return "T" + secrets.token_hex(8)


def new_establishment(degree: int = 1, name: str | None = None, commune: str = "Poitiers") -> Establishment:
    uai = random_uai()
    name = name or ("École élémentaire " if degree == 1 else "Collège ") + f"Test {uai}"
    return Establishment(
        uai, name, commune, degree, f"https://ent.test/etablissement/{uai}", f"Secrétariat {uai}"
    )


@dataclass
class Child:
    given_name: str
    birth_date: dt.date
    establishment: Establishment
    student_id: str = field(default_factory=random_student_id)


@dataclass
class Family:
    account: Account
    aten_subject: str
    children: list[Child]

    def child(self, given_name: str) -> Child:
        return next(c for c in self.children if c.given_name == given_name)


def add_family(
    database_url: str,
    children: list[Child],
    account: Account | None = None,
    given_name: str = "Marie",
    family_name: str = "Durand",
    through: str = "aten_identity",
    extra_vectors: tuple[str, ...] = (),
) -> Family:
    """An account, its ATEN upstream link and the registry rows that make ``children`` theirs.

    ``through="aten_identity"``: the legal representatives carry the link's issuer + NameID;
    ``through="vectors"``: they carry no ATEN identity, only the parent's names, and the link's
    FrEduVecteur values name the children.
    """
    if account is None:
        account = Account(
            id=new_account_id(),
            identifier=f"t.{secrets.token_hex(6)}",
            password_hash="x",
            given_name=given_name,
            family_name=family_name,
        )
        SqlAccountRepository(sessions_for(database_url)).add(account)
    subject = secrets.token_hex(16)
    by_identity = through == "aten_identity"
    registry = RegistryImport(
        establishments=tuple({c.establishment.uai: c.establishment for c in children}.values()),
        students=tuple(
            Student(
                c.student_id,
                account.family_name.upper(),
                c.given_name,
                c.birth_date,
                c.establishment.uai,
                "CM1",
            )
            for c in children
        ),
        representatives=tuple(
            LegalRepresentative(
                c.student_id,
                1,
                account.family_name,
                account.given_name,
                ATEN_ISSUER if by_identity else None,
                subject if by_identity else None,
            )
            for c in children
        ),
    )
    registry_for(database_url).apply(registry, NOW)
    vectors = [
        f"{c.establishment.degree}|{account.family_name.upper()}|{account.given_name}|{c.student_id}|{c.establishment.uai}"
        for c in children
    ]
    add_upstream_link(database_url, account.id, subject, [*vectors, *extra_vectors])
    return Family(account, subject, children)


def add_upstream_link(database_url: str, account_id: str, subject: str, vectors: list[str]) -> None:
    with sessions_for(database_url).begin() as db:
        db.add(
            UpstreamLinkRow(
                issuer=ATEN_ISSUER, subject=subject, account_id=account_id, vectors=json.dumps(vectors)
            )
        )


@contextmanager
def fresh_database(backend_name: str, folder: Path) -> Iterator[str]:
    """A migrated database of its own (SQLite file, or a new PostgreSQL schema dropped after)."""
    if not backend_name.startswith("postgres"):
        url = f"sqlite:///{folder / 'idp.sqlite3'}"
        upgrade(url)
        yield url
        return
    schema = f"t_{secrets.token_hex(6)}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        sessions_for(url).kw["bind"].dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
