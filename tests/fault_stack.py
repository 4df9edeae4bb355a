"""The three apps on production settings pointed at servers a fault test started (its own
PostgreSQL cluster, redis-server or sentinels), and what a parent sees while one is down."""

from __future__ import annotations

from typing import Any

from federation.migrations import upgrade
from federation.web import RETRY_AFTER_SECONDS
from tests.browser import Browser, page_text
from tests.conftest import DEMO_LDIF, Backend, Deployment, Stack
from tests.flows.saml_steps import add_parent, sign_in
from tests.flows.transition_steps import aten_sign_in


def fault_stack(
    deployment: Deployment, idp_database_url: str, redis_url: str | None = None, **store: Any
) -> Stack:
    """``idp_database_url`` for the IdP (migrated here); the ENT and ATEN keep SQLite files.
    ``store``: setting overrides for all three (e.g. ``redis_sentinels``)."""
    from aten_adapter import create_app as create_aten
    from idp import create_app as create_idp
    from sp_ent import create_app as create_ent

    upgrade(idp_database_url)
    local = f"sqlite:///{deployment.root / 'var' / 'fault-local.sqlite3'}"
    idp = create_idp(deployment.settings("idp", idp_database_url, redis_url, **store))
    ent = create_ent(deployment.settings("ent", local, redis_url, **store))
    aten = create_aten(
        deployment.settings(
            "aten", local, redis_url, directory={"backend": "ldif", "ldif_file": str(DEMO_LDIF)}, **store
        ),
        env={},
    )
    return Stack(idp=idp, ent=ent, aten=aten, backend=Backend("fault", idp_database_url, redis_url))


def signed_in_parent(stack: Stack, given_name: str = "Claire") -> Browser:
    """A parent signed in with ÉduConnect, on the ENT's landing page."""
    parent = add_parent(stack.idp, given_name=given_name)
    browser = Browser(stack.apps())
    post_page = browser.follow(sign_in(browser, parent.identifier))
    landing = browser.follow(browser.submit(post_page, form_id="saml-post"))
    assert f"Bonjour {given_name} Martin" in page_text(landing), page_text(landing)
    return browser


def assert_unavailable(page: Any) -> None:
    """The French « Service momentanément indisponible » page: 503 with Retry-After, no trace."""
    body = page.get_data(as_text=True)
    assert page.status_code == 503, page_text(page)
    assert page.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "Service momentanément indisponible" in page_text(page)
    assert "Réessayez dans quelques minutes." in page_text(page)
    for technical in ("Traceback", "psycopg", "redis", "OperationalError", "sqlalchemy"):
        assert technical not in body


def readiness(stack: Stack, service: str = "idp") -> tuple[int, dict[str, str]]:
    answer = getattr(stack, service).test_client().get("/readyz")
    return answer.status_code, answer.json["checks"]


def password_form(stack: Stack, uid: str = "mdurand") -> tuple[Browser, Any]:
    """A parent back from ATEN with the « Confirmer » form (choose a password) open."""
    browser = Browser(stack.apps())
    confirmed = aten_sign_in(browser, uid)
    assert "Choisir mon mot de passe" in page_text(confirmed)
    form_page = browser.get("https://idp.test/transition/mot-de-passe")
    assert "Confirmer" in page_text(form_page)
    return browser, form_page
