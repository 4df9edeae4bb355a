"""The three services as real processes on loopback ports, as ``make demo`` runs them.

Used by tests/flows/test_real_processes.py (a parent over plain HTTP) and tests/browser_e2e/
(a parent in Chromium). Each stack gets a temporary config folder: the demo accounts, the ATEN
directory, the school registry and the ENT directory of config/, rewritten for free ports, and
``educonnect-bridge demo --no-serve`` prepares keys, metadata, database and demo data there.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_PORTS = {"ent": 8000, "idp": 8001, "aten": 8002}  # the URLs written in config/ files
RELEASED = (
    "sn",
    "givenName",
    "FrEduCtId",
    "FrEduCtDateConnexion",
    "FrEduUrlRetour",
    "FrEduVecteur",
    "FrEduCtPersonAffiliation",
)


@dataclass(frozen=True)
class LiveStack:
    root: Path  # the temporary folder: config/, certs/, var/
    urls: dict[str, str]  # "ent", "idp", "aten" -> http://127.0.0.1:PORT
    pids: dict[str, int]  # "ent", "idp", "aten" -> the gunicorn master's pid
    demo_output: str = ""  # what « demo --no-serve » printed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str):
    assert url.startswith("http://127.0.0.1:")  # loopback only
    return urllib.request.urlopen(url, timeout=5)  # noqa: S310 - URL checked just above


# Generous: on a loaded shared machine a service has been seen to take 18 s to start.
START_TIMEOUT, STOP_TIMEOUT = 120, 60


def wait_until_ready(url: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with http_get(f"{url}/readyz") as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {timeout} s")


def _write_config(root: Path, urls: dict[str, str]) -> Path:
    config = root / "config"
    (config / "demo").mkdir(parents=True)

    def moved(text: str) -> str:  # the demo files name localhost:8000-8002
        for name, port in DEMO_PORTS.items():
            text = text.replace(f"http://localhost:{port}", urls[name])
        return text

    for name in ("educonnect_accounts.toml", "aten.ldif", "registry.csv"):
        source = ROOT / "config" / "demo" / name
        (config / "demo" / name).write_text(moved(source.read_text(encoding="utf-8")), encoding="utf-8")
    for name in ("ent_establishments.csv", "ent_pupils.csv"):
        (config / name).write_text((ROOT / "config" / name).read_text(encoding="utf-8"), encoding="utf-8")
    aten_entity_id = f'aten_entity_id = "{urls["aten"]}/saml/metadata"\n'
    portal = f'portal_url = "{urls["ent"]}/"\n'
    released = ", ".join(f'"{a}"' for a in RELEASED)
    (config / "idp.toml").write_text(
        f'base_url = "{urls["idp"]}"\npeer_metadata = ["var/metadata/aten.xml"]\n{aten_entity_id}{portal}'
        f'[[service_providers]]\nmetadata = "var/metadata/ent.xml"\nattributes = [{released}]\n'
    )
    (config / "ent.toml").write_text(
        f'base_url = "{urls["ent"]}"\npeer_metadata = ["var/metadata/idp.xml"]\n{aten_entity_id}'
        'directory = { establishments = "config/ent_establishments.csv", pupils = "config/ent_pupils.csv" }\n'
    )
    (config / "aten.toml").write_text(
        f'base_url = "{urls["aten"]}"\npeer_metadata = ["var/metadata/idp-sp.xml"]\n{portal}'
        '[academie]\nname = "Académie de Poitiers"\n',
        encoding="utf-8",
    )
    return config


@contextmanager
def live_stack(
    root: Path,
    protocol: str = "saml",
    extra_env: Mapping[str, str] | None = None,
    serve_options: Sequence[str] = (),
    before_serve: Callable[[Mapping[str, str]], None] | None = None,
    idp_toml: str = "",
) -> Iterator[LiveStack]:
    """Prepare the demo under ``root`` (``demo --no-serve --protocol …``: with ``oidc`` the ENT
    signs parents in as an OpenID Connect client), start the three services (``extra_env`` added
    to their environment, e.g. behind a proxy; ``serve_options`` added to each ``serve``, e.g.
    ``--workers 2``; ``idp_toml``: keys put first in ÉduConnect's configuration file), stop them on
    exit. ``before_serve`` is called with the services' environment once the demo is prepared,
    before they start: to run an operator's command such as ``oidc client add``, which takes
    effect at the next start."""
    ports = {"ent": free_port(), "idp": free_port(), "aten": free_port()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    config = _write_config(root, urls)
    if idp_toml:  # before the file's tables: top-level keys (dotted ones for a table)
        (config / "idp.toml").write_text(f"{idp_toml}\n" + (config / "idp.toml").read_text())
    if protocol == "oidc":
        with (config / "ent.toml").open("a") as fh:
            fh.write(f'\n[oidc]\nissuer = "{urls["idp"]}"\nclient_id = "ent-demo"\n')
    env = {**os.environ, "EDUCONNECT_CONFIG_DIR": str(config), "EDUCONNECT_MODE": "demo"}
    for key in ("DATABASE_URL", "REDIS_URL", "ENT_PROTOCOL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(key, None)
    cli = [sys.executable, "-m", "educonnect_bridge"]
    prepared = subprocess.run(
        [*cli, "demo", "--no-serve", "--protocol", protocol],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert prepared.returncode == 0, prepared.stderr
    if before_serve:
        before_serve(env)
    env["ENT_PROTOCOL"] = protocol
    env.update(extra_env or {})
    logs = root / "logs"
    logs.mkdir()
    procs = []
    try:
        for name, port in ports.items():
            with (logs / f"{name}.log").open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        [*cli, "serve", name, "--port", str(port), *serve_options],
                        env=env,
                        cwd=ROOT,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
        for url in urls.values():
            wait_until_ready(url)
        yield LiveStack(
            root=root,
            urls=urls,
            pids={name: proc.pid for name, proc in zip(ports, procs, strict=True)},
            demo_output=prepared.stdout,
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:  # gunicorn's graceful stop takes up to 10 s, more on a loaded machine
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
