"""``educonnect-bridge sp add`` reaches every gunicorn worker of a running IdP (issue 16 item 3).

The real processes of ``make demo`` (tests/live_stack.py), ÉduConnect under gunicorn with two
workers. The SP is OneLogin's python3-saml, which signs its AuthnRequests; before ``sp add`` the
IdP answers « Service inconnu », after it each worker logs that it rebuilt its registry with the
new SP, and every AuthnRequest goes on to the login page, whichever worker answers it.
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

BATCH = 8  # AuthnRequests sent at once: both workers get some


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(_NoRedirect)


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    root = tmp_path_factory.mktemp("sp-workers")
    sp_dir = root / "service_providers"
    idp_toml = f'service_providers_dir = "{sp_dir}"\nsp_registry.check_seconds = 1'
    with live_stack(root, serve_options=("--workers", "2"), idp_toml=idp_toml) as stack:
        yield stack


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
    with http_get(f"{running.urls['idp']}/saml/metadata") as response:
        idp_metadata = response.read().decode()
    settings = onelogin_settings(idp_metadata, tmp_path)
    sp = create_sp_app(settings)
    workers = worker_pids(running.pids["idp"])
    assert len(workers) == 2, workers
    with ThreadPoolExecutor(BATCH) as pool:
        assert set(pool.map(answer, signed_requests(sp, BATCH))) == {"unknown"}
        metadata_file = tmp_path / "sp-onelogin.xml"
        metadata_file.write_text(sp_metadata(settings))
        env = {**os.environ, "EDUCONNECT_CONFIG_DIR": str(running.root / "config")}
        added = subprocess.run(
            [sys.executable, "-m", "educonnect_bridge", "sp", "add", str(metadata_file), "--attribute", "sn"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert added.returncode == 0, added.stderr
        log = running.root / "logs" / "idp.log"
        reloaded: set[int] = set()
        deadline = time.monotonic() + 60
        while reloaded != workers and time.monotonic() < deadline:
            list(pool.map(answer, signed_requests(sp, BATCH)))
            pattern = (
                rf"registre des SP rechargé \(pid (\d+)\) : \d+ SP, ajoutés \['{re.escape(SP)}/metadata'\]"
            )
            reloaded = {int(pid) for pid in re.findall(pattern, log.read_text())}
        assert reloaded == workers, log.read_text()[-2000:]
        # Both workers rebuilt their registry: each AuthnRequest is accepted, whoever answers it.
        assert set(pool.map(answer, signed_requests(sp, 4 * BATCH))) == {"login"}
