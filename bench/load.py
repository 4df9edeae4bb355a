"""The load process: replays prepared operations against one service and reports timings as JSON.

Run by ``python -m bench`` as a separate process (pinned with ``taskset`` to the core the
server does not use), never imported by the services::

    python -m bench.load http SPEC.json     # lanes of operations, see LoadSpec
    python -m bench.load argon2 SECONDS N   # bare argon2id verification, same parameters as the IdP

An operation is one or more HTTP requests to one service whose replies are checked (status,
and a substring of the Location or of the body), or a flow across the services
(:mod:`bench.flows`); its latency is from the first request sent to the last reply read, the
connection set-up included. Each lane is one client (one cookie) running its operations one
after the other, so two requests of the same browser session never overlap. Every run stops at
its operation count or its time limit, whichever comes first.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.flows import FLOWS, FlowBrowser, FlowFailed
from bench.loopback_http import Reply, request_once

MAX_ERROR_SAMPLES = 3
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Step:
    method: str
    path: str
    status: int
    expect: str  # in the Location header of a redirect, in the body otherwise
    body: str | None = None


@dataclass(frozen=True)
class Operation:
    """Fixed requests to one service (``steps``), or a flow of :mod:`bench.flows` across the
    services (``flow`` with its ``params``) played by a :class:`bench.flows.FlowBrowser`."""

    steps: tuple[Step, ...] = ()
    cookie: str | None = None
    flow: str | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadSpec:
    """``port``: the service of the steps; ``hosts``: public origin → port, for the flows.

    Each request of an operation opens its own connection, as a reverse proxy in front of
    gunicorn does by default (nginx speaks HTTP/1.0 to its upstream, one connection per
    request): gunicorn's workers then share the load, where a few long-lived connections would
    each stay with the worker that accepted them.
    """

    port: int
    time_limit: float
    lanes: list[list[Operation]]
    hosts: dict[str, int] = field(default_factory=dict)

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> LoadSpec:
        raw = json.loads(path.read_text())
        lanes = [
            [
                Operation(
                    tuple(Step(**s) for s in op["steps"]), op["cookie"], op.get("flow"), op.get("params", {})
                )
                for op in lane
            ]
            for lane in raw["lanes"]
        ]
        return cls(port=raw["port"], time_limit=raw["time_limit"], lanes=lanes, hosts=raw.get("hosts", {}))


@dataclass
class RunResult:
    """What one load run measured; ``wall`` runs from the common start to the last reply."""

    completed: int = 0
    errors: int = 0
    wall: float = 0.0
    cpu: float = 0.0  # CPU time of the load process itself
    latencies: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    # Busy seconds of each CPU of the machine over the timed window, whatever ran there.
    cpu_busy: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> RunResult:
        return cls(**json.loads(text))


class CheckFailed(Exception):
    pass


def check(reply: Reply, step: Step) -> None:
    if reply.status != step.status:
        raise CheckFailed(f"{step.method} {step.path[:60]}: HTTP {reply.status}, expected {step.status}")
    haystack = reply.location if 300 <= reply.status < 400 else reply.body.decode("utf-8", "replace")
    if step.expect not in haystack:
        raise CheckFailed(f"{step.method} {step.path[:60]}: {step.expect!r} not in reply")


@dataclass
class _Lane:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    last_reply_at: float = 0.0


def _run_lane(
    spec: LoadSpec, ops: list[Operation], start: threading.Barrier, clock: dict[str, float]
) -> _Lane:
    lane = _Lane()
    start.wait()
    deadline = clock["deadline"]
    for op in ops:
        began = time.perf_counter()
        if began >= deadline:
            break
        try:
            _play(spec, op)
        except (CheckFailed, FlowFailed, OSError, http.client.HTTPException) as exc:
            lane.errors.append(f"{type(exc).__name__}: {exc}")
            continue
        lane.last_reply_at = time.perf_counter()
        lane.latencies.append(lane.last_reply_at - began)
    return lane


def _play(spec: LoadSpec, op: Operation) -> None:
    if op.flow is not None:
        browser = FlowBrowser(spec.hosts)
        try:
            FLOWS[op.flow](browser, op.params)
        finally:
            browser.close()
        return
    for step in op.steps:
        body = step.body.encode() if step.body is not None else None
        check(request_once(spec.port, step.method, step.path, body, op.cookie), step)


def cpu_busy_seconds() -> dict[str, float]:
    """Busy time of each CPU since boot (proc(5): user+nice+system+irq+softirq+steal)."""
    busy = {}
    with open("/proc/stat") as fh:
        for line in fh:
            name, *ticks = line.split()
            if name.startswith("cpu") and name != "cpu":
                user, nice, system, _idle, _iowait, irq, softirq, steal = (int(t) for t in ticks[:8])
                busy[name[3:]] = (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS
    return busy


def run_http(spec: LoadSpec) -> RunResult:
    clock: dict[str, float] = {}
    busy_before: dict[str, float] = {}

    def started() -> None:
        busy_before.update(cpu_busy_seconds())
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + spec.time_limit

    barrier = threading.Barrier(len(spec.lanes), action=started)
    lanes: list[_Lane] = [_Lane() for _ in spec.lanes]

    def work(index: int) -> None:
        lanes[index] = _run_lane(spec, spec.lanes[index], barrier, clock)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(spec.lanes))]
    cpu_before = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    busy_after = cpu_busy_seconds()
    end = max((lane.last_reply_at for lane in lanes), default=0.0)
    errors = [e for lane in lanes for e in lane.errors]
    latencies = [x for lane in lanes for x in lane.latencies]
    return RunResult(
        completed=len(latencies),
        errors=len(errors),
        wall=max(end - clock.get("start", end), 0.0),
        cpu=time.process_time() - cpu_before,
        latencies=latencies,
        error_samples=errors[:MAX_ERROR_SAMPLES],
        cpu_busy={cpu: busy_after[cpu] - busy_before.get(cpu, busy_after[cpu]) for cpu in busy_after},
    )


def run_bare_argon2(seconds: float, max_ops: int) -> RunResult:
    """argon2id verifications in a loop with the IdP's own hasher (same memory and time cost)."""
    from idp.domain.passwords import HASHER

    password = "Ecole-2026!"  # noqa: S105 - hashed and verified here only
    password_hash = HASHER.hash(password)
    latencies: list[float] = []
    busy_before = cpu_busy_seconds()
    cpu_before = time.process_time()
    start = time.perf_counter()
    while len(latencies) < max_ops and time.perf_counter() - start < seconds:
        began = time.perf_counter()
        HASHER.verify(password_hash, password)
        latencies.append(time.perf_counter() - began)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_before
    busy_after = cpu_busy_seconds()
    return RunResult(
        completed=len(latencies),
        wall=wall,
        cpu=cpu,
        latencies=latencies,
        cpu_busy={c: busy_after[c] - busy_before.get(c, busy_after[c]) for c in busy_after},
    )


def main(argv: list[str]) -> int:
    result: Any
    if len(argv) == 2 and argv[0] == "http":
        result = run_http(LoadSpec.load(Path(argv[1])))
    elif len(argv) == 3 and argv[0] == "argon2":
        result = run_bare_argon2(float(argv[1]), int(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
