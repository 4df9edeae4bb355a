"""The benchmark's moving parts in one place: the plan (counts, limits, CPU placement), the
servers of the run, the untimed preparation clients and the timed load runs.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bench.deployment import Deployment, config_dir_for
from bench.load import LoadSpec, Operation, RunResult
from bench.loopback_http import Connection
from bench.measurement import Measurement, other_cpu
from bench.servers import Server, start_server, stop_servers, taskset
from federation.settings import PROJECT_ROOT, ServiceName

T = TypeVar("T")
R = TypeVar("R")
PREPARATION_THREADS = 4
LOAD_PROCESS_GRACE_SECONDS = 60.0  # beyond the time limit: start-up and reading the spec


class BenchError(Exception):
    pass


class MeasuredServer(Protocol):
    """What a timed run needs of a server: a gunicorn :class:`Server`, or a peer's stack."""

    name: str
    port: int
    cpus: str | None
    workers: int

    def cpu_seconds(self) -> float: ...

    def worker_cpu_seconds(self) -> dict[int, float]: ...


@dataclass(frozen=True)
class Plan:
    """Counts, time limit and CPU placement of one run (``--quick`` scales the counts down)."""

    scale: float = 1.0
    time_limit: float = 20.0
    lanes_per_worker: int = 8
    warmup_ops_per_lane: int = 3
    server_cpus: str = "0"  # the per-core runs: server on one core...
    load_cpus: str = "1"  # ...load generator on the other
    all_cpus: str = "0,1"
    # (o) overload: seconds of open-loop load, offered load in multiples of the capacity, and
    # the capacity (SSO/s, logins/s of 2 workers) when given instead of measured.
    overload_seconds: float = 60.0
    overload_factor: float = 2.0
    capacity: tuple[float, float] | None = None
    # haproxy.cfg variables set for (o) (SERVER_MAXCONN, QUEUE_LIMIT, QUEUE_LIMIT_ARGON2, …)
    proxy_settings: tuple[tuple[str, str], ...] = ()

    def count(self, full: int) -> int:
        return max(int(full * self.scale), 4)


@dataclass(frozen=True)
class ServerSpec:
    service: ServiceName
    crypto_backend: str = "inprocess"
    workers: int = 1
    threads: int = 4  # gunicorn gthread threads per worker (the `serve` default)
    all_cpus: bool = False  # False: pinned to plan.server_cpus
    behind_proxy: bool = False  # EDUCONNECT_TRUSTED_PROXIES=1: admission control applies
    config_variant: str | None = None  # config-<variant>/ of the deployment instead of config/


class Bench:
    """Shared by the scenarios: servers by name (started once), preparation and timed runs."""

    def __init__(self, dep: Deployment, plan: Plan, stack: ExitStack) -> None:
        self.dep, self.plan = dep, plan
        self.servers: dict[str, Server] = {}
        self._spec_count = 0
        stack.callback(lambda: stop_servers(list(self.servers.values())))

    def start(self, specs: dict[str, ServerSpec]) -> None:
        """Start the servers not running yet, all at once, then wait until each is ready."""
        started = []
        for name, spec in specs.items():
            if name in self.servers:
                continue
            cpus = self.plan.all_cpus if spec.all_cpus else self.plan.server_cpus
            env = {"EDUCONNECT_TRUSTED_PROXIES": "1"} if spec.behind_proxy else {}
            if spec.config_variant:
                env["EDUCONNECT_CONFIG_DIR"] = str(config_dir_for(self.dep.root, spec.config_variant))
            server = start_server(
                self.dep,
                name,
                spec.service,
                crypto_backend=spec.crypto_backend,
                workers=spec.workers,
                threads=spec.threads,
                cpus=cpus,
                env=env,
            )
            self.servers[name] = server
            started.append(server)
        for server in started:
            server.wait_ready()

    def prepare(self, step: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """Run an untimed preparation step over ``items`` with a few threads."""
        with ThreadPoolExecutor(PREPARATION_THREADS) as pool:
            return list(pool.map(step, items))

    def measure(
        self,
        label: str,
        server: MeasuredServer | Sequence[MeasuredServer],
        lanes: list[list[Operation]],
        warmup: list[list[Operation]] | None = None,
        hosts: dict[str, int] | None = None,
    ) -> Measurement:
        """A timed load run (after an untimed warm-up run) from a separate load process.

        ``server`` may be several servers (a flow across services, ``hosts`` mapping their public
        origins to ports): their CPU times add up, on the CPUs they share.
        """
        servers = list(server) if isinstance(server, Sequence) else [server]
        first = servers[0]
        pinned = all(s.cpus == self.plan.server_cpus for s in servers)
        load_cpus = self.plan.load_cpus if pinned else None
        if warmup:
            self._drive(first, warmup, load_cpus, hosts)
        cpu_before = [s.cpu_seconds() for s in servers]
        workers_before = first.worker_cpu_seconds()
        run = self._drive(first, lanes, load_cpus, hosts)
        server_cpu = sum(s.cpu_seconds() - before for s, before in zip(servers, cpu_before, strict=True))
        worker_cpu = [cpu - workers_before.get(pid, 0.0) for pid, cpu in first.worker_cpu_seconds().items()]
        server_cpus = first.cpus or self.plan.all_cpus
        measured_cpus = f"{server_cpus},{load_cpus}" if load_cpus else self.plan.all_cpus
        return Measurement(
            label=label,
            workers=sum(s.workers for s in servers),
            server_cpus=server_cpus,
            load_cpus=load_cpus or "any",
            lanes=len(lanes),
            run=run,
            server_cpu_seconds=server_cpu,
            other_cpu=other_cpu(run, measured_cpus, server_cpu + run.cpu),
            worker_cpu_split=tuple(sorted((c / sum(worker_cpu) for c in worker_cpu), reverse=True))
            if len(servers) == 1 and sum(worker_cpu) > 0
            else (),
        )

    def _drive(
        self,
        server: MeasuredServer,
        lanes: list[list[Operation]],
        load_cpus: str | None,
        hosts: dict[str, int] | None = None,
    ) -> RunResult:
        self._spec_count += 1
        spec_path = self.dep.root / f"load-{self._spec_count}.json"
        spec = LoadSpec(port=server.port, time_limit=self.plan.time_limit, lanes=lanes, hosts=hosts or {})
        spec.dump(spec_path)
        command = [*taskset(load_cpus), sys.executable, "-m", "bench.load", "http", str(spec_path)]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                cwd=PROJECT_ROOT,
                timeout=self.plan.time_limit + LOAD_PROCESS_GRACE_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"load process against {server.name} did not finish in time") from exc
        finally:
            spec_path.unlink(missing_ok=True)
        if done.returncode != 0:
            raise BenchError(f"load process failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
        return RunResult.from_json(done.stdout.decode())

    def bare_argon2(self, seconds: float, max_ops: int) -> RunResult:
        """argon2id verifications in a process pinned where the server runs, nothing else timed."""
        command = [*taskset(self.plan.server_cpus), sys.executable, "-m", "bench.load", "argon2"]
        done = subprocess.run(
            [*command, str(seconds), str(max_ops)],
            capture_output=True,
            cwd=PROJECT_ROOT,
            timeout=seconds + LOAD_PROCESS_GRACE_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"argon2 process failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
        return RunResult.from_json(done.stdout.decode())


class Clients:
    """Kept-alive connections of the preparation steps, one set per thread, plus per-thread state
    (e.g. one IdP session per thread, so that two threads never share a pending request)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def to(self, port: int) -> Connection:
        conns: dict[int, Connection] = self._local.__dict__.setdefault("conns", {})
        if port not in conns:
            conns[port] = Connection(port)
        return conns[port]

    def remember(self, key: str, make: Callable[[], str]) -> str:
        values: dict[str, str] = self._local.__dict__.setdefault("values", {})
        if key not in values:
            values[key] = make()
        return values[key]


def in_lanes(items: Sequence[T], lanes: int) -> list[list[T]]:
    """Deal ``items`` into ``lanes`` lists, round robin."""
    return [list(items[i::lanes]) for i in range(lanes)]
