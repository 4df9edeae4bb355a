"""What is not an outage stays an application error: a 500 « Une erreur est survenue » and an
« unexpected error » log line, for monitoring to see (the outages are tests/integration/
test_database_outage.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from federation.database import is_database_outage, make_engine
from federation.web import create_base_app
from tests.browser import page_text
from tests.conftest import Deployment


@pytest.mark.parametrize(
    "statement",
    ["SELECT * FROM no_such_table", "SELECT 1/0", "SELEC 1"],
)
def test_a_bug_in_a_statement_is_the_generic_error_page(
    deployment: Deployment, postgres_schema_url: str, statement: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_base_app("db-bug", deployment.settings("idp", postgres_schema_url, None), "ÉduConnect")
    engine = make_engine(postgres_schema_url)

    def broken() -> str:
        with engine.connect() as conn:
            return str(conn.execute(text(statement)).scalar())

    app.add_url_rule("/bug", "bug", broken)
    try:
        page = app.test_client().get("/bug")
        assert page.status_code == 500
        assert "Une erreur est survenue" in page_text(page)
        assert "Retry-After" not in page.headers
        assert any(r.getMessage().startswith("unexpected error") for r in caplog.records)
        assert app.test_client().get("/readyz").status_code == 200
    finally:
        engine.dispose()


def test_every_pooled_connection_busy_is_an_outage_and_other_errors_are_not() -> None:
    assert is_database_outage(PoolTimeout("QueuePool limit of size 5 overflow 5 reached"))
    assert not is_database_outage(ValueError("not a database error"))


def test_a_sqlite_error_other_than_a_lost_connection_is_not_an_outage(tmp_path, caplog) -> None:
    from sqlalchemy.exc import DBAPIError

    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with pytest.raises(DBAPIError) as failure, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not is_database_outage(failure.value)
    engine.dispose()
