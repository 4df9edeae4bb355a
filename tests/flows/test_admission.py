"""The services' own admission check (federation/admission.py): behind the proxy, a request whose
X-Request-Start says it waited past its class's budget is refused before any work, with the
French 503 page and Retry-After; the header counts only behind a trusted proxy."""

from __future__ import annotations

import logging
import time

import pytest
from flask import Flask

from federation.admission import parse_request_start
from federation.errors import ConfigurationError
from federation.migrations import upgrade
from federation.settings import build_settings
from tests.browser import page_text

OVERLOADED = "Le service est très demandé. Réessayez dans quelques instants."


def stamp(seconds_ago: float) -> dict[str, str]:
    return {"X-Request-Start": f"t={int((time.time() - seconds_ago) * 1e6)}"}


def idp_app(deployment, tmp_path, **overrides) -> Flask:
    from idp import create_app

    url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    upgrade(url)
    return create_app(deployment.settings("idp", url, None, **overrides))


@pytest.fixture
def idp(deployment, tmp_path) -> Flask:
    """Behind one proxy, with budgets far apart: 1 s for argon2id, 60 s for the rest."""
    return idp_app(
        deployment,
        tmp_path,
        trusted_proxies=1,
        admission={"expensive_budget_ms": 1000, "default_budget_ms": 60000, "retry_after_seconds": 7},
    )


def test_a_login_that_waited_past_its_budget_is_refused_before_any_work(idp, caplog):
    client = idp.test_client()
    client.get("/connexion", base_url="https://idp.test")  # a session cookie in the jar
    with caplog.at_level(logging.INFO, logger="educonnect"):
        page = client.post(
            "/connexion", base_url="https://idp.test", data={"identifiant": "x"}, headers=stamp(10)
        )
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "7"
    text = page_text(page)
    assert OVERLOADED in text
    assert f"Référence : {page.headers['X-Request-Id']}" in text
    assert "service_surcharge" not in page.get_data(as_text=True)
    # No view ran (its CSRF check would have answered 400) and the session was not touched.
    assert "Set-Cookie" not in page.headers
    assert any("service_surcharge expensive request waited" in r.getMessage() for r in caplog.records), (
        caplog.text
    )


def test_choosing_the_password_of_a_new_account_is_shed_like_a_login(idp):
    client = idp.test_client()
    posted = client.post("/transition/mot-de-passe", base_url="https://idp.test", data={}, headers=stamp(10))
    assert posted.status_code == 503 and OVERLOADED in page_text(posted)
    shown = client.get("/transition/mot-de-passe", base_url="https://idp.test", headers=stamp(10))
    assert shown.status_code != 503  # showing the form costs no argon2id: the page's budget
    assert OVERLOADED not in page_text(shown)


def test_within_its_budget_a_request_is_served(idp):
    client = idp.test_client()
    # 10 s is past the login's budget but not a page's: the page is served, the login is not.
    assert client.get("/connexion", base_url="https://idp.test", headers=stamp(10)).status_code == 200
    login = client.post("/connexion", base_url="https://idp.test", data={}, headers=stamp(0.0))
    assert login.status_code == 400  # served: the view's CSRF check answered
    assert "Le formulaire a expiré" in page_text(login)


def test_pages_and_protocol_endpoints_have_their_own_budget(idp):
    client = idp.test_client()
    metadata = client.get("/saml/metadata", base_url="https://idp.test", headers=stamp(90))
    assert metadata.status_code == 503 and OVERLOADED in page_text(metadata)
    unknown = client.get("/pas-de-page", base_url="https://idp.test", headers=stamp(90))
    assert unknown.status_code == 503  # a 404 is no way around the check


def test_health_checks_and_static_files_are_never_refused(idp):
    client = idp.test_client()
    for path in ("/healthz", "/readyz", "/static/commun/css/site.css"):
        assert client.get(path, base_url="https://idp.test", headers=stamp(3600)).status_code == 200, path


def test_a_stamp_in_the_future_or_unreadable_counts_as_no_wait(idp):
    client = idp.test_client()
    for header in (stamp(-30), {"X-Request-Start": "hier"}, {"X-Request-Start": "t="}):
        page = client.post("/connexion", base_url="https://idp.test", data={}, headers=header)
        assert page.status_code == 400, header


def test_without_a_trusted_proxy_the_header_is_ignored(deployment, tmp_path):
    app = idp_app(deployment, tmp_path)  # EDUCONNECT_TRUSTED_PROXIES=0: anyone could send it
    page = app.test_client().post("/connexion", base_url="https://idp.test", data={}, headers=stamp(3600))
    assert page.status_code == 400


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("t=1700000000123456", 1700000000.123456),  # HAProxy's %[date(0,us)]
        ("t=1700000000123", 1700000000.123),  # milliseconds
        ("t=1700000000.123", 1700000000.123),  # nginx's ${msec}
        (" t=1700000000 ", 1700000000.0),
        ("1700000000", None),
        ("t=abc", None),
        ("t=-5", None),
        ("", None),
    ],
)
def test_request_start_formats(value, seconds):
    parsed = parse_request_start(value)
    assert parsed == pytest.approx(seconds) if seconds is not None else parsed is None


@pytest.mark.parametrize(
    ("table", "env", "message"),
    [
        ({"expensive_budget_ms": 0}, {}, "admission.expensive_budget_ms"),
        ({"default_budget_ms": "vite"}, {}, "admission.default_budget_ms"),
        ({}, {"EDUCONNECT_ADMISSION_DEFAULT_MS": "-1"}, "EDUCONNECT_ADMISSION_DEFAULT_MS"),
        ({"retry_after_seconds": 0}, {}, "admission.retry_after_seconds"),
    ],
)
def test_invalid_budgets_stop_the_start(table, env, message, tmp_path):
    data = {"base_url": "https://idp.test", "secret_key": "k" * 40, "database_url": "sqlite://"}
    with pytest.raises(ConfigurationError, match=message):
        build_settings("idp", {**data, "admission": table}, env, root=tmp_path)


def test_budgets_come_from_the_table_and_the_environment(tmp_path):
    data = {"base_url": "https://idp.test", "secret_key": "k" * 40, "database_url": "sqlite://"}
    settings = build_settings(
        "idp",
        {**data, "admission": {"expensive_budget_ms": 80}},
        {"EDUCONNECT_ADMISSION_DEFAULT_MS": "120"},
        root=tmp_path,
    )
    assert (settings.admission.expensive_budget_ms, settings.admission.default_budget_ms) == (80, 120)
    assert settings.admission.retry_after_seconds == 5
