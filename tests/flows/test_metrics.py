"""The services' Prometheus metrics (federation/metrics.py) move as parents use them, and
``/metrics`` answers only the scraper's token.

The apps of these tests run in this one process: the counters are read from its registry, before
and after each step (the stack is shared by the whole session, so every test compares deltas).
"""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from flask import Flask, session
from prometheus_client import REGISTRY
from sqlalchemy import text

from federation.database import make_engine
from federation.errors import ConfigurationError
from federation.metrics import token_matches
from federation.migrations import upgrade
from federation.web import create_base_app
from idp.domain.child_attachment import MAX_WRONG_DATES_PER_CHILD
from tests.browser import Browser, page_text
from tests.flows.children_steps import children_page, dates_of, parent_with_children
from tests.flows.saml_steps import PASSWORD, add_parent
from tests.flows.test_login_brake import WRONG, LoginBrowser, addresses
from tests.flows.transition_steps import aten_login_page, aten_sign_in, choose_password, forget_transitions
from tests.live_stack import free_port
from tests.redis_servers import redis_server
from tests.registry_helpers import Child, new_establishment

TOKEN = secrets.token_urlsafe(32)
IDP = {"service": "idp"}


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Deltas:
    """The change of some samples since this object was made."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def __call__(self) -> list[float]:
        return [
            value(name, **labels) - b for (name, labels), b in zip(self.samples, self.before, strict=True)
        ]


def logins(outcome: str) -> tuple[str, dict[str, str]]:
    return "educonnect_logins_total", {"service": "idp", "outcome": outcome}


def children(outcome: str) -> tuple[str, dict[str, str]]:
    return "educonnect_child_attachments_total", {"service": "idp", "outcome": outcome}


def unavailable(service: str, cause: str) -> tuple[str, dict[str, str]]:
    return "educonnect_unavailable_responses_total", {"service": service, "cause": cause}


def backend_errors(service: str, backend: str) -> tuple[str, dict[str, str]]:
    return "educonnect_backend_errors_total", {"service": service, "backend": backend}


def requests(endpoint: str, method: str, status: int, service: str = "idp") -> tuple[str, dict[str, str]]:
    labels = {"service": service, "endpoint": endpoint, "method": method, "status": str(status)}
    return "educonnect_http_requests_total", labels


def latency_count(endpoint: str, service: str = "idp") -> tuple[str, dict[str, str]]:
    return "educonnect_http_request_duration_seconds_count", {"service": service, "endpoint": endpoint}


# --- parents' steps -----------------------------------------------------------------------------


def test_a_failed_then_a_successful_login_are_counted_with_their_requests(stack):
    parent = add_parent(stack.idp)
    browser = LoginBrowser.at(stack.idp, addresses(1)[0])
    deltas = Deltas(
        logins("failed"),
        logins("ok"),
        logins("throttled"),
        requests("idp.login", "POST", 200),
        requests("idp.login", "POST", 302),
        latency_count("idp.login"),
    )
    assert browser.login(parent.identifier, WRONG).status_code == 200
    assert deltas() == [1, 0, 0, 1, 0, 2]  # the form shown (GET), then the refused POST
    assert browser.login(parent.identifier, PASSWORD).status_code == 302
    assert deltas() == [1, 1, 0, 1, 1, 4]


def test_a_braked_login_is_counted_as_throttled_not_failed(stack):
    parent = add_parent(stack.idp)
    browser = LoginBrowser.at(stack.idp, addresses(1)[0])
    budget = stack.idp.extensions["idp"].settings.login_brake.account_attempts
    deltas = Deltas(logins("failed"), logins("throttled"), requests("idp.login", "POST", 429))
    statuses = [browser.login(parent.identifier, WRONG).status_code for _ in range(budget + 2)]
    assert statuses == [200] * budget + [429, 429]
    assert deltas() == [budget, 2, 2]
    assert browser.login(parent.identifier, PASSWORD).status_code == 429  # the right one, braked too
    assert deltas() == [budget, 3, 3]


def test_a_transition_is_started_then_finished_with_an_account_created(stack):
    forget_transitions(stack)
    deltas = Deltas(
        ("educonnect_transitions_started_total", IDP),
        ("educonnect_transitions_finished_total", {**IDP, "outcome": "account_created"}),
        ("educonnect_transitions_finished_total", {**IDP, "outcome": "already_migrated"}),
        ("educonnect_accounts_created_total", IDP),
    )
    browser = Browser(stack.apps())
    aten_login_page(browser)
    assert deltas() == [1, 0, 0, 0]
    browser = Browser(stack.apps())
    _, created = choose_password(browser, aten_sign_in(browser, "mdurand"))
    assert "Votre compte est créé." in page_text(browser.follow(created))
    assert deltas() == [2, 1, 0, 1]
    again = Browser(stack.apps())  # the same parent comes back through ATEN: no second account
    assert "/transition/deja-inscrit" in again.follow(aten_sign_in(again, "mdurand")).request.path
    assert deltas() == [3, 1, 1, 1]


def test_children_confirmed_wrong_and_blocked_are_counted(stack):
    school = new_establishment(1)
    family = parent_with_children(
        stack.idp, [Child("Léa", dt.date(2017, 3, 14), school), Child("Hugo", dt.date(2015, 9, 2), school)]
    )
    lea, hugo = family.children
    deltas = Deltas(children("confirmed"), children("wrong_date"), children("blocked"))
    browser = Browser(stack.apps())
    page = children_page(browser, family.account.identifier)
    page = browser.submit(
        page, form_id="ajout-eleves", **dates_of(lea), **dates_of(hugo, shift=dt.timedelta(1))
    )
    assert deltas() == [1, 1, 0]
    for _ in range(MAX_WRONG_DATES_PER_CHILD - 1):
        page = browser.submit(page, form_id="ajout-eleves", **dates_of(hugo, shift=dt.timedelta(1)))
    assert "le rattachement de cet élève est bloqué" in page_text(page)
    assert deltas() == [1, MAX_WRONG_DATES_PER_CHILD - 1, 1]


# --- 503 by cause -------------------------------------------------------------------------------


def _idp(deployment, tmp_path, **overrides) -> Flask:
    from idp import create_app

    url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    upgrade(url)
    return create_app(deployment.settings("idp", url, None, **overrides))


def test_an_overload_refusal_is_a_503_counted_as_overload(deployment, tmp_path):
    import time

    idp = _idp(
        deployment,
        tmp_path,
        trusted_proxies=1,
        admission={"expensive_budget_ms": 1000, "default_budget_ms": 60000, "retry_after_seconds": 7},
    )
    deltas = Deltas(
        unavailable("idp", "overload"), backend_errors("idp", "store"), requests("idp.login", "POST", 503)
    )
    waited = {"X-Request-Start": f"t={int((time.time() - 10) * 1e6)}"}
    page = idp.test_client().post("/connexion", base_url="https://idp.test", data={}, headers=waited)
    assert page.status_code == 503
    assert deltas() == [1, 0, 1]


def test_a_database_that_refuses_connections_is_a_503_counted_as_database(deployment, tmp_path):
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/test"  # no server listens there
    app = create_base_app("metrics-db", deployment.settings("idp", down, None), "ÉduConnect")
    engine = make_engine(down)

    def reads() -> str:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT 1")).scalar())

    app.add_url_rule("/lecture", "lecture", reads)
    deltas = Deltas(
        unavailable("idp", "database"), backend_errors("idp", "database"), requests("lecture", "GET", 503)
    )
    try:
        assert app.test_client().get("/lecture").status_code == 503
    finally:
        engine.dispose()
    assert deltas() == [1, 1, 1]


def test_a_database_bug_is_a_backend_error_but_no_503(deployment, tmp_path):
    url = f"sqlite:///{tmp_path / 'bug.sqlite3'}"
    app = create_base_app("metrics-bug", deployment.settings("idp", url, None), "ÉduConnect")
    engine = make_engine(url)

    def broken() -> str:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT * FROM no_such_table")).scalar())

    app.add_url_rule("/bug", "bug", broken)
    deltas = Deltas(unavailable("idp", "database"), backend_errors("idp", "database"))
    try:
        assert app.test_client().get("/bug").status_code == 500
    finally:
        engine.dispose()
    assert deltas() == [0, 1]


def test_a_killed_session_store_is_a_503_counted_as_store(deployment, tmp_path):
    server = redis_server(tmp_path / "redis", "--save", "", "--appendonly", "no")
    server.start()
    try:
        database = f"sqlite:///{tmp_path / 'x.sqlite3'}"
        settings = deployment.settings("ent", database, server.url, metrics_token=TOKEN)
        app = create_base_app("metrics-store", settings, "ENT")

        def write() -> str:
            session["vu"] = True
            return "ok"

        app.add_url_rule("/ecrit", "ecrit", write)
        app.add_url_rule("/lecture", "lecture", lambda: "rien")
        client = app.test_client()
        assert client.get("/ecrit").status_code == 200  # a session in the store, its cookie here
        server.kill()
        deltas = Deltas(unavailable("ent", "store"), backend_errors("ent", "store"))
        page = client.get("/lecture")
        assert page.status_code == 503
        assert deltas() == [1, 1]
        # /metrics needs no session: the scrape still answers, with the store down and the cookie.
        scrape = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scrape.status_code == 200
        assert 'educonnect_unavailable_responses_total{cause="store",service="ent"}' in scrape.get_data(
            as_text=True
        )
        assert deltas() == [1, 1]
    finally:
        server.stop()


# --- /metrics is not public ---------------------------------------------------------------------


@pytest.fixture
def scraped(deployment, tmp_path) -> Flask:
    return _idp(deployment, tmp_path, metrics_token=TOKEN)


def test_with_the_token_metrics_lists_every_counter_in_the_text_format(scraped):
    client = scraped.test_client()
    client.get("/connexion", base_url="https://idp.test")
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=")
    body = answer.get_data(as_text=True)
    assert (
        'educonnect_http_requests_total{endpoint="idp.login",method="GET",service="idp",status="200"}' in body
    )
    for name in (
        "educonnect_logins_total",
        "educonnect_accounts_created_total",
        "educonnect_transitions_started_total",
        "educonnect_http_request_duration_seconds_bucket",
    ):
        assert f"\n{name}" in body or f"# TYPE {name.removesuffix('_total')} " in body
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN],
    ids=["none", "empty", "no-credentials", "short", "longer", "basic", "no-scheme"],
)
def test_without_the_right_token_metrics_is_a_page_that_does_not_exist(scraped, authorization):
    client = scraped.test_client()
    headers = {"Authorization": authorization} if authorization is not None else {}
    answer = client.get("/metrics", headers=headers)
    unknown = client.get("/no-such-page")
    assert answer.status_code == 404
    assert page_text(answer) == page_text(unknown).replace(
        unknown.headers["X-Request-Id"], answer.headers["X-Request-Id"]
    )
    body = answer.get_data(as_text=True)
    assert "educonnect_" not in body and "WWW-Authenticate" not in answer.headers


def test_without_a_configured_token_metrics_answers_nobody(stack):
    assert stack.idp.extensions["settings"].metrics_token is None
    for authorization in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
        assert stack.idp.test_client().get("/metrics", headers=authorization).status_code == 404


def test_the_token_is_compared_in_constant_time(monkeypatch):
    import hmac

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN[:-1], TOKEN)
    assert compared == [(TOKEN.encode(), TOKEN.encode()), (TOKEN[:-1].encode(), TOKEN.encode())]
    assert not token_matches(None, TOKEN) and not token_matches(TOKEN, None) and not token_matches("", "")


def test_a_short_metrics_token_is_refused_at_start(deployment):
    with pytest.raises(ConfigurationError, match="metrics_token: 32 caractères au moins"):
        deployment.settings("idp", "sqlite://", None, metrics_token="court")
