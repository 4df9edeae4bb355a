"""Debian's HAProxy with the shipped ``config/haproxy/haproxy.cfg``, in front of services on
loopback ports: for the overload scenario of the benchmark and for the tests of admission control.

The configuration file is the one docker-compose runs; only its environment differs (loopback
upstreams, free ports, a throw-away self-signed certificate for the TLS bind, plain HTTP
allowed). Its statistics page (CSV) tells how many requests are queued and in flight.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.servers import free_port
from federation.settings import PROJECT_ROOT

HAPROXY_CONFIG = PROJECT_ROOT / "config" / "haproxy" / "haproxy.cfg"
READY_TIMEOUT_SECONDS = 20.0
UPSTREAM_ENV = {"ent": "ENT_UPSTREAM", "idp": "IDP_UPSTREAM", "aten": "ATEN_UPSTREAM"}
BASE_URL_ENV = {"ent": "ENT_BASE_URL", "idp": "IDP_BASE_URL", "aten": "ATEN_BASE_URL"}


class ProxyError(Exception):
    pass


def haproxy_binary() -> str:
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if binary is None:
        raise ProxyError("haproxy (Debian package) is needed: scripts/install-system-deps.sh installs it")
    return binary


def self_signed_pem(directory: Path, host: str = "localhost") -> Path:
    """A throw-away certificate + key in one PEM (what HAProxy's ``crt`` directory holds)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{host}.pem"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    return path


def proxy_environment(
    upstreams: Mapping[str, int],
    base_urls: Mapping[str, str],
    tls_dir: Path,
    *,
    server_maxconn: int = 4,
    queue_timeout: str = "1s",
    plain_http: bool = True,
) -> dict[str, str]:
    """The variables of haproxy.cfg for services on loopback ports (``upstreams``: service →
    port; a service not given points at a closed port and stays down)."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/bin",
        "PROXY_HTTP_BIND": f"127.0.0.1:{free_port()}",
        "PROXY_HTTPS_BIND": f"127.0.0.1:{free_port()}",
        "PROXY_TLS_CERTS": f"{tls_dir}/",
        "PROXY_PLAIN_HTTP": "yes" if plain_http else "no",
        "PROXY_STATS_BIND": f"127.0.0.1:{free_port()}",
        "SERVER_MAXCONN": str(server_maxconn),
        "ADMISSION_QUEUE_TIMEOUT": queue_timeout,
    }
    for service, variable in UPSTREAM_ENV.items():
        env[variable] = f"127.0.0.1:{upstreams.get(service) or free_port()}"
        env[variable.replace("UPSTREAM", "SLOTS")] = "1"
    for service, variable in BASE_URL_ENV.items():
        env[variable] = base_urls[service]
    return env


def check_config(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``haproxy -c``: HAProxy's own checker on the shipped file."""
    return subprocess.run(
        [haproxy_binary(), "-c", "-f", str(HAPROXY_CONFIG)],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )


def _port(bind: str) -> int:
    return int(bind.rsplit(":", 1)[1])


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path

    @property
    def http_port(self) -> int:
        return _port(self.env["PROXY_HTTP_BIND"])

    @property
    def https_port(self) -> int:
        return _port(self.env["PROXY_HTTPS_BIND"])

    def stats(self) -> list[dict[str, str]]:
        """HAProxy's statistics CSV, one dict per frontend, backend and server."""
        url = f"http://127.0.0.1:{_port(self.env['PROXY_STATS_BIND'])}/stats;csv"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode().lstrip("# ")
        return list(csv.DictReader(io.StringIO(text)))

    def backend(self, name: str) -> dict[str, str]:
        for row in self.stats():
            if row["pxname"] == name and row["svname"] == "BACKEND":
                return row
        raise ProxyError(f"no backend {name}")

    def queued(self, backend: str) -> int:
        return int(self.backend(backend)["qcur"] or 0)

    def in_flight(self, backend: str) -> int:
        return int(self.backend(backend)["scur"] or 0)

    def servers_up(self, backend: str) -> int:
        return sum(
            1
            for row in self.stats()
            if row["pxname"] == backend and row["svname"] not in ("BACKEND", "FRONTEND")
            if row["status"].startswith("UP")
        )

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)  # soft stop
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@contextmanager
def running_proxy(
    env: Mapping[str, str], log_path: Path, ready_backends: tuple[str, ...] = ()
) -> Iterator[Proxy]:
    """Start HAProxy in the foreground, wait until its statistics answer and every backend of
    ``ready_backends`` has a server up; stop it on exit."""
    checked = check_config(env)
    if checked.returncode != 0:
        raise ProxyError(f"haproxy -c refused the configuration:\n{checked.stdout}{checked.stderr}")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [haproxy_binary(), "-db", "-f", str(HAPROXY_CONFIG)],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    proxy = Proxy(process, dict(env), log_path)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise ProxyError(f"haproxy exited ({process.returncode}):\n{proxy.log_tail()}")
            try:
                if all(proxy.servers_up(backend) for backend in ready_backends):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ProxyError(
                    f"haproxy not ready after {READY_TIMEOUT_SECONDS:.0f} s:\n{proxy.log_tail()}"
                )
            time.sleep(0.1)
        yield proxy
    finally:
        proxy.stop()
