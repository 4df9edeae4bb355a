"""``sp add`` and ``sp refresh`` reach every gunicorn worker of a running IdP (issue 16 item 3).

The real processes of ``make demo`` (tests/live_stack.py), ÉduConnect under gunicorn with two
workers and a signed aggregate configured (a file; its first fetch at start finds nothing). The
SP is OneLogin's python3-saml, which signs its AuthnRequests; before the change the IdP answers
« Service inconnu », after it each worker logs that it rebuilt its registry with the new SP, and
every AuthnRequest goes on to the login page, whichever worker answers it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.live_stack import ROOT, http_get, live_stack
from tests.onelogin_sp import BASE as SP
from tests.onelogin_sp import create_sp_app, onelogin_settings, sp_metadata
from tests.sp_aggregate import operator_key, publish, signed_aggregate

BATCH = 8  # AuthnRequests sent at once: both workers get some


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(_NoRedirect)


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    root = tmp_path_factory.mktemp("sp-workers")
    sp_dir = root / "service_providers"
    signer = operator_key(root / "operator")
    idp_toml = (
        f'service_providers_dir = "{sp_dir}"\nsp_registry.check_seconds = 1\n'
        f'sp_aggregate.source = "{root / "federation.xml"}"\n'
        f'sp_aggregate.signer_certificate = "{signer.cert_file}"'
    )
    with live_stack(root, serve_options=("--workers", "2"), idp_toml=idp_toml) as stack:
        yield stack


def cli(running, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDUCONNECT_CONFIG_DIR": str(running.root / "config"), "EDUCONNECT_MODE": "demo"}
    return subprocess.run(
        [sys.executable, "-m", "educonnect_bridge", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )


def an_sp(running, tmp_path, entity_id: str):
    """A python3-saml SP of ``entity_id`` that knows the running IdP from its metadata."""
    with http_get(f"{running.urls['idp']}/saml/metadata") as response:
        idp_metadata = response.read().decode()
    settings = onelogin_settings(idp_metadata, tmp_path)
    settings["sp"]["entityId"] = entity_id
    return create_sp_app(settings), sp_metadata(settings)


def wait_until_every_worker_reloaded(running, pool, sp, entity_id: str) -> None:
    workers = worker_pids(running.pids["idp"])
    assert len(workers) == 2, workers
    pattern = rf"registre des SP rechargé \(pid (\d+)\) : \d+ SP, ajoutés \['{re.escape(entity_id)}'\]"
    log = running.root / "logs" / "idp.log"
    reloaded: set[int] = set()
    deadline = time.monotonic() + 60
    while reloaded != workers and time.monotonic() < deadline:
        list(pool.map(answer, signed_requests(sp, BATCH)))
        reloaded = {int(pid) for pid in re.findall(pattern, log.read_text())}
    assert reloaded == workers, log.read_text()[-2000:]


def worker_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def answer(url: str) -> str:
    """Where the IdP sends the browser: "login" (accepted), "unknown" (« Service inconnu »)."""
    assert url.startswith("http://127.0.0.1:")  # loopback only
    try:
        with OPENER.open(url, timeout=30) as response:  # loopback, checked above
            return f"status {response.status}"
    except urllib.error.HTTPError as exc:
        if exc.code == 302 and "/connexion" in exc.headers["Location"]:
            return "login"
        if exc.code == 400 and "Service inconnu" in exc.read().decode():
            return "unknown"
        return f"status {exc.code}"


def signed_requests(sp, count: int) -> list[str]:
    """``count`` fresh signed AuthnRequest URLs of the SP (python3-saml, HTTP-Redirect)."""
    return [sp.test_client().get("/login").headers["Location"] for _ in range(count)]


def test_sp_add_takes_effect_in_every_worker(running, tmp_path):
    entity_id = f"{SP}/metadata"
    sp, metadata = an_sp(running, tmp_path, entity_id)
    with ThreadPoolExecutor(BATCH) as pool:
        assert set(pool.map(answer, signed_requests(sp, BATCH))) == {"unknown"}
        metadata_file = tmp_path / "sp-onelogin.xml"
        metadata_file.write_text(metadata)
        added = cli(running, "sp", "add", str(metadata_file), "--attribute", "sn")
        assert added.returncode == 0, added.stderr
        wait_until_every_worker_reloaded(running, pool, sp, entity_id)
        # Both workers rebuilt their registry: each AuthnRequest is accepted, whoever answers it.
        assert set(pool.map(answer, signed_requests(sp, 4 * BATCH))) == {"login"}


def test_sp_refresh_of_the_aggregate_takes_effect_in_every_worker(running, tmp_path):
    entity_id = "https://sp-federation.test/metadata"
    sp, metadata = an_sp(running, tmp_path, entity_id)
    with ThreadPoolExecutor(BATCH) as pool:
        assert set(pool.map(answer, signed_requests(sp, BATCH))) == {"unknown"}
        signer = operator_key(running.root / "operator")
        publish(running.root / "federation.xml", signed_aggregate([metadata], signer, tmp_path))
        refreshed = cli(running, "sp", "refresh")
        assert refreshed.returncode == 0, refreshed.stderr
        wait_until_every_worker_reloaded(running, pool, sp, entity_id)
        assert set(pool.map(answer, signed_requests(sp, 4 * BATCH))) == {"login"}
        # A tampered aggregate: refused by the command, the workers keep serving the good copy.
        good = (running.root / "federation.xml").read_text()
        publish(running.root / "federation.xml", good.replace(entity_id, "https://forged.test/metadata"))
        refused = cli(running, "sp", "refresh")
        assert refused.returncode == 1 and "la dernière copie valide est conservée" in refused.stderr
        assert set(pool.map(answer, signed_requests(sp, 2 * BATCH))) == {"login"}
