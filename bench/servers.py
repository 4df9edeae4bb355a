"""The services as real processes: ``educonnect-bridge serve SERVICE`` (gunicorn), pinned with
``taskset``, measured through ``/proc`` (CPU time and resident memory of the workers).

Each server runs in a process group of its own, so stopping it reaches its gunicorn workers and
their xmlsec1 children, and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.deployment import Deployment
from bench.loopback_http import Connection
from federation.settings import PROJECT_ROOT, ServiceName

READY_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 15.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServerError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def taskset(cpus: str | None) -> list[str]:
    """Command prefix pinning a process (and its children) to ``cpus``; none when unpinned."""
    return ["taskset", "-c", cpus] if cpus else []


@dataclass(frozen=True)
class WorkerMemory:
    pid: int
    rss_kib: int  # VmRSS: every resident page, shared ones included
    pss_kib: int  # shared pages divided among the processes mapping them


@dataclass
class Server:
    name: str
    service: ServiceName
    crypto_backend: str
    workers: int
    cpus: str | None
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def worker_pids(self) -> list[int]:
        """gunicorn's workers are the master's children."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float:
        """CPU time of the master and workers, with their finished children (xmlsec1 runs)."""
        return sum(_cpu_seconds(pid) for pid in [self.process.pid, *self.worker_pids()])

    def worker_cpu_seconds(self) -> dict[int, float]:
        return {pid: _cpu_seconds(pid) for pid in self.worker_pids()}

    def worker_memory(self) -> list[WorkerMemory]:
        return [
            WorkerMemory(pid, _status_kib(pid, "VmRSS"), _rollup_kib(pid, "Pss"))
            for pid in self.worker_pids()
        ]

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        conn = Connection(self.port, timeout=5)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerError(f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}")
                try:
                    if (
                        conn.request("GET", "/readyz").status == 200
                        and len(self.worker_pids()) == self.workers
                    ):
                        return
                except OSError:
                    conn.close()
                time.sleep(0.2)
        finally:
            conn.close()
        raise ServerError(f"{self.name} not ready after {READY_TIMEOUT_SECONDS:.0f} s:\n{self.log_tail()}")

    def terminate(self) -> None:
        """Ask gunicorn to stop its workers (see :func:`stop_servers`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # quick stop: no request is in flight any more

    def wait_stopped(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # leftovers of our own group only
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def stop_servers(servers: list[Server]) -> None:
    """All at once: SIGINT to every server, then wait (SIGKILL of the group after a timeout)."""
    for server in servers:
        server.terminate()
    for server in servers:
        server.wait_stopped()


def start_server(
    dep: Deployment,
    name: str,
    service: ServiceName,
    *,
    crypto_backend: str = "inprocess",
    workers: int = 1,
    threads: int = 4,
    cpus: str | None = None,
    env: dict[str, str] | None = None,
) -> Server:
    """Start (without waiting for readiness) one service under gunicorn."""
    port = free_port()
    log_path = dep.root / f"{name}.log"
    command = [
        *taskset(cpus),
        sys.executable,
        "-m",
        "educonnect_bridge",  # = the educonnect-bridge console script
        "serve",
        service,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=dep.env(crypto_backend) | (env or {}),
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, service, crypto_backend, workers, cpus, port, process, log_path)


def _cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after "(comm)": state is field 3, utime..cstime are fields 14-17 (proc(5)).
    fields = stat.rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / _CLOCK_TICKS


def _status_kib(pid: int, key: str) -> int:
    return _field_kib(Path(f"/proc/{pid}/status"), key)


def _rollup_kib(pid: int, key: str) -> int:
    return _field_kib(Path(f"/proc/{pid}/smaps_rollup"), key)


def _field_kib(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(":")
            if name == key:
                return int(value.split()[0])
    except (OSError, ValueError):
        pass
    return 0
