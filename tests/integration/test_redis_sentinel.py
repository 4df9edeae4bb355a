"""Redis through Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_SERVICE): real redis-server and
redis-sentinel processes; the master is killed, Sentinel promotes the replica, the services follow
it without a restart. Until then every page is the French 503, never a page without its session
or a sign-in that skipped the store."""

from __future__ import annotations

from pathlib import Path

from federation.settings import RedisSentinelSettings
from tests.browser import Browser, page_text
from tests.conftest import Deployment
from tests.fault_stack import assert_unavailable, fault_stack, readiness, signed_in_parent
from tests.flows.saml_steps import PASSWORD, add_parent, start_login
from tests.redis_servers import allow_promotion, sentinel_group


def test_the_master_is_killed_sentinel_promotes_the_replica_and_the_service_goes_on(
    deployment: Deployment, tmp_path: Path
) -> None:
    with sentinel_group(tmp_path / "redis") as group:
        stack = fault_stack(
            deployment,
            f"sqlite:///{tmp_path / 'idp.sqlite3'}",
            redis_sentinels=group.addresses,
            redis_sentinel_service=group.service,
        )
        sentinel = stack.idp.extensions["settings"].redis_sentinel
        assert isinstance(sentinel, RedisSentinelSettings) and len(sentinel.sentinels) == 3
        signed_in = signed_in_parent(stack)
        group.wait_until_replicated()  # replication is asynchronous: the last writes may lag
        assert group.replica.client().dbsize() == group.master.client().dbsize() > 0
        waiting = Browser(stack.apps())
        login_page = start_login(waiting)  # opened before the outage, submitted during it
        parent = add_parent(stack.idp, given_name="Paul")

        group.master.kill()
        # The replica may not be promoted yet (replica-priority 0): the sentinels still name
        # the dead master, and every request that needs the store is refused.
        assert_unavailable(signed_in.get("https://ent.test/accueil"))
        refused = waiting.submit(login_page, identifiant=parent.identifier, mot_de_passe=PASSWORD)
        assert_unavailable(refused)
        assert "Location" not in refused.headers
        assert readiness(stack, "idp")[1]["store"] == "indisponible"
        assert group.master_port_named() == group.master.port

        allow_promotion(group.replica)
        group.wait_until_master_is(group.replica)

        again = signed_in.get("https://ent.test/accueil")
        assert again.status_code == 200 and "Bonjour Claire Martin" in page_text(again)
        assert readiness(stack, "idp") == (200, {"store": "ok", "database": "ok"})
        later = signed_in_parent(stack, given_name="Lucie")  # new sessions go to the new master
        assert later.get("https://ent.test/accueil").status_code == 200
        assert group.replica.client().info("replication")["role"] == "master"
