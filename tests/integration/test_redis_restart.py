"""A Redis killed (SIGKILL) and started again, as systemd or Docker restarts it: with AOF
persistence (docker-compose.yml, README) the signed-in parent stays signed in and a transition
between ATEN and « Confirmer » finishes; in between every page is the French 503."""

from __future__ import annotations

from pathlib import Path

from tests.browser import Browser, page_text
from tests.conftest import Deployment
from tests.fault_stack import assert_unavailable, fault_stack, password_form, readiness, signed_in_parent
from tests.flows.transition_steps import NEW_PASSWORD, linked_accounts
from tests.redis_servers import AOF_OPTIONS, RedisProcess, redis_server


def _kill_and_restart(server: RedisProcess, stack, signed_in: Browser) -> None:
    server.kill()
    assert_unavailable(signed_in.get("https://ent.test/accueil"))
    assert_unavailable(signed_in.get("https://idp.test/connexion"))
    assert readiness(stack, "ent") == (503, {"store": "indisponible"})
    server.start()  # same port, same folder: what it reloads is what was on disk
    assert readiness(stack, "ent") == (200, {"store": "ok"})


def test_a_signed_in_parent_and_a_transition_in_flight_survive_a_redis_kill_with_aof(
    deployment: Deployment, tmp_path: Path
) -> None:
    server = redis_server(tmp_path / "redis", *AOF_OPTIONS)
    server.start()
    try:
        assert server.client().config_get("appendonly") == {"appendonly": "yes"}
        stack = fault_stack(deployment, f"sqlite:///{tmp_path / 'idp.sqlite3'}", server.url)
        signed_in = signed_in_parent(stack)
        migrating, form_page = password_form(stack)

        _kill_and_restart(server, stack, signed_in)

        again = signed_in.get("https://ent.test/accueil")
        assert again.status_code == 200 and "Bonjour Claire Martin" in page_text(again)
        # Signed in at ÉduConnect too: the ENT's login goes through without the login form.
        sso = signed_in.follow(signed_in.get("https://ent.test/connexion/educonnect"))
        assert "Connexion en cours" in page_text(sso), page_text(sso)
        landing = signed_in.follow(signed_in.submit(sso, form_id="saml-post"))
        assert "Bonjour Claire Martin" in page_text(landing)
        created = migrating.follow(
            migrating.submit(form_page, mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD)
        )
        assert "Votre compte est créé." in page_text(created), page_text(created)
        assert len(linked_accounts(stack, "Durand")) == 1
    finally:
        server.stop()


def test_without_persistence_the_same_kill_signs_the_parent_out(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Why docker-compose.yml turns AOF on: the Redis of before (``--save "" --appendonly no``)."""
    server = redis_server(tmp_path / "redis", "--save", "", "--appendonly", "no")
    server.start()
    try:
        stack = fault_stack(deployment, f"sqlite:///{tmp_path / 'idp.sqlite3'}", server.url)
        signed_in = signed_in_parent(stack)
        migrating, form_page = password_form(stack)

        _kill_and_restart(server, stack, signed_in)

        again = signed_in.get("https://ent.test/accueil")
        assert again.status_code == 302  # back to the portal: signed out
        lost = migrating.submit(form_page, mot_de_passe=NEW_PASSWORD, confirmation=NEW_PASSWORD)
        assert lost.status_code == 400 and "Le formulaire a expiré" in page_text(lost)
        assert linked_accounts(stack, "Durand") == []
    finally:
        server.stop()
