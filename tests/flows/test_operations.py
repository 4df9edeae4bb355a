"""Health and readiness endpoints, error pages, and failing closed when the store is down."""

from __future__ import annotations

import pytest

from idp import create_app as create_idp
from tests.browser import page_text


def test_healthz_and_readyz(stack):
    for app in (stack.idp, stack.ent):
        client = app.test_client()
        assert client.get("/healthz").json == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json["status"] == "ok"
    assert set(stack.idp.test_client().get("/readyz").json["checks"]) >= {"store", "database"}


def test_unknown_page_is_a_french_page(stack):
    page = stack.ent.test_client().get("/nulle-part", base_url="https://ent.test")
    assert page.status_code == 404
    assert "Page introuvable" in page_text(page)


@pytest.fixture
def idp_without_store(deployment, backend):
    settings = deployment.settings("idp", backend.database_url, "redis://127.0.0.1:1/0")
    return create_idp(settings)


def test_redis_down_gives_service_unavailable_page_and_not_ready(idp_without_store):
    client = idp_without_store.test_client()
    page = client.get("/connexion", base_url="https://idp.test")
    assert page.status_code == 503
    assert "Service momentanément indisponible" in page_text(page)
    assert "Traceback" not in page.get_data(as_text=True)
    assert client.get("/readyz").status_code == 503


def test_redis_down_with_a_session_cookie_fails_closed(idp_without_store):
    client = idp_without_store.test_client()
    client.set_cookie("idp_session", "x" * 43, domain="idp.test")
    page = client.post("/connexion", base_url="https://idp.test", data={"identifiant": "c.martin1"})
    assert page.status_code == 503
    assert "Service momentanément indisponible" in page_text(page)


def test_configured_crypto_backend_signs_and_verifies(stack):
    from saml2.sigver import CryptoBackendXmlSec1

    from federation.xml_security import InProcessXmlSecBackend

    expected = CryptoBackendXmlSec1 if stack.backend.crypto == "xmlsec1" else InProcessXmlSecBackend
    assert isinstance(stack.idp.extensions["idp"].saml.server.sec.crypto, expected)
    assert isinstance(stack.ent.extensions["ent"].saml.client.sec.crypto, expected)


def test_service_refuses_to_start_when_the_backend_self_test_fails(deployment, backend, monkeypatch):
    from federation.errors import ConfigurationError
    from federation.xml_security import CryptoSelfTestError

    def broken(_backend):
        raise CryptoSelfTestError("a tampered assertion was accepted")

    from federation.saml_backend import tested_backend

    tested_backend.cache_clear()
    monkeypatch.setattr("federation.saml_backend.self_test", broken)
    with pytest.raises(ConfigurationError, match="crypto_backend"):
        create_idp(deployment.settings("idp", backend.database_url, None))
    tested_backend.cache_clear()


def test_idp_serves_its_sp_role_metadata_for_aten(stack):
    response = stack.idp.test_client().get("/saml/sp/metadata", base_url="https://idp.test")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'entityID="https://idp.test/saml/sp/metadata"' in body
    assert "https://idp.test/saml/sp/acs" in body and "SPSSODescriptor" in body


def test_client_address_comes_from_the_trusted_proxy_only(deployment, backend):
    """Behind one reverse proxy, throttling counts the parent's address, not the proxy's."""
    from dataclasses import replace

    from flask import request

    settings = deployment.settings(
        "idp", backend.database_url, backend.redis_url, crypto_backend=backend.crypto
    )
    seen: dict[int, str | None] = {}
    for proxies in (0, 1):
        app = create_idp(replace(settings, trusted_proxies=proxies))
        app.before_request(lambda proxies=proxies: seen.__setitem__(proxies, request.remote_addr))
        forwarded = {"X-Forwarded-For": "203.0.113.7"}
        app.test_client().get("/healthz", base_url="https://idp.test", headers=forwarded)
    assert seen == {0: "127.0.0.1", 1: "203.0.113.7"}
