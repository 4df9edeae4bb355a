"""Throw-away ``redis-server`` and ``redis-sentinel`` processes on free loopback ports.

Like tests/ldap_server.py for slapd: each server works in a folder of the test (its AOF files,
the sentinels' rewritten configuration), so a test may kill one (SIGKILL) and start it again on
the same port and folder, as systemd or Docker's ``restart: unless-stopped`` would. Debian
packages: ``redis-server`` and ``redis-sentinel``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from tests.ldap_server import free_port

# What docker-compose.yml gives its Redis (and the README asks of any production Redis).
AOF_OPTIONS = ("--appendonly", "yes", "--appendfsync", "everysec", "--save", "")


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError(f"{name} not found: install the Debian packages redis-server and redis-sentinel")
    return found


@dataclass
class RedisProcess:
    workdir: Path
    port: int
    command: list[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, retry=Retry(NoBackoff(), 0))

    def start(self, timeout: float = 15) -> None:
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(self.command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[0]} exited:\n{self.log()}")
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.command[0]} did not answer within {timeout}s:\n{self.log()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last write; the data that survives is what was on disk."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        path = self.workdir / "redis.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def redis_server(workdir: Path, *options: str, port: int | None = None) -> RedisProcess:
    """A redis-server (not started) listening on 127.0.0.1 only, its files in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    command = [_tool("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
    return RedisProcess(workdir, port, [*command, "--protected-mode", "no", *options])


def redis_sentinel(workdir: Path, service: str, master_port: int, quorum: int) -> RedisProcess:
    """A sentinel watching ``service`` (the master on ``master_port``): down after one second
    without an answer, a failover retried after two (test timings; production keeps defaults)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "sentinel.conf"  # the sentinel rewrites it: its own file, writable
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {workdir}\n"
        f"sentinel monitor {service} 127.0.0.1 {master_port} {quorum}\n"
        f"sentinel down-after-milliseconds {service} 1000\n"
        f"sentinel failover-timeout {service} 2000\n"
    )
    return RedisProcess(workdir, port, [_tool("redis-sentinel"), str(conf)])


@dataclass
class SentinelGroup:
    service: str
    master: RedisProcess
    replica: RedisProcess
    sentinels: list[RedisProcess]

    @property
    def addresses(self) -> str:
        """``REDIS_SENTINELS`` for these sentinels."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def master_port_named(self) -> int:
        """The master's port as the first sentinel that answers names it now."""
        for sentinel in self.sentinels:
            try:
                _host, port = sentinel.client().sentinel_get_master_addr_by_name(self.service)
                return int(port)
            except (redis.RedisError, TypeError):
                continue
        raise AssertionError("no sentinel answered")

    def wait_until_master_is(self, server: RedisProcess, timeout: float = 60) -> None:
        """Until a sentinel vouches for ``server`` as the master the way the services' redis-py
        asks (``SENTINEL MASTERS``: flagged master, neither subjectively nor objectively down).
        ``get-master-addr-by-name`` names the promoted replica earlier, while the failover is
        still in progress and ``SENTINEL MASTERS`` still shows the old master down: redis-py
        then finds no master, and a request in that window is (rightly) refused."""
        asks = Sentinel(
            [("127.0.0.1", s.port) for s in self.sentinels], sentinel_kwargs={"socket_timeout": 1}
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if int(asks.discover_master(self.service)[1]) == server.port:
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(s.log() for s in self.sentinels)
                raise AssertionError(f"no sentinel vouches for port {server.port} as master:\n{logs}")
            time.sleep(0.1)

    def wait_until_replicated(self) -> None:
        """``WAIT 1``: every write so far reached the replica (replication is asynchronous)."""
        assert self.master.client().execute_command("WAIT", 1, 10_000) == 1


@contextmanager
def sentinel_group(workdir: Path, service: str = "educonnect", sentinels: int = 3) -> Iterator[SentinelGroup]:
    """A master, one replica that may not be promoted yet (``replica-priority 0``: the test says
    when, see :func:`allow_promotion`), and ``sentinels`` sentinels with a majority quorum."""
    with ExitStack() as stack:
        master = redis_server(workdir / "master")
        master.start()
        stack.callback(master.stop)
        replica = redis_server(
            workdir / "replica", "--replicaof", "127.0.0.1", str(master.port), "--replica-priority", "0"
        )
        replica.start()
        stack.callback(replica.stop)
        deadline = time.monotonic() + 30
        while replica.client().info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise AssertionError(f"replica never synced:\n{replica.log()}")
            time.sleep(0.1)
        group = SentinelGroup(service, master, replica, [])
        for index in range(sentinels):
            sentinel = redis_sentinel(workdir / f"sentinel{index}", service, master.port, sentinels // 2 + 1)
            sentinel.start()
            stack.callback(sentinel.stop)
            group.sentinels.append(sentinel)
        deadline = time.monotonic() + 30
        while not all(
            s.client().sentinel_master(service).get("num-other-sentinels") == sentinels - 1
            and s.client().sentinel_master(service).get("num-slaves") == 1
            for s in group.sentinels
        ):
            if time.monotonic() > deadline:
                raise AssertionError("the sentinels never found each other and the replica")
            time.sleep(0.2)
        yield group


def allow_promotion(replica: RedisProcess) -> None:
    replica.client().config_set("replica-priority", 100)
