"""Fixtures of the integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.migrations import upgrade


@pytest.fixture(params=["postgres", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated IdP database of this test's own, on PostgreSQL (a schema) and on SQLite."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    upgrade(url)
    return url
